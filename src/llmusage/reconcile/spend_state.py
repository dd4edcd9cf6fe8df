"""A small fingerprint of the spend in PostgreSQL, for sensors: the newest log and how many entities are at
or over the warning threshold. Cheap: one index lookup and four small tables."""

from __future__ import annotations

from llmusage.pg.connect import connect
from llmusage.sources.spend_logs import spend_log_source


def spend_state(url: str, threshold: float = 0.8) -> dict[str, object]:
    with connect(url) as conn:
        source = spend_log_source(conn)
        row = conn.execute(source.query("spend_state"), {"threshold": threshold}).fetchone()
    newest, at_threshold = row if row else (None, 0)
    return {"newest_log": newest.isoformat() if newest else None, "at_threshold": int(at_threshold)}
