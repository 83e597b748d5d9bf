"""A scripted local server speaking the Anthropic Messages wire format, for tests.

Each ``POST /v1/messages`` gets the next scripted reply; every request is recorded. Like the
real API it refuses requests without ``anthropic-version`` (400) and, when a key is set,
requests without the right ``x-api-key`` (401), with Anthropic's own error bodies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from devstack.wire_stub import Recorded, Reply, answer


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "tool_use",
    input_tokens: int = 10,
    output_tokens: int = 5,
    model: str = "claude-stub",
) -> Reply:
    return Reply(
        body={
            "id": "msg_stub",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
    )


def tool_use(name: str, tool_input: Any, **kwargs: Any) -> Reply:
    block = {"type": "tool_use", "id": "toolu_stub", "name": name, "input": tool_input}
    return message([block], **kwargs)


def text(words: str, **kwargs: Any) -> Reply:
    kwargs.setdefault("stop_reason", "end_turn")
    return message([{"type": "text", "text": words}], **kwargs)


def error(status: int, kind: str, words: str, headers: dict[str, str] | None = None) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": words}}
    return Reply(status=status, body=body, headers=headers or {})


class AnthropicStub:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.replies: list[Reply] = []
        self.requests: list[Recorded] = []
        self.base_url = ""

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        if "anthropic-version" not in request.headers:
            reply = error(400, "invalid_request_error", "anthropic-version header is required")
        elif self.api_key and request.headers.get("x-api-key") != self.api_key:
            reply = error(401, "authentication_error", "invalid x-api-key")
        elif not self.replies:
            reply = error(500, "api_error", "nothing scripted")
        else:
            reply = self.replies.pop(0)
        return await answer(reply)


@asynccontextmanager
async def serving(stub: AnthropicStub) -> AsyncIterator[str]:
    """Serve ``stub`` on a free port of 127.0.0.1; yield its base URL."""
    app = web.Application()
    app.router.add_post("/v1/messages", stub.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    stub.base_url = f"http://{host}:{port}"
    try:
        yield stub.base_url
    finally:
        await runner.cleanup()
