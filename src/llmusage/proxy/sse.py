"""The upstream's Server-Sent Events, relayed event by event while the usage is picked out of them.

`EventRelay.feed(data)` takes the upstream's bytes as they arrive (an event may span reads, a read may hold
several events) and returns the complete events to send on to the client, each with its blank line:
- `data: [DONE]` is never relayed: the proxy sends it itself once the spend log is spooled;
- the last `usage` object seen (a chunk whose `"usage"` is not null) is kept in `usage`;
- the usage-only chunk (no `choices`) the proxy asked for with `stream_options.include_usage` is dropped,
  unless the client asked for it too;
- `events` counts the events relayed (the completion tokens' estimate when no usage ever comes).
Bytes are relayed as the upstream sent them; an event is parsed only when it mentions a non-null usage.
"""

from __future__ import annotations

from typing import Any

import orjson


def client_wants_usage(body: dict[str, Any]) -> bool:
    """The client itself set `stream_options.include_usage` (so the usage chunk is its to receive)."""
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


class EventRelay:
    """Splits an upstream event stream into events to relay (see the module docstring)."""

    __slots__ = ("_buf", "_client_usage", "events", "usage")

    def __init__(self, client_usage: bool) -> None:
        self._buf = b""
        self._client_usage = client_usage
        self.usage: dict[str, Any] | None = None
        self.events = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The events completed by `data`, in order, to relay to the client."""
        buf = self._buf + data
        out: list[bytes] = []
        while True:
            cut = buf.find(b"\n\n")
            if cut < 0:
                break
            event, buf = buf[: cut + 2], buf[cut + 2 :]
            if event.startswith(b"data: [DONE]"):
                continue  # sent by the proxy after the log is spooled
            if b'"usage"' in event and b'"usage":null' not in event and b'"usage": null' not in event:
                try:
                    parsed = orjson.loads(event[event.index(b"{") :])
                    if isinstance(parsed.get("usage"), dict):
                        self.usage = parsed["usage"]
                    if not parsed.get("choices") and not self._client_usage:
                        continue  # the usage chunk the proxy asked for, not the client
                except (ValueError, AttributeError):
                    pass
            self.events += 1
            out.append(event)
        self._buf = buf
        return out
