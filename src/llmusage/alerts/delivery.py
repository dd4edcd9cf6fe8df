"""Delivering alerts: a JSON POST to each webhook, retried with backoff, after the transaction that recorded
them has committed.

- A POST succeeds on a 2xx answer. A 5xx, a 429, a refused connection or a timeout is tried again
  (`Retry.tries`, waiting `backoff`, then twice as long); another 4xx is not (a wrong URL will not heal
  within the run), but the alert stays pending like any other.
- A webhook that failed every try is skipped for the rest of the run, so a receiver that is down costs
  one round of tries, not one per alert; the whole run stops after `Retry.budget` seconds. Whatever was not
  delivered stays pending (`sent_at` NULL) and is sent by a later run; a webhook that has an alert is
  remembered by a fingerprint of its URL (`sent_to`), so it does not get it twice when another was down.
- Each message's alerts are locked (`FOR UPDATE SKIP LOCKED`) while they are delivered, so two runs at
  once (the CLI and Dagster) never send the same one; a crash between the POST and the commit sends it
  again on the next run (at least once).
- Nothing here raises: problems are warnings in the report (URLs shown without path or query, which hold
  a Slack webhook's secret).
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import psycopg

from llmusage.alerts import store
from llmusage.alerts.message import combine, payload
from llmusage.alerts.policy import Retry
from llmusage.pg.connect import connect

RETRYABLE = {429}


def fingerprint(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def redact(url: str) -> str:
    """The URL without its path and query (a Slack webhook URL is its own secret)."""
    parts = urlsplit(url)
    tail = "/…" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{tail}"


@dataclass(frozen=True)
class Outcome:
    url: str  # redacted
    ok: bool
    status: int | None
    error: str | None
    tries: int

    def describe(self) -> str:
        if self.ok:
            return f"{self.url}: delivered (HTTP {self.status})"
        return f"{self.url}: failed after {self.tries} tr{'y' if self.tries == 1 else 'ies'}: {self.error}"


def post(url: str, body: dict, retry: Retry, deadline: float | None = None) -> Outcome:
    """POST `body` as JSON, with retries and backoff, never past `deadline` (a `time.monotonic()`)."""
    data = json.dumps(body, default=str).encode()
    error, status, tries = "not tried", None, 0
    for attempt in range(retry.tries):
        left = retry.timeout if deadline is None else min(retry.timeout, deadline - time.monotonic())
        if left <= 0:
            error = error if tries else "no time left in this run"
            break
        tries += 1
        request = urllib.request.Request(
            url, data=data, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "llmusage-alerts"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=left) as response:
                response.read()
                return Outcome(redact(url), True, response.status, None, tries)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
            if exc.code < 500 and exc.code not in RETRYABLE:
                break
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            status, error = None, f"unreachable ({reason})"
        if attempt + 1 < retry.tries:
            pause = retry.backoff * 2**attempt
            if deadline is not None:
                pause = min(pause, max(deadline - time.monotonic(), 0))
            time.sleep(pause)
    return Outcome(redact(url), False, status, error, tries)


def send_test(webhooks: Sequence[str], retry: Retry | None = None) -> list[Outcome]:
    """A test message to each webhook (nothing recorded); one outcome per webhook."""
    fields = {
        "kind": "test",
        "message": "test alert: this webhook receives llmusage's budget and data-quality alerts",
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return [post(url, payload(fields), retry or Retry()) for url in webhooks]


@dataclass
class DeliveryReport:
    messages: int = 0  # POSTed and taken, counting each webhook
    delivered: int = 0  # alerts now sent to every webhook
    pending: int = 0  # alerts left for a later run
    warnings: list[str] = field(default_factory=list)


def deliver_pending(database_url: str, webhooks: Sequence[str], retry: Retry | None = None) -> DeliveryReport:
    """Send every pending alert to the webhooks that lack it (see the module docstring); never raises."""
    retry = retry or Retry()
    report = DeliveryReport()
    deadline = time.monotonic() + retry.budget
    try:
        with connect(database_url) as conn:
            _deliver(conn, webhooks, retry, deadline, report)
    except psycopg.errors.UndefinedTable:
        report.warnings.append(f"alerts not delivered: {store.MISSING}")
    except Exception as exc:  # an alert must never fail the run that raised it
        report.warnings.append(f"alerts not delivered: {type(exc).__name__}: {exc}")
    return report


def _deliver(conn, webhooks: Sequence[str], retry: Retry, deadline: float, report: DeliveryReport) -> None:
    groups: dict[tuple[str, ...], list[store.Pending]] = {}
    for alert in store.pending(conn):
        groups.setdefault(alert.group, []).append(alert)
    conn.commit()
    prints = {url: fingerprint(url) for url in webhooks}
    down: dict[str, Outcome] = {}
    for alerts in groups.values():
        if time.monotonic() >= deadline:
            report.warnings.append(f"alert delivery stopped after {retry.budget:g} s: the rest stays pending")
            break
        with conn.transaction():
            held = store.lock(conn, [a.alert_id for a in alerts])
            alerts = [a for a in alerts if a.alert_id in held]
            if not alerts:
                continue
            body = combine([a.payload for a in alerts])
            taken: set[str] = set()
            error = None
            for url, mark in prints.items():
                if all(mark in held[a.alert_id] for a in alerts):
                    taken.add(mark)
                    continue
                if url in down:
                    error = down[url].describe()
                    continue
                outcome = post(url, body, retry, deadline)
                if outcome.ok:
                    taken.add(mark)
                    report.messages += 1
                else:
                    down[url] = outcome
                    error = outcome.describe()
            for alert in alerts:
                sent_to = sorted(set(held[alert.alert_id]) | taken)
                complete = set(prints.values()) <= set(sent_to)
                store.mark(conn, alert.alert_id, sent_to, error, complete)
                report.delivered += complete
    report.pending = len(store.pending(conn))
    conn.commit()
    for outcome in down.values():
        report.warnings.append(
            f"alert webhook {outcome.describe()}; its alerts stay pending for the next run"
        )
