"""The alert configuration: where alerts go (`LLMUSAGE_ALERT_WEBHOOKS`), which budget thresholds alert
(`LLMUSAGE_ALERT_THRESHOLDS`, percent of `max_budget`), and how hard delivery tries.

Without a webhook there is no policy: nothing is recorded nor sent (the budget events table and the UI
still show every status change)."""

from __future__ import annotations

from dataclasses import dataclass, field

from llmusage.config import Settings
from llmusage.errors import LlmusageError

DEFAULT_THRESHOLDS = (50.0, 80.0, 95.0, 100.0)


def parse_thresholds(text: str | None) -> tuple[float, ...]:
    """`"50,80,95,100"` -> (50.0, 80.0, 95.0, 100.0), sorted, each once; unset -> the defaults."""
    if not text or not text.strip():
        return DEFAULT_THRESHOLDS
    values: set[float] = set()
    for part in text.split(","):
        part = part.strip().removesuffix("%").strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not 0 < value <= 1000:
            raise LlmusageError(
                f"LLMUSAGE_ALERT_THRESHOLDS: {part!r} is not a percentage of max_budget above 0 (e.g. 50,80,95,100)"
            )
        values.add(value)
    return tuple(sorted(values)) or DEFAULT_THRESHOLDS


@dataclass(frozen=True)
class Retry:
    """How a delivery tries: `tries` POSTs per webhook and alert, `backoff` seconds before the second
    (doubling after), `timeout` seconds per POST, and at most `budget` seconds for a whole run, after which
    what is left stays pending for the next run."""

    tries: int = 3
    backoff: float = 0.5
    timeout: float = 5.0
    budget: float = 30.0


@dataclass(frozen=True)
class AlertPolicy:
    webhooks: tuple[str, ...]
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    retry: Retry = field(default_factory=Retry)

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertPolicy | None:
        """The policy the environment configures; None when no webhook is set."""
        if not settings.alert_webhooks:
            return None
        return cls(settings.alert_webhooks, parse_thresholds(settings.alert_thresholds))
