"""A provider for the OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM, llama.cpp)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from temporalio.exceptions import ApplicationError

from activities.model.provider import (
    ERR_MODEL_REQUEST_REJECTED,
    ERR_MODEL_UNAVAILABLE,
    ProviderAnswer,
    StructuredRequest,
)
from domain.usage import TokenUsage

# Statuses a retry cannot fix; everything else that is not 2xx is treated as transient.
_REJECTED_STATUSES = frozenset({400, 401, 403, 404})
_MAX_DETAIL_CHARS = 300


class OpenAICompatibleProvider:
    """Asks ``POST {base_url}/chat/completions`` for a JSON answer matching a schema."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_seconds: float = 120.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._host = urlsplit(base_url).netloc or base_url
        self._model = model
        self._api_key = api_key or None
        self._timeout = httpx.Timeout(timeout_seconds)
        self._http = http
        self._owns_http = http is None

    def __repr__(self) -> str:
        # Never show the key, not even in debugging output.
        return f"OpenAICompatibleProvider(host={self._host!r}, model={self._model!r})"

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def complete(self, request: StructuredRequest) -> ProviderAnswer:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body = {
            "model": self._model,
            "messages": [m.model_dump() for m in request.messages],
            "max_tokens": request.max_output_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": request.json_schema,
                    "strict": False,
                },
            },
        }
        try:
            response = await self._client().post(
                self._url, json=body, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException as err:
            raise self._unavailable(f"timed out ({type(err).__name__})") from None
        except httpx.TransportError as err:
            raise self._unavailable(f"connection failed ({type(err).__name__})") from None
        if response.status_code >= 300:
            raise self._status_error(response)
        return self._parse(response)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient()
        return self._http

    def _unavailable(self, why: str, delay: timedelta | None = None) -> ApplicationError:
        return ApplicationError(
            f"model {self._model!r} at {self._host}: {why}",
            type=ERR_MODEL_UNAVAILABLE,
            next_retry_delay=delay,
        )

    def _status_error(self, response: httpx.Response) -> ApplicationError:
        status = response.status_code
        text = response.text
        detail = self._redact(_error_detail(text))
        why = f"HTTP {status}" + (f": {detail}" if detail else "")
        if status in _REJECTED_STATUSES or (status == 429 and "insufficient_quota" in text):
            return ApplicationError(
                f"model {self._model!r} at {self._host} rejected the request, {why}",
                type=ERR_MODEL_REQUEST_REJECTED,
                non_retryable=True,
            )
        delay = _retry_after(response.headers) if status == 429 else None
        return self._unavailable(why, delay)

    def _parse(self, response: httpx.Response) -> ProviderAnswer:
        try:
            data = response.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            # A 2xx that is not a completion is a broken proxy or server, not a model answer.
            raise self._unavailable("response is not a chat completion") from None
        usage = data.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        return ProviderAnswer(
            content=_message_text(message),
            usage=TokenUsage(
                input_tokens=int(usage.get("prompt_tokens") or 0),
                output_tokens=int(usage.get("completion_tokens") or 0),
                calls=1,
            ),
            model=str(data.get("model") or self._model),
            finish_reason=choice.get("finish_reason"),
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text


def _message_text(message: dict[str, Any]) -> str:
    """The answer text: ``content``, or else the first tool call's arguments."""
    content = message.get("content")
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if isinstance(content, str) and content.strip():
        return content
    for call in message.get("tool_calls") or []:
        arguments = (call.get("function") or {}).get("arguments")
        if isinstance(arguments, str):
            return arguments
        if arguments is not None:
            return json.dumps(arguments)
    return content if isinstance(content, str) else ""


def _error_detail(text: str) -> str:
    """The provider's own error message, short; the raw body only when it is not JSON."""
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:_MAX_DETAIL_CHARS]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        message = error.get("message") or error.get("code") or error.get("type") or ""
    else:
        message = error or (data.get("message") if isinstance(data, dict) else "") or ""
    return " ".join(str(message).split())[:_MAX_DETAIL_CHARS]


def _retry_after(headers: httpx.Headers) -> timedelta | None:
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
