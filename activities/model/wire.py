"""HTTP details shared by the provider clients: error classification and ``retry-after``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from temporalio.exceptions import ApplicationError

from domain.names import ERR_MODEL_REQUEST_REJECTED, ERR_MODEL_UNAVAILABLE

# Statuses a retry cannot fix; everything else that is not 2xx is treated as transient.
REJECTED_STATUSES = frozenset({400, 401, 403, 404, 413, 422})
# A 429 that is about money, not rate: waiting does not refill an exhausted account.
_SPEND_MARKERS = ("insufficient_quota", "spend limit", "spending limit", "billing", "credit")
MAX_DETAIL_CHARS = 300


class Endpoint:
    """Who is asked (model and host, never the key), for errors that name the failing call."""

    def __init__(self, model: str, host: str, api_key: str | None) -> None:
        self.model = model
        self.host = host
        self._api_key = api_key or None

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def unavailable(self, why: str, delay: timedelta | None = None) -> ApplicationError:
        return ApplicationError(
            self.redact(f"model {self.model!r} at {self.host}: {why}"),
            type=ERR_MODEL_UNAVAILABLE,
            next_retry_delay=delay,
        )

    def rejected(self, why: str) -> ApplicationError:
        return ApplicationError(
            self.redact(f"model {self.model!r} at {self.host} rejected the request, {why}"),
            type=ERR_MODEL_REQUEST_REJECTED,
            non_retryable=True,
        )

    def status_error(self, response: httpx.Response) -> ApplicationError:
        """Rejections are permanent; 429 waits as told; 5xx, 529 and the rest are transient."""
        status = response.status_code
        text = response.text
        detail = self.redact(error_detail(text))
        why = f"HTTP {status}" + (f": {detail}" if detail else "")
        lowered = text.lower()
        if status in REJECTED_STATUSES or (
            status == 429 and any(m in lowered for m in _SPEND_MARKERS)
        ):
            return self.rejected(why)
        delay = retry_after(response.headers) if status == 429 else None
        return self.unavailable(why, delay)


def error_detail(text: str) -> str:
    """The provider's own error message, short; the raw body only when it is not JSON."""
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:MAX_DETAIL_CHARS]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        message = error.get("message") or error.get("code") or error.get("type") or ""
    else:
        message = error or (data.get("message") if isinstance(data, dict) else "") or ""
    return " ".join(str(message).split())[:MAX_DETAIL_CHARS]


def retry_after(headers: httpx.Headers) -> timedelta | None:
    """The server's requested wait: ``retry-after-ms``, or ``retry-after`` seconds or date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return timedelta(milliseconds=max(0.0, float(millis)))
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - datetime.now(UTC))
