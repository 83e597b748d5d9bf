"""A provider for the OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM, llama.cpp)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx
from temporalio.exceptions import ApplicationError

from activities.model.openai_tools import parse_turn, tool_body
from activities.model.provider import ProviderAnswer, StructuredRequest, ToolAnswer, ToolRequest
from activities.model.wire import Endpoint, error_detail
from domain.tiers import TokenLimitField
from domain.usage import TokenUsage

# Words in a 400 that say the server does not know ``response_format: json_schema``.
_NO_SCHEMA_SUPPORT = ("response_format", "json_schema")


class OpenAICompatibleProvider:
    """Asks ``POST {base_url}/chat/completions``: for a JSON answer, or for one agent turn.

    Structured output uses ``response_format: json_schema``; a server that refuses it gets the
    same request once more as a forced function tool, and keeps getting tools from then on.
    The answer is validated by the caller either way. The output limit is sent as
    ``token_limit_field``; a server that refuses ``max_tokens`` and names
    ``max_completion_tokens`` gets the request again with that, and from then on.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_seconds: float = 120.0,
        http: httpx.AsyncClient | None = None,
        token_limit_field: TokenLimitField = "max_tokens",
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._host = urlsplit(base_url).netloc or base_url
        self._model = model
        self._api_key = api_key or None
        self._endpoint = Endpoint(model, self._host, self._api_key)
        self._timeout = httpx.Timeout(timeout_seconds)
        self._http = http
        self._owns_http = http is None
        self._use_tools = False
        self._limit_field: TokenLimitField = token_limit_field

    def __repr__(self) -> str:
        # Never show the key, not even in debugging output.
        return f"OpenAICompatibleProvider(host={self._host!r}, model={self._model!r})"

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def complete(self, request: StructuredRequest) -> ProviderAnswer:
        limit = request.max_output_tokens
        response = await self._send(self._structured_body(request, self._use_tools), limit)
        if not self._use_tools and _schema_unsupported(response):
            self._use_tools = True
            response = await self._send(self._structured_body(request, True), limit)
        if response.status_code >= 300:
            raise self._endpoint.status_error(response)
        return self._parse(response)

    async def converse(self, request: ToolRequest) -> ToolAnswer:
        response = await self._send(tool_body(self._model, request), request.max_output_tokens)
        if response.status_code >= 300:
            raise self._endpoint.status_error(response)
        try:
            return parse_turn(response.json(), self._model)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise self._unavailable("response is not a chat completion") from None

    def _structured_body(self, request: StructuredRequest, tools: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [m.model_dump() for m in request.messages],
        }
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": request.schema_name,
                        "description": "Give the answer as this function's arguments.",
                        "parameters": request.json_schema,
                    },
                }
            ]
            body["tool_choice"] = {"type": "function", "function": {"name": request.schema_name}}
        else:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": request.json_schema,
                    "strict": False,
                },
            }
        return body

    async def _send(self, body: dict[str, Any], limit: int) -> httpx.Response:
        response = await self._post({**body, self._limit_field: limit})
        if self._limit_field == "max_tokens" and _wants_completion_tokens(response):
            self._limit_field = "max_completion_tokens"
            response = await self._post({**body, self._limit_field: limit})
        return response

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            return await self._client().post(
                self._url, json=body, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException as err:
            raise self._endpoint.unavailable(f"timed out ({type(err).__name__})") from None
        except httpx.TransportError as err:
            raise self._endpoint.unavailable(f"connection failed ({type(err).__name__})") from None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient()
        return self._http

    def _unavailable(self, why: str) -> ApplicationError:
        return self._endpoint.unavailable(why)

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
        refusal = message.get("refusal") if isinstance(message, dict) else None
        return ProviderAnswer(
            content=_message_text(message),
            usage=TokenUsage(
                input_tokens=int(usage.get("prompt_tokens") or 0),
                output_tokens=int(usage.get("completion_tokens") or 0),
                calls=1,
            ),
            model=str(data.get("model") or self._model),
            finish_reason="refusal" if refusal else choice.get("finish_reason"),
        )


def _schema_unsupported(response: httpx.Response) -> bool:
    if response.status_code != 400:
        return False
    detail = error_detail(response.text).lower()
    return any(word in detail for word in _NO_SCHEMA_SUPPORT)


def _wants_completion_tokens(response: httpx.Response) -> bool:
    """A 400 like OpenAI's "'max_tokens' is not supported ... use 'max_completion_tokens'"."""
    if response.status_code != 400:
        return False
    return "max_completion_tokens" in error_detail(response.text)


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
