"""Tool calling over the Anthropic Messages wire format (pure functions).

The system prompt is the top-level ``system`` field; turns alternate user/assistant, so
consecutive same-role messages are merged. Calls are ``tool_use`` content blocks; results are
``tool_result`` blocks in the next user message, before any text in it.
"""

from __future__ import annotations

import re
from typing import Any

from activities.model.provider import ToolAnswer, ToolRequest
from activities.model.tool_messages import EMPTY_TEXT, call_id, paired, stop_reason
from domain.agent import AgentMessage, ToolCall
from domain.model import RAW_ARGUMENTS_KEY
from domain.usage import TokenUsage

# What Anthropic accepts as a tool_use id; ids made by another provider (after a failover) are
# mapped onto it, the same way in the call and in its result.
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def tool_body(model: str, request: ToolRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_output_tokens,
        "messages": wire_messages(request.messages),
    }
    if request.system:
        body["system"] = request.system
    if request.tools:
        body["tools"] = [
            {"name": s.name, "description": s.description, "input_schema": s.parameters}
            for s in request.tools
        ]
    return body


def wire_messages(messages: list[AgentMessage]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for message in paired(messages):
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message) or [{"type": "text", "text": EMPTY_TEXT}]
        if turns and turns[-1]["role"] == role:
            blocks = [*turns[-1]["content"], *blocks]
            turns.pop()
        if role == "user":
            # tool_result blocks first: the API refuses text before them.
            blocks = sorted(blocks, key=lambda b: b["type"] != "tool_result")
        turns.append({"role": role, "content": blocks})
    return turns


def _blocks(message: AgentMessage) -> list[dict[str, Any]]:
    text = [{"type": "text", "text": message.text}] if message.text.strip() else []
    if message.role == "assistant":
        uses = [
            {"type": "tool_use", "id": safe_id(c.id), "name": c.name, "input": c.arguments}
            for c in message.tool_calls
        ]
        return [*text, *uses]
    results: list[dict[str, Any]] = []
    for result in message.results:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": safe_id(result.call_id)}
        if result.output:
            block["content"] = result.output
        if result.is_error:
            block["is_error"] = True
        results.append(block)
    return [*results, *text]


def safe_id(given: str) -> str:
    return _ID_UNSAFE.sub("_", given)


def parse_turn(data: Any, default_model: str) -> ToolAnswer:
    """A Messages reply as one assistant turn; KeyError/TypeError when it is not one."""
    blocks = data["content"]
    if not isinstance(blocks, list):
        raise TypeError("content is not a list")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            given = block.get("input")
            arguments = given if isinstance(given, dict) else {RAW_ARGUMENTS_KEY: str(given)}
            calls.append(
                ToolCall(
                    id=call_id(block.get("id")),
                    name=str(block.get("name") or ""),
                    arguments=arguments,
                )
            )
    reason = data.get("stop_reason")
    length = reason == "max_tokens"
    dropped = None
    last = blocks[-1] if blocks else None
    if length and calls and isinstance(last, dict) and last.get("type") == "tool_use":
        # A finished tool_use block ends the turn at once; one last at max_tokens was cut off.
        dropped = calls.pop().name
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return ToolAnswer(
        text="".join(texts),
        tool_calls=calls,
        stop_reason=stop_reason(length=length, refused=reason == "refusal", calls=bool(calls)),
        usage=TokenUsage(
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            calls=1,
        ),
        model=str(data.get("model") or default_model),
        dropped_call=dropped,
    )
