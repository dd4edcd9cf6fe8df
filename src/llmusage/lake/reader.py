"""Reading a query as a stream of Arrow record batches through ADBC's PostgreSQL driver (binary COPY).

The low-level `adbc_driver_manager` API is used rather than its DB-API module, which imports pandas and
polars (memory every extract would hold for nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlencode

import pyarrow as pa


def adbc_uri(url: str) -> str:
    """ADBC takes a libpq URI; a key=value conninfo is turned into one."""
    if url.startswith(("postgresql://", "postgres://")):
        return url
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(url)
    user = parts.pop("user", "")
    password = parts.pop("password", "")
    dbname = parts.pop("dbname", "")
    auth = f"{quote(user)}{':' + quote(password) if password else ''}@" if user else ""
    return f"postgresql://{auth}/{quote(dbname)}?{urlencode(parts)}"


class ArrowSession:
    """One ADBC connection; `query(sql)` yields a RecordBatchReader streaming the result."""

    def __init__(self, url: str) -> None:
        import adbc_driver_manager
        import adbc_driver_postgresql

        self._db = adbc_driver_postgresql.connect(adbc_uri(url))
        self._conn = adbc_driver_manager.AdbcConnection(self._db)

    @contextmanager
    def query(self, sql: str, batch_bytes: int = 8 << 20) -> Iterator[pa.RecordBatchReader]:
        import adbc_driver_manager

        stmt = adbc_driver_manager.AdbcStatement(self._conn)
        try:
            stmt.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(batch_bytes)})
            stmt.set_sql_query(sql)
            stream, _ = stmt.execute_query()
            reader = pa.RecordBatchReader._import_from_c(stream.address)
            try:
                yield reader
            finally:
                reader.close()
        finally:
            stmt.close()

    def close(self) -> None:
        self._conn.close()
        self._db.close()

    def __enter__(self) -> ArrowSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
