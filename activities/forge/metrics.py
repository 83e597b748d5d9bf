"""``autopilot_forge_requests``: every forge API request, by method and status class."""

from __future__ import annotations

from opentelemetry import metrics

from domain import metrics as names

METER_NAME = "autopilot.forge"
TRANSPORT_ERROR = "error"  # no HTTP status: connection refused, reset, timed out

_requests = metrics.get_meter(METER_NAME).create_counter(
    names.FORGE_REQUESTS, description="Forge API requests by method and status class"
)


def status_class(status: int | None) -> str:
    """``2xx``..``5xx``, or ``error`` when no response came back."""
    return f"{status // 100}xx" if status else TRANSPORT_ERROR


def count_request(method: str, status: int | None) -> None:
    _requests.add(1, {"method": method, "status_class": status_class(status)})
