"""The migration runner: applies `sql/migrations/NNNN_name.sql` in order, once each, recorded with a checksum.

Every migration file starts with a header line naming the flavours it belongs to:

- `-- flavour: llmusage` — creates or alters `LiteLLM_*` tables: only for an llmusage (or empty) database;
- `-- flavour: both` — llmusage's own objects (the schema `llmusage`): for every database.

The runner detects the flavour (`sources.detect`) first. On an empty or llmusage database every migration
applies. On a LiteLLM database, LiteLLM owns its tables: a migration of the llmusage flavour only is not
run but recorded as `skipped` (so it is never pending there), and the both-flavour ones apply.

Each migration runs in its own transaction together with its record, so a failing one leaves nothing of
itself behind. The schema `llmusage` and the ledger (`pg.ledger`) are created in the transaction of the
first migration, before its SQL (every migration may rely on the schema), so a database whose first
migration fails is left as it was; skips are recorded in the transaction of the next applied migration (or
alone at the end). Before applying anything, every recorded migration's checksum (of the text below the
header line) is compared with its file: an edited migration stops the run (the fix is a new migration,
never an edit). A session-level advisory lock makes concurrent runs wait for each other instead of racing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from llmusage import sqlfiles
from llmusage.config import sql_dir
from llmusage.errors import LlmusageError
from llmusage.pg import ledger
from llmusage.pg.ledger import Applied
from llmusage.sources.detect import Detected, Flavour, detect

LLMUSAGE_ONLY = "llmusage"
BOTH = "both"
_LOCK_KEY = 0x6C6C6D75  # "llmu"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_HEADER = re.compile(rf"^-- flavour: ({LLMUSAGE_ONLY}|{BOTH})[ \t]*\r?\n")
SKIP_REASON = "llmusage flavour only: LiteLLM owns its tables"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str
    """The SQL below the header line (what the checksum covers and what runs)."""
    flavour: str = BOTH
    """`llmusage` (llmusage flavour only) or `both`, from the header line."""

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def applies_to(self, flavour: Flavour) -> bool:
        return self.flavour == BOTH or flavour is not Flavour.LITELLM


@dataclass(frozen=True)
class Run:
    """What one `migrate` did, for `llmusage db migrate` to say."""

    detected: Detected
    applied: list[Migration] = field(default_factory=list)
    skipped: list[Migration] = field(default_factory=list)
    created_schema: bool = False
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.detected.flavour is Flavour.LITELLM:
            where = f"LiteLLM database (latest migration {self.detected.litellm_migration or 'unknown'})"
        else:
            where = f"{self.detected.flavour.value} database"
        done = [f"created schema {ledger.SCHEMA}"] if self.created_schema else []
        done.extend(self.notes)
        if self.applied:
            done.append("applied " + ", ".join(m.path.name for m in self.applied))
        if self.skipped:
            done.append("skipped " + ", ".join(m.path.name for m in self.skipped) + f" ({SKIP_REASON})")
        if not self.applied and not self.skipped:
            done.append("schema is current; nothing to apply")
        return f"{where}: " + "; ".join(done)


def default_dir() -> Path:
    return sql_dir() / "migrations"


def parse(path: Path, version: int, name: str) -> Migration:
    """A migration file: its header line (required) names its flavours; the rest is its SQL."""
    text = path.read_text()
    header = _HEADER.match(text)
    if not header:
        raise LlmusageError(
            f"migration file {path.name} does not start with a flavour header: "
            f"`-- flavour: {LLMUSAGE_ONLY}` (creates or alters LiteLLM_* tables) or `-- flavour: {BOTH}`"
        )
    return Migration(version, name, path, text[header.end() :], header.group(1))


def discover(directory: Path | None = None) -> list[Migration]:
    """The migrations in a directory, ordered by version; a badly named, headerless or duplicate file is an error."""
    directory = directory or default_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise LlmusageError(f"migration file {path.name} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise LlmusageError(
                f"two migrations share version {version:04d}: {found[version].path.name}, {path.name}"
            )
        found[version] = parse(path, version, match.group(2))
    return [found[v] for v in sorted(found)]


def applied(conn: psycopg.Connection) -> list[Applied]:
    """The migrations recorded in the database, applied or skipped (empty when there is no ledger yet)."""
    return ledger.applied(conn)


def pending(conn: psycopg.Connection, migrations: list[Migration]) -> list[Migration]:
    """The migrations not recorded yet, after checking that none of the recorded ones was edited."""
    done = {a.version: a for a in applied(conn)}
    files = {m.version: m for m in migrations}
    for version, record in done.items():
        migration = files.get(version)
        if migration is None:
            raise LlmusageError(
                f"migration {version:04d}_{record.name} is recorded in the database but its file is missing"
            )
        if migration.checksum != record.checksum:
            raise LlmusageError(
                f"migration {migration.path.name} was edited after it was applied "
                f"(checksum {record.checksum[:12]} recorded, {migration.checksum[:12]} on disk); "
                "add a new migration instead"
            )
    return [m for m in migrations if m.version not in done]


def run(conn: psycopg.Connection, directory: Path | None = None) -> Run:
    """Apply the pending migrations that fit the database's flavour, record the others as skipped.

    `conn` must be in autocommit mode (the runner opens one transaction per migration).
    """
    if not conn.autocommit:
        raise ValueError("migrate() needs an autocommit connection")
    migrations = discover(directory)
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        detected = detect(conn)
        had_schema = ledger.locate(conn).schema
        moved = ledger.move_old(conn)
        done: list[Migration] = []
        skipped: list[Migration] = []
        waiting: list[Migration] = []  # skips not recorded yet: they go with the next applied migration
        for migration in pending(conn, migrations):
            if not migration.applies_to(detected.flavour):
                waiting.append(migration)
                continue
            _apply(conn, migration, waiting)
            skipped, waiting = [*skipped, *waiting], []
            done.append(migration)
        if waiting:
            with conn.transaction():
                ledger.ensure(conn)
                _record_skips(conn, waiting)
            skipped.extend(waiting)
        created = not had_schema and ledger.locate(conn).schema
        return Run(detected, done, skipped, created, [moved] if moved else [])
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _apply(conn: psycopg.Connection, migration: Migration, skips: list[Migration]) -> None:
    try:
        with conn.transaction():
            ledger.ensure(conn)
            _record_skips(conn, skips)
            conn.execute(sqlfiles.trusted(migration.sql))
            ledger.record(conn, migration.version, migration.name, migration.checksum, ledger.APPLIED)
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LlmusageError(f"migration {migration.path.name} failed and was rolled back: {detail}") from exc


def _record_skips(conn: psycopg.Connection, skips: list[Migration]) -> None:
    for m in skips:
        ledger.record(conn, m.version, m.name, m.checksum, ledger.SKIPPED)


def migrate(conn: psycopg.Connection, directory: Path | None = None) -> list[Migration]:
    """Apply pending migrations in order, each in its own transaction; return those applied (see `run`)."""
    return run(conn, directory).applied


def check_current(conn: psycopg.Connection, directory: Path | None = None) -> None:
    """Raise a clear error unless every migration is recorded (for commands that need the schema)."""
    todo = pending(conn, discover(directory))
    if todo:
        names = ", ".join(m.path.name for m in todo)
        raise LlmusageError(
            f"the database schema is not current (pending: {names}); run `llmusage db migrate`"
        )
