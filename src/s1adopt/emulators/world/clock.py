"""Time in the emulated world: an injectable clock and the wire's time text.

Rules:
- The world's clock answers real UTC time as seconds since the Unix epoch (``time.time``
  unless a test injects another); a device's own clock is that plus its offset, in whole
  seconds.
- Times on the wire are ISO 8601 UTC with a ``Z`` or ``+00:00`` suffix; anything else
  (no zone, another zone) is refused, so no device guesses a zone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]

HALF_HOUR = 1800
DAY = 86_400
WEEK = 7 * DAY


def system_clock() -> float:
    """Real UTC time, seconds since the Unix epoch."""
    return time.time()


def time_text(seconds: int) -> str:
    """``seconds`` since the epoch as ``2026-11-28T09:30:00Z``."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> int:
    """Whole seconds since the epoch of an ISO 8601 UTC time; ``ValueError`` otherwise."""
    if not text.isascii() or len(text) > 40:
        raise ValueError("not an ISO 8601 time")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None or parsed.utcoffset() != UTC.utcoffset(None):
        raise ValueError("not a UTC time (end it with Z)")
    return int(parsed.timestamp())
