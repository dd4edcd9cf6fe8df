"""Alerts: budget thresholds crossed, soft budgets reached, budgets a forecast says will be crossed within
their period, and failed data-quality checks, POSTed as JSON (Slack-compatible `text` plus structured
fields) to every URL of `LLMUSAGE_ALERT_WEBHOOKS`.

- `policy`: the configuration (webhooks, thresholds, retries); no webhook, no alert.
- `crossings`: which alerts a reconciliation raises (and a failed quality check: `quality_alert`);
  `forecast`: which a team's month-end forecast raises.
- `message`: the JSON each alert is sent as.
- `store`: the alert log `llmusage.alerts`, one row per kind, entity, threshold and period, so each is
  sent once; recorded in the write-back's transaction (`reconcile.apply`), so never lost.
- `delivery`: POSTs with retries and backoff, after commit, bounded in time, never raising; what a receiver
  did not take stays pending for a later run.
- `dispatch`: what `llmusage reconcile --apply` and the Dagster budgets job both call after the write-back.
"""
