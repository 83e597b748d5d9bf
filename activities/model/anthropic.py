"""A provider for the Anthropic Messages API: structured answers (a forced tool), agent turns."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from activities.model.anthropic_tools import parse_turn, tool_body
from activities.model.provider import (
    FINISH_LENGTH,
    FINISH_REFUSAL,
    ProviderAnswer,
    StructuredRequest,
    ToolAnswer,
    ToolRequest,
)
from activities.model.wire import Endpoint
from domain.usage import TokenUsage

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"
# stop_reason values, mapped onto the normalised finish reasons ask_structured understands.
_STOP_REASONS = {"max_tokens": FINISH_LENGTH, "refusal": FINISH_REFUSAL}
_CONTEXT_EXCEEDED = "model_context_window_exceeded"


class AnthropicProvider:
    """Asks ``POST {base_url}/v1/messages``.

    A structured answer is the forced tool's ``input``; an agent turn offers the loop's tools
    and answers the text and ``tool_use`` blocks the model gave.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_seconds: float = 120.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        root = base_url.rstrip("/")
        self._url = root + ("/messages" if root.endswith("/v1") else "/v1/messages")
        self._host = urlsplit(base_url).netloc or base_url
        self._model = model
        self._api_key = api_key or None
        self._endpoint = Endpoint(model, self._host, self._api_key)
        self._timeout = httpx.Timeout(timeout_seconds)
        self._http = http
        self._owns_http = http is None

    def __repr__(self) -> str:
        return f"AnthropicProvider(host={self._host!r}, model={self._model!r})"

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def complete(self, request: StructuredRequest) -> ProviderAnswer:
        return self._parse(await self._post(self._body(request)), request.schema_name)

    async def converse(self, request: ToolRequest) -> ToolAnswer:
        data = self._reply(await self._post(tool_body(self._model, request)))
        try:
            return parse_turn(data, self._model)
        except (KeyError, TypeError, AttributeError):
            raise self._endpoint.unavailable("response is not a Messages API reply") from None

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        headers = {"content-type": "application/json", "anthropic-version": ANTHROPIC_VERSION}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        try:
            response = await self._client().post(
                self._url, json=body, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException as err:
            raise self._endpoint.unavailable(f"timed out ({type(err).__name__})") from None
        except httpx.TransportError as err:
            raise self._endpoint.unavailable(f"connection failed ({type(err).__name__})") from None
        if response.status_code >= 300:
            raise self._endpoint.status_error(response)
        return response

    def _reply(self, response: httpx.Response) -> dict[str, Any]:
        """The reply's JSON object; the same request can never fit a too-small context."""
        try:
            data = response.json()
        except ValueError:
            raise self._endpoint.unavailable("response is not a Messages API reply") from None
        if not isinstance(data, dict):
            raise self._endpoint.unavailable("response is not a Messages API reply")
        if data.get("stop_reason") == _CONTEXT_EXCEEDED:
            # A re-ask would only be longer.
            raise self._endpoint.rejected("the prompt exceeds the model's context window")
        return data

    def _body(self, request: StructuredRequest) -> dict[str, Any]:
        # Anthropic takes the system prompt apart from the turns, and wants turns to alternate.
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        turns: list[dict[str, str]] = []
        for message in request.messages:
            if message.role == "system":
                continue
            if turns and turns[-1]["role"] == message.role:
                turns[-1]["content"] += "\n\n" + message.content
            else:
                turns.append({"role": message.role, "content": message.content})
        body: dict[str, Any] = {
            "model": self._model,
            "max_tokens": request.max_output_tokens,
            "messages": turns,
            "tools": [
                {
                    "name": request.schema_name,
                    "description": "Give the answer as this tool's input.",
                    "input_schema": request.json_schema,
                }
            ],
            "tool_choice": {"type": "tool", "name": request.schema_name},
        }
        if system:
            body["system"] = system
        return body

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient()
        return self._http

    def _parse(self, response: httpx.Response, tool_name: str) -> ProviderAnswer:
        data = self._reply(response)
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise self._endpoint.unavailable("response is not a Messages API reply")
        stop_reason = data.get("stop_reason")
        usage = data.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        return ProviderAnswer(
            content=_answer_text(blocks, tool_name),
            usage=TokenUsage(
                input_tokens=int(usage.get("input_tokens") or 0),
                output_tokens=int(usage.get("output_tokens") or 0),
                calls=1,
            ),
            model=str(data.get("model") or self._model),
            finish_reason=_STOP_REASONS.get(str(stop_reason), stop_reason),
        )


def _answer_text(blocks: list[Any], tool_name: str) -> str:
    """The forced tool's input as JSON text; else any text blocks (validated by the caller)."""
    uses = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"]
    chosen = next((b for b in uses if b.get("name") == tool_name), uses[0] if uses else None)
    if chosen is not None:
        tool_input = chosen.get("input")
        return tool_input if isinstance(tool_input, str) else json.dumps(tool_input)
    return "".join(
        str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text"
    )
