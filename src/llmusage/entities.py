"""The entity kinds that carry spend and budgets, in one place: their tables, columns and write-back rules.

Everything that names a kind (the proxy's admission, reconciliation, write-back, reports, the status
table) takes it from here. A kind is:

| kind           | table                       | id column         | metadata column | `blocked` honoured | a log is its own when |
| -------------- | --------------------------- | ----------------- | --------------- | ------------------ | ---------------------------------- |
| `key`          | `LiteLLM_VerificationToken` | `token`           | `metadata`      | yes                | `api_key` is the key's token       |
| `user`         | `LiteLLM_UserTable`         | `user_id`         | `user_metadata` | no (marker)        | `"user"` is the user's id          |
| `team`         | `LiteLLM_TeamTable`         | `team_id`         | `metadata`      | yes                | `team_id` is the team's id         |
| `organization` | `LiteLLM_OrganizationTable` | `organization_id` | `metadata`      | no (marker)        | its team's organization, else its user's |

Write-back marks an entity llmusage blocked with `BLOCK_MARKER` in its metadata column (with the reason,
ledger and budget); where the gateway honours a `blocked` column, llmusage also sets it. A block without
the marker is a person's and is never lifted by llmusage. Users and organizations have no `blocked`
column: the llmusage proxy refuses them on the marker alone.

The organization rule: a log's organization is its team's organization, else its user's (llmusage flavour;
a LiteLLM log carries its own `organization_id`). The normalized spend log applies it once, in each
flavour's query (`sql/sources/<flavour>/spend_logs_range.sql`), which the lake and reconciliation's tail
both read; only the llmusage proxy's window spend (`sql/proxy/window_spend_organization.sql`) and its
spend write spell it again, in their own SQL.

A LiteLLM database budgets three more kinds (`LITELLM_BUDGET_ONLY`): end users
(`LiteLLM_EndUserTable`, a log's `end_user`), tags (`LiteLLM_TagTable`, each distinct tag of a log's
`request_tags`) and team memberships (`LiteLLM_TeamMembership`, a log's `user` in its `team_id`), each
through its `LiteLLM_BudgetTable` row. Reconciliation reports them; llmusage never writes them back (the
gateway's own check refuses them; llmusage blocks keys and teams only).

Names that vary per kind are composed into SQL with `psycopg.sql.Identifier` (see `identifier`), never
formatted in as text: `compose` fills a per-kind template (one SQL file for all four kinds, such as
`sql/reconcile/postgres/flag.sql`) with the kind's table and columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import LiteralString

from psycopg import sql

BLOCK_MARKER = "llmusage_block"
"""The metadata key of a block llmusage set (its value: reason, ledger and budget at the time)."""


class Kind(StrEnum):
    KEY = "key"
    USER = "user"
    TEAM = "team"
    ORGANIZATION = "organization"


@dataclass(frozen=True)
class EntityKind:
    """One kind of entity: where it lives in the operational database and how spend is attributed to it."""

    kind: Kind
    table: str
    id_column: str
    metadata_column: str
    name_columns: tuple[str, ...]
    """Columns that name the entity for people, in order of preference (the id when all are NULL)."""
    honours_blocked: bool
    """The gateway refuses the entity when its `blocked` column is true (else only the marker applies)."""
    log_column: str | None
    """The spend log column holding the entity's id; None for organizations (see the organization rule in the module docstring)."""
    organization_column: str | None = None
    """The column naming the entity's organization, through which a log is attributed to one (teams, then
    users: the organization rule in the module docstring); None for kinds that attribute no organization."""

    @property
    def label(self) -> str:
        return self.kind.value

    def identifier(self, column: str | None = None) -> sql.Identifier:
        """The table (no argument) or one of its columns, quoted for composing SQL."""
        return sql.Identifier(self.table if column is None else column)


KEY = EntityKind(
    Kind.KEY,
    "LiteLLM_VerificationToken",
    "token",
    "metadata",
    ("key_alias", "key_name"),
    honours_blocked=True,
    log_column="api_key",
)
USER = EntityKind(
    Kind.USER,
    "LiteLLM_UserTable",
    "user_id",
    "user_metadata",
    ("user_email",),
    honours_blocked=False,
    log_column="user",
    organization_column="organization_id",
)
TEAM = EntityKind(
    Kind.TEAM,
    "LiteLLM_TeamTable",
    "team_id",
    "metadata",
    ("team_alias",),
    honours_blocked=True,
    log_column="team_id",
    organization_column="organization_id",
)
ORGANIZATION = EntityKind(
    Kind.ORGANIZATION,
    "LiteLLM_OrganizationTable",
    "organization_id",
    "metadata",
    ("organization_alias",),
    honours_blocked=False,
    log_column=None,
)

KINDS: tuple[EntityKind, ...] = (KEY, USER, TEAM, ORGANIZATION)
"""Every kind, in the order reports and reconciliation list them."""

LITELLM_BUDGET_ONLY: tuple[str, ...] = ("end_user", "tag", "team_member")
"""Kinds only a LiteLLM database budgets (see the module docstring): reconciled, never written back. A team
membership's id is `<user_id>:<team_id>`."""

_BY_NAME = {k.kind.value: k for k in KINDS}


def entity_kind(name: str) -> EntityKind:
    """The kind called `name` (`key`, `user`, `team`, `organization`); a ValueError for anything else."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown entity kind {name!r}; expected one of {', '.join(_BY_NAME)}") from None


def compose(template: LiteralString, kind: EntityKind) -> sql.Composed:
    """`template`, the text of a per-kind SQL file, with its placeholders filled in for `kind`:

    | placeholder      | becomes                                                                        |
    | ---------------- | ------------------------------------------------------------------------------ |
    | `{table}`        | the table                                                                      |
    | `{id}`           | the id column                                                                  |
    | `{metadata}`     | the metadata column                                                            |
    | `{name}`         | `COALESCE(<name columns>, <id column>)`: what people call the entity           |
    | `{organization}` | `organization_column`, else `NULL`                                             |
    | `{blocked}`      | `COALESCE(blocked, FALSE)` where the gateway honours `blocked`, else `FALSE`    |
    | `{block}`        | `blocked = TRUE,` where the gateway honours `blocked`, else nothing             |
    | `{unblock}`      | `blocked = FALSE,` where the gateway honours `blocked`, else nothing            |
    | `{block_marker}` | `BLOCK_MARKER` as a string literal                                              |

    Names are quoted identifiers and the marker a quoted literal; values stay bound parameters (`%(name)s`).
    A brace that SQL means literally is doubled (`'{{}}'::jsonb`)."""
    blocked = sql.Identifier("blocked")
    honoured = kind.honours_blocked
    names = [sql.Identifier(column) for column in (*kind.name_columns, kind.id_column)]
    return sql.SQL(template).format(
        table=kind.identifier(),
        id=kind.identifier(kind.id_column),
        metadata=kind.identifier(kind.metadata_column),
        name=sql.SQL("COALESCE({})").format(sql.SQL(", ").join(names)),
        organization=kind.identifier(kind.organization_column) if kind.organization_column else sql.NULL,
        blocked=sql.SQL("COALESCE({}, FALSE)").format(blocked) if honoured else sql.SQL("FALSE"),
        block=sql.SQL("{} = TRUE,").format(blocked) if honoured else sql.SQL(""),
        unblock=sql.SQL("{} = FALSE,").format(blocked) if honoured else sql.SQL(""),
        block_marker=sql.Literal(BLOCK_MARKER),
    )
