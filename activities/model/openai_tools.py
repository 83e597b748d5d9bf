"""Tool calling over the OpenAI chat-completions wire format (pure functions).

Assistant tool calls carry their arguments as a JSON *string*; each result is its own
``{"role": "tool", "tool_call_id": ...}`` message right after the assistant's. Servers differ:
Ollama and some vLLM parsers send arguments as an object and no id, and finish with ``stop``
although they called tools; all of that is accepted.
"""

from __future__ import annotations

import json
from typing import Any

from activities.model.provider import ToolAnswer, ToolRequest
from activities.model.tool_messages import (
    call_id,
    paired,
    parse_arguments,
    result_text,
    stop_reason,
)
from domain.agent import ToolCall
from domain.usage import TokenUsage


def tool_body(model: str, request: ToolRequest) -> dict[str, Any]:
    """The request body, without the output limit (its field name depends on the server)."""
    body: dict[str, Any] = {"model": model, "messages": wire_messages(request)}
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": spec.parameters,
                },
            }
            for spec in request.tools
        ]
    return body


def wire_messages(request: ToolRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for message in paired(request.messages):
        if message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.text}
            if message.tool_calls:
                entry["content"] = message.text or None
                entry["tool_calls"] = [_wire_call(c) for c in message.tool_calls]
            out.append(entry)
            continue
        out.extend(
            {"role": "tool", "tool_call_id": r.call_id, "content": result_text(r)}
            for r in message.results
        )
        if message.text or not message.results:
            out.append({"role": "user", "content": message.text})
    return out


def _wire_call(call: ToolCall) -> dict[str, Any]:
    # Always valid JSON: some servers parse the history's arguments and refuse broken ones.
    arguments = json.dumps(call.arguments, ensure_ascii=False)
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def parse_turn(data: Any, default_model: str) -> ToolAnswer:
    """A completion as one assistant turn; KeyError/TypeError/... when it is not a completion."""
    choice = data["choices"][0]
    message = choice.get("message") or {}
    if not isinstance(message, dict):
        raise TypeError("message is not an object")
    finish = choice.get("finish_reason")
    refusal = message.get("refusal")
    text = content_text(message.get("content")) or (refusal if isinstance(refusal, str) else "")
    calls: list[ToolCall] = []
    whole: list[bool] = []
    for raw in message.get("tool_calls") or []:
        function = raw.get("function") or {}
        arguments, ok = parse_arguments(function.get("arguments"))
        calls.append(
            ToolCall(
                id=call_id(raw.get("id")), name=str(function.get("name") or ""), arguments=arguments
            )
        )
        whole.append(ok)
    length = finish == "length"
    dropped = None
    if length and calls and not whole[-1]:
        dropped = calls.pop().name  # cut off mid-arguments
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return ToolAnswer(
        text=text,
        tool_calls=calls,
        stop_reason=stop_reason(
            length=length, refused=bool(refusal) or finish == "content_filter", calls=bool(calls)
        ),
        usage=TokenUsage(
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            calls=1,
        ),
        model=str(data.get("model") or default_model),
        dropped_call=dropped,
    )


def content_text(content: Any) -> str:
    """``content`` as text: a string, or the text of content parts."""
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""
