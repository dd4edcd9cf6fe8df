"""The JSON an alert is POSTed as: a Slack-compatible `text` (what a person reads in the channel) plus the
structured fields a machine reads: `kind`, `entity_type`, `entity_id`, `entity_name`, `period_start`,
`threshold`, `ledger`, `budget`, `first_exceeded_at`, `action` (`blocked`, `flagged`, `blocked by a person`,
`none`) and the kind's own fields. Money is USD with two decimals, the sign before the dollar (`-$7.84`)."""

from __future__ import annotations

from datetime import datetime

from llmusage.money import usd

KIND_TITLES = {
    "budget_threshold": "budget threshold crossed",
    "soft_budget": "soft budget reached",
    "forecast": "budget forecast to be crossed",
    "quality_check": "data-quality check failed",
    "test": "test",
}


def who(entity_type: str, entity_id: str, name: str | None) -> str:
    """`key search-prod (3f9a1c2e…)`: the name people know with an id prefix, or the id alone."""
    short = entity_id if len(entity_id) <= 16 else entity_id[:8] + "…"
    if name and name != entity_id:
        return f"{entity_type} {name} ({short})"
    return f"{entity_type} {short}"


def _when(value: str | None) -> str:
    return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M} UTC" if value else "-"


def _period(fields: dict) -> str:
    if not fields.get("period_start"):
        return "lifetime budget"
    return f"{fields.get('budget_duration') or ''} period from {_when(fields['period_start'])}".strip()


def text(fields: dict) -> str:
    """The line a person reads, from an alert's structured fields."""
    kind = fields["kind"]
    if kind == "test":
        return f"llmusage: {fields['message']}"
    subject = who(fields["entity_type"], fields["entity_id"], fields.get("entity_name"))
    if kind == "budget_threshold":
        used = f"{fields['utilization']:.0%}" if fields.get("utilization") is not None else "?"
        line = (
            f":rotating_light: {subject} crossed {fields['threshold']} of its budget: "
            f"{usd(fields['ledger'])} of {usd(fields['budget'])} ({used}), {_period(fields)}"
        )
        if fields.get("first_exceeded_at"):
            line += f"; over budget since {_when(fields['first_exceeded_at'])}"
        return f"{line}. Action: {fields['action']}."
    if kind == "soft_budget":
        return (
            f":warning: {subject} reached its soft budget of {usd(fields['soft_budget'])}: "
            f"{usd(fields['ledger'])} spent (budget {usd(fields['budget'])}), {_period(fields)}. "
            f"Action: {fields['action']}."
        )
    if kind == "forecast":
        return (
            f":crystal_ball: {subject} will reach its budget of {usd(fields['budget'])} on "
            f"{fields['exceeds_on']} at {usd(fields['daily_rate'])}/day: {usd(fields['ledger'])} spent so far, "
            f"{_period(fields)}, {usd(fields['projected_month_spend'])} projected for the month."
        )
    if kind == "quality_check":
        failed = ", ".join(f"{f['expectation']} on {f['column']}" for f in fields.get("failures", [])[:5])
        return (
            f":x: data-quality check {fields['entity_id']} failed for {fields['period_start']} "
            f"({fields['failed']} expectation(s) of {fields['expectations']}: {failed}). "
            "Budgets are not written back from these days until it passes."
        )
    return f"llmusage: {kind} alert for {subject}"


def payload(fields: dict) -> dict:
    """The JSON body: `text` first, then the structured fields."""
    return {"text": text(fields), **fields}


def combine(payloads: list[dict]) -> dict:
    """One message for several budget thresholds of one entity and period recorded together (a run that
    found it past 50%, 80% and 95% at once): the highest, naming every threshold it carries."""
    if len(payloads) == 1:
        return payloads[0]
    ranked = sorted(
        payloads, key=lambda p: (p["kind"] == "budget_threshold", p.get("threshold_percent") or 0)
    )
    top = dict(ranked[-1])
    labels = [p["threshold"] for p in ranked]
    top["thresholds"] = labels
    top["text"] = f"{top['text']} (Thresholds crossed: {', '.join(labels)}.)"
    return top
