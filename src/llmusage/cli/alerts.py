"""`llmusage alerts`: `test` sends a test message to every webhook of `LLMUSAGE_ALERT_WEBHOOKS` and says what
each answered (non-zero exit when any failed); `send` delivers the alerts still pending in the alert log."""

from __future__ import annotations

import sys

import click

from llmusage.config import Settings
from llmusage.errors import LlmusageError

NO_WEBHOOK = "LLMUSAGE_ALERT_WEBHOOKS is not set: no webhook to send to"


@click.group()
def alerts() -> None:
    """Budget and data-quality alerts sent to LLMUSAGE_ALERT_WEBHOOKS."""


@alerts.command("test")
def test_command() -> None:
    """Send a test message to each configured webhook and report each result."""
    from llmusage.alerts.delivery import send_test
    from llmusage.alerts.policy import AlertPolicy

    policy = AlertPolicy.from_settings(Settings.from_env())
    if policy is None:
        raise LlmusageError(NO_WEBHOOK)
    outcomes = send_test(policy.webhooks, policy.retry)
    for outcome in outcomes:
        click.echo(("ok     " if outcome.ok else "FAILED ") + outcome.describe())
    failed = sum(not o.ok for o in outcomes)
    if failed:
        click.echo(f"llmusage: error: {failed} of {len(outcomes)} webhook(s) failed", err=True)
        sys.exit(1)


@alerts.command("send")
def send_command() -> None:
    """Deliver the alerts still pending (a webhook that was down when they were raised)."""
    from llmusage.alerts.delivery import deliver_pending
    from llmusage.alerts.policy import AlertPolicy
    from llmusage.pg.connect import resolve_url

    settings = Settings.from_env()
    policy = AlertPolicy.from_settings(settings)
    if policy is None:
        raise LlmusageError(NO_WEBHOOK)
    report = deliver_pending(resolve_url(settings), policy.webhooks, policy.retry)
    for warning in report.warnings:
        click.echo(f"llmusage: warning: {warning}", err=True)
    click.echo(f"alerts: {report.delivered} delivered, {report.pending} pending")
    if report.pending:
        sys.exit(1)
