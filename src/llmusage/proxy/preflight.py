"""Before `llmusage proxy` listens: can it serve this database, and do its own queries fit the schema?

`check_database(url)` runs once per `llmusage proxy` (before any worker starts), on one connection:
- the database must be reachable (else the one line of `pg.connect.connect`);
- its flavour (`sources.detect`) must be llmusage's. On a LiteLLM database LiteLLM is the gateway and
  llmusage the analytics and control layer: the proxy refuses, saying to run extract, reconcile and reports
  against it and to point clients at LiteLLM. On an empty database it refuses, saying to run
  `llmusage db migrate`;
- every query the proxy runs (`sql/proxy/`: the key lookup, each kind's window spend, the model catalog,
  the spend write, the management queries) is planned with `EXPLAIN` (never executed; parameters NULL), so
  a schema that does not fit them (a hand-edited table, pending migrations) is one clear failure at start,
  naming the query and PostgreSQL's message and SQLSTATE, instead of 503s on every request later.
Each refusal is a `LlmusageError`: one line on stderr and a non-zero exit from the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import LiteralString

import psycopg
from psycopg import sql

from llmusage import sqlfiles
from llmusage.config import sql_dir
from llmusage.entities import KINDS
from llmusage.errors import LlmusageError
from llmusage.pg import migrations
from llmusage.pg.connect import connect, redact
from llmusage.proxy.auth import window_spend_query
from llmusage.proxy.dbhealth import describe
from llmusage.sources.detect import Detected, Flavour, detect

PARAM = re.compile(r"%\((\w+)\)s")


def check_database(url: str) -> Detected:
    """The database's flavour, if the proxy can serve it; else a LlmusageError saying why and what to do."""
    where = redact(url)
    with connect(url, autocommit=True) as conn:
        found = detect(conn)
        if found.flavour is Flavour.LITELLM:
            raise LlmusageError(
                f"{where} is a LiteLLM database (latest migration {found.litellm_migration or 'unknown'}): "
                "LiteLLM is the gateway here; run llmusage's extract/reconcile/reports against it, and point "
                "clients at LiteLLM (llmusage proxy serves llmusage databases only)"
            )
        if found.flavour is Flavour.EMPTY:
            raise LlmusageError(
                f"{where} has no llmusage schema yet (no spend log table): "
                "run `llmusage db migrate` first, then `llmusage proxy`"
            )
        for name, query, text in proxy_queries():
            params = dict.fromkeys(PARAM.findall(text))
            try:
                conn.execute(sql.SQL("EXPLAIN ") + query, params)
            except psycopg.Error as exc:
                raise LlmusageError(
                    f"the proxy's query {name} does not fit the database at {where}: {describe(exc)}"
                    f"; {_hint(conn)}"
                ) from exc
    return found


def proxy_queries() -> Iterator[tuple[str, sql.Composable, str]]:
    """(name, query, its text) of every query the proxy runs against PostgreSQL."""
    for relative in ("proxy/principal.sql", "proxy/models.sql", "proxy/write_logs.sql"):
        yield f"sql/{relative}", sql.SQL(sqlfiles.load(relative)), sqlfiles.load(relative)
    for kind in KINDS:
        relative = "proxy/window_spend.sql" if kind.log_column else "proxy/window_spend_organization.sql"
        yield f"sql/{relative} ({kind.kind})", window_spend_query(kind), sqlfiles.load(relative)
    for path in sorted((sql_dir() / "proxy" / "management").glob("*.sql")):
        relative = path.relative_to(sql_dir()).as_posix()
        text: LiteralString = sqlfiles.load(relative)
        yield f"sql/{relative}", sql.SQL(text), text


def _hint(conn: psycopg.Connection) -> str:
    """What to do about a schema the proxy's queries do not fit."""
    try:
        todo = migrations.pending(conn, migrations.discover())
    except (LlmusageError, psycopg.Error) as exc:
        return f"check `llmusage db status` ({exc})"
    if todo:
        return f"pending migrations ({', '.join(m.path.name for m in todo)}): run `llmusage db migrate`"
    return "every migration is applied, so the schema was changed by hand: restore what `db migrate` made"
