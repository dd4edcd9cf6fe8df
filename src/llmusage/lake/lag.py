"""The late-row lag window: how long a spend log may take to commit after its `created_at`, in one place.

Rows are written with `created_at` set when a request starts, and may commit up to LAG_WINDOW later, so
the newest LAG_WINDOW of the lake is never taken as final. Every use reads it from here:
- the extract: a no-argument run re-checks the days from `watermark - LAG_WINDOW` on (`ExtractOptions.lag`,
  the default of `llmusage extract --lag-hours`);
- reconciliation: the lake is complete before its newest row minus LAG_WINDOW (the cutoff);
- chargeback: a month is closed once the lake was written LAG_WINDOW after the month ended;
- the Dagster ingest schedule re-extracts yesterday while it is less than LAG_WINDOW after midnight, and
  the freshness check allows LAG_WINDOW plus one schedule interval (`FRESHNESS_LAG` in
  `pipelines/checks.py`, the interval in `pipelines/schedules.py`).
"""

from __future__ import annotations

from datetime import timedelta

LAG_WINDOW = timedelta(hours=2)
