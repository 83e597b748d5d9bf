"""How long ago, or how far ahead, a moment is: in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Largest unit first. A month is 30 days and a year 365, the way people round them.
UNITS: tuple[tuple[str, int], ...] = (
    ("year", 365 * 24 * 3600),
    ("month", 30 * 24 * 3600),
    ("week", 7 * 24 * 3600),
    ("day", 24 * 3600),
    ("hour", 3600),
    ("minute", 60),
    ("second", 1),
)
JUST_NOW_SECONDS = 10  # closer than this, either way, is "just now"


def naturaldelta(delta: timedelta) -> str:
    """The length of ``delta`` in its largest whole unit: '1 hour', '3 days'. Sign ignored."""
    seconds = abs(delta.total_seconds())
    for name, size in UNITS:
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {name}" + ("" if count == 1 else "s")
    return "0 seconds"


def ago(when: datetime, now: datetime | None = None) -> str:
    """``when`` relative to ``now`` (default: the current time in UTC): '5 minutes ago',
    'in 2 hours' or 'just now'. Naive datetimes are taken to be UTC."""
    now = now or datetime.now(UTC)
    delta = now - when
    if abs(delta.total_seconds()) < JUST_NOW_SECONDS:
        return "just now"
    return f"{naturaldelta(delta)} ago"
