"""`llmusage reconcile`: ledger against recorded spend against budgets, printed, saved under `$LLMUSAGE_HOME/reconcile/`
(what the warehouse's `budget_status` shows), and written back on --apply, which also sends the alerts it
raises to `LLMUSAGE_ALERT_WEBHOOKS` (a webhook that fails is a warning on stderr, never a failed command)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from llmusage.config import Settings
from llmusage.errors import LlmusageError
from llmusage.money import usd

if TYPE_CHECKING:
    from llmusage.reconcile import Reconciliation


@click.command()
@click.option("--apply", "apply_", is_flag=True, help="Write flags, statuses and events back to PostgreSQL.")
@click.option("--repair-spend", is_flag=True, help="With --apply: set drifted spend columns to the ledger.")
@click.option(
    "--threshold", type=float, default=0.8, show_default=True, help="Utilization that is a warning."
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Table format: show entities that are ok too.")
def reconcile(apply_: bool, repair_spend: bool, threshold: float, fmt: str, show_all: bool) -> None:
    """Reconcile every key, user, team and organization against its logs and its budget."""
    from llmusage.alerts.dispatch import after_write_back
    from llmusage.alerts.policy import AlertPolicy
    from llmusage.pg.connect import resolve_url
    from llmusage.reconcile import ReconcileOptions, reconcile, write_back
    from llmusage.reconcile.compute import to_json_rows
    from llmusage.reconcile.litellm_api import CACHE_DELAY, LitellmApi
    from llmusage.reconcile.store import save
    from llmusage.sources.detect import Flavour

    if repair_spend and not apply_:
        raise LlmusageError("--repair-spend writes to PostgreSQL: give --apply with it")
    settings = Settings.from_env()
    url = resolve_url(settings)
    result = reconcile(url, settings.lake_dir, ReconcileOptions(threshold=threshold))
    litellm = result.flavour is Flavour.LITELLM
    api = None
    if litellm and settings.litellm_url and settings.litellm_master_key:
        api = LitellmApi(settings.litellm_url, settings.litellm_master_key)
    # a refused write-back (e.g. --repair-spend on a LiteLLM database) leaves nothing written, not even the verdict
    policy = AlertPolicy.from_settings(settings) if apply_ else None
    applied = (
        write_back(url, result, repair_spend=repair_spend, litellm_api=api, alerts=policy) if apply_ else None
    )
    save(result, settings.reconcile_dir)  # the verdict the warehouse's budget_status shows
    delivered = after_write_back(url, settings.lake_dir, result.entities, policy) if policy else None
    for warning in delivered.warnings if delivered else []:
        click.echo(f"llmusage: warning: {warning}", err=True)
    if applied and litellm:
        how = f"through LiteLLM's API at {settings.litellm_url}" if api else f"in the table: {CACHE_DELAY}"
        click.echo(f"LiteLLM database: keys and teams blocked and unblocked {how}", err=True)
    if fmt == "json":
        out: dict[str, object] = {
            "as_of": result.as_of.isoformat(),
            "lake_cutoff": result.cutoff.isoformat() if result.cutoff else None,
            "entities": to_json_rows(result.entities),
        }
        if applied:
            out["applied"] = {
                "flagged": applied.flagged,
                "unflagged": applied.unflagged,
                "repaired": applied.repaired,
                "events": applied.events,
            }
        if delivered:
            out["alerts"] = {
                "recorded": applied.alerts if applied else 0,
                "delivered": delivered.delivered,
                "pending": delivered.pending,
            }
        json.dump(out, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    _print_table(result, show_all)
    if applied:
        click.echo(
            f"applied: {len(applied.flagged)} flagged, {len(applied.unflagged)} unflagged, "
            f"{len(applied.repaired)} spend repaired, {applied.events} events"
        )
    if delivered:
        click.echo(f"alerts: {delivered.delivered} delivered, {delivered.pending} pending")


def _print_table(result: Reconciliation, show_all: bool) -> None:
    import polars as pl
    from rich.console import Console
    from rich.table import Table

    entities = result.entities
    shown = entities if show_all else entities.filter((pl.col("status") != "ok") | ~pl.col("drift_ok"))
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    source = (
        f"lake before {result.cutoff:%Y-%m-%d %H:%M}, PostgreSQL after"
        if result.cutoff
        else "PostgreSQL (the lake is empty)"
    )
    table = Table(title=f"budgets as of {result.as_of:%Y-%m-%d %H:%M} UTC ({source})")
    for column in (
        "type",
        "entity",
        "status",
        "ledger",
        "recorded",
        "drift",
        "budget",
        "used",
        "exceeded at",
        "top model",
    ):
        right = column in ("ledger", "recorded", "drift", "budget", "used")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for row in shown.iter_rows(named=True):
        drift = "" if row["drift_ok"] else usd(row["drift"])
        used = f"{row['utilization']:.0%}" if row["utilization"] is not None else "-"
        top = row["top_models"][0]["model"] if row["top_models"] else "-"
        exceeded = f"{row['first_exceeded_at']:%Y-%m-%d %H:%M}" if row["first_exceeded_at"] else ""
        name = row["name"] + (f" ({row['budget_duration']})" if row["budget_duration"] else "")
        table.add_row(
            row["entity_type"], name, row["status"], usd(row["ledger_spend"]), usd(row["recorded_spend"]),
            drift, usd(row["max_budget"]), used, exceeded, top,
        )  # fmt: skip
    console.print(table)
    counts = entities.group_by("status").len().sort("status")
    summary = ", ".join(f"{n} {s}" for s, n in counts.iter_rows())
    drifted = entities.filter(~pl.col("drift_ok")).height
    console.print(f"{entities.height} entities: {summary}; {drifted} with drift")
