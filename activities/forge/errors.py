"""Turn Gitea HTTP failures into Temporal-aware errors.

Permanent failures (bad token, missing repo, invalid request) are non-retryable
``ApplicationError``s typed with names from ``domain.names`` so workflows can branch on them;
transient ones (5xx, timeouts, dropped connections) stay retryable so Temporal retries them.
Messages name the call and Gitea's own ``message`` but never the token.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

from domain import names

# Transient failures; not one of the workflow-facing types because workflows never see them
# unless retries are exhausted.
# 409: the thing already exists or the change conflicts; retrying cannot help.

_RETRYABLE_4XX = frozenset({408, 425, 429})
_TYPE_BY_STATUS = {
    401: names.ERR_UNAUTHORIZED,
    403: names.ERR_FORBIDDEN,
    404: names.ERR_NOT_FOUND,
    409: names.ERR_FORGE_CONFLICT,
    423: names.ERR_REPO_ARCHIVED,
}
_ARCHIVED_HINT = (
    "the repository is archived (read-only); unarchive it in the repository settings "
    "before Autopilot can change it"
)
# Query parameters Gitea accepts credentials in (deprecated but honoured).
_SECRET_QUERY = re.compile(r"(?i)([?&](?:access_token|token|sudo)=)[^&#\s]*")


class GiteaError(ApplicationError):
    """A failed Gitea call. ``status`` is the HTTP status, or None when no response came back."""

    def __init__(
        self,
        message: str,
        *,
        type: str,
        non_retryable: bool,
        status: int | None = None,
        gitea_message: str = "",
    ) -> None:
        super().__init__(message, type=type, non_retryable=non_retryable)
        self.status = status
        self.gitea_message = gitea_message


def scrub(text: str, secret: str) -> str:
    """Remove ``secret`` and any credential query parameters from ``text``."""
    cleaned = _SECRET_QUERY.sub(r"\1***", text)
    if secret:
        cleaned = cleaned.replace(secret, "***")
    return cleaned


def gitea_message(response: httpx.Response) -> str:
    """Gitea's ``{"message": ...}`` error text, or a short slice of a non-JSON body."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return ""


def error_for_response(method: str, path: str, response: httpx.Response, token: str) -> GiteaError:
    """Classify a non-2xx response."""
    status = response.status_code
    detail = gitea_message(response)
    call = f"{method} {path}"
    if status >= 500 or status in _RETRYABLE_4XX:
        # 500 bodies are blanked for non-admins, so the status is the useful part.
        text = f"Gitea {call} failed with HTTP {status} (transient, will retry)"
        if detail:
            text += f": {detail}"
        return GiteaError(
            scrub(text, token),
            type=names.ERR_FORGE_UNAVAILABLE,
            non_retryable=False,
            status=status,
            gitea_message=scrub(detail, token),
        )
    error_type = _TYPE_BY_STATUS.get(status, names.ERR_INVALID_REQUEST)
    text = f"Gitea {call} failed with HTTP {status}"
    if detail:
        text += f": {detail}"
    if status == 423:
        text += f" ({_ARCHIVED_HINT})"
    elif status == 401:
        text += " (check the forge token)"
    return GiteaError(
        scrub(text, token),
        type=error_type,
        non_retryable=True,
        status=status,
        gitea_message=scrub(detail, token),
    )


def error_for_transport(
    method: str, path: str, exc: httpx.TransportError, token: str
) -> GiteaError:
    """Timeouts and connection failures: the forge may be back shortly, so retry."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    text = f"Gitea {method} {path} {kind}: {type(exc).__name__}: {exc}"
    return GiteaError(scrub(text, token), type=names.ERR_FORGE_UNAVAILABLE, non_retryable=False)
