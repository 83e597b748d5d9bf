"""A scripted stand-in for an OpenAI-compatible server: replies in order, records requests."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from devstack.wire_stub import Recorded, Reply, answer


def completion(
    content: str | None = "{}",
    *,
    finish_reason: str | None = "stop",
    usage: dict[str, int] | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    model: str = "stub-model",
) -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return Reply(body=body)


class StubServer:
    """Answers each POST with the next scripted reply and records what it was sent."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[Recorded] = []
        self.base_url = ""

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        if not self.replies:
            return web.json_response({"error": {"message": "nothing scripted"}}, status=418)
        return await answer(self.replies.pop(0))


# A fake key, to prove it never leaks into errors.
KEY = "sk-test-0123456789abcdef"
