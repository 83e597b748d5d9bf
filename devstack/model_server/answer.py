"""One answer of the offline model: counted, cut to the request's output limit, put on the wire.

Tokens are counted the same way everywhere: ``count_tokens(text) = ceil(len(text) / 4)``, about
four characters per token. An answer is counted as one text: its words, then each tool call's
name and JSON arguments. When that count is over the request's limit (OpenAI ``max_tokens`` or
``max_completion_tokens``, Anthropic ``max_tokens``) the answer is cut after ``4 * limit``
characters of that text, as a real model stops mid-answer:

* OpenAI: the words are cut, a tool call keeps its name and a truncated ``arguments`` string,
  calls after the cut are left out; ``finish_reason: "length"``.
* Anthropic: the words are cut; the tool_use block being written when the limit hit comes last
  with the input it had so far, which is no whole JSON object: ``{}`` (the documented "incomplete
  tool use block" to retry with a higher limit); ``stop_reason: "max_tokens"``.

A cut answer reports exactly ``limit`` output tokens, as the real APIs do.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 4
# A rule's finish_reason (OpenAI's words) as Anthropic's stop_reason; None keeps the default.
_ANTHROPIC_STOP = {"stop": None, "tool_calls": None, "length": "max_tokens"}


def count_tokens(text: str) -> int:
    """About four characters per token, rounded up: deterministic, for limits and usage."""
    return -(-len(text) // CHARS_PER_TOKEN)


@dataclass(frozen=True)
class ToolUse:
    """A tool call to make: ``arguments`` as an object, or as raw JSON text (a scenario reply)."""

    name: str
    arguments: dict[str, Any] | str

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)

    def wire_text(self) -> str:
        return self.name + self.arguments_json()


@dataclass(frozen=True)
class Answer:
    text: str = ""
    calls: list[ToolUse] = field(default_factory=list)
    finish_reason: str = "stop"  # a scenario rule's override, in OpenAI's words
    turn: int = 0  # numbers the tool call ids: call_<turn>_<i>

    def wire_text(self) -> str:
        return self.text + "".join(c.wire_text() for c in self.calls)

    def tokens(self) -> int:
        return count_tokens(self.wire_text())


@dataclass(frozen=True)
class CutCall:
    name: str
    arguments: str  # JSON text, truncated when the call was cut
    complete: bool


@dataclass(frozen=True)
class Limited:
    """What is sent of an answer: words and calls, whether it was cut, the tokens it used."""

    text: str
    calls: list[CutCall]
    cut: bool
    output_tokens: int


def limit_answer(answer: Answer, limit: int | None) -> Limited:
    full = answer.tokens()
    calls = [CutCall(c.name, c.arguments_json(), True) for c in answer.calls]
    if limit is None or full <= limit:
        return Limited(answer.text, calls, False, full)
    budget = limit * CHARS_PER_TOKEN
    text = answer.text[:budget]
    budget -= len(text)
    kept: list[CutCall] = []
    for call in calls:
        if budget <= len(call.name):
            break
        budget -= len(call.name)
        arguments = call.arguments[:budget]
        budget -= len(arguments)
        kept.append(CutCall(call.name, arguments, len(arguments) == len(call.arguments)))
        if budget <= 0:
            break
    return Limited(text, kept, True, limit)


def openai_completion(
    answer: Answer, limit: int | None, model: str, prompt_tokens: int
) -> dict[str, Any]:
    sent = limit_answer(answer, limit)
    message: dict[str, Any] = {"role": "assistant", "content": sent.text}
    if sent.calls:
        message["content"] = sent.text or None
        message["tool_calls"] = [
            {
                "id": f"call_{answer.turn}_{i}",
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for i, c in enumerate(sent.calls)
        ]
    if sent.cut:
        finish_reason = "length"
    elif answer.calls and answer.finish_reason == "stop":
        finish_reason = "tool_calls"
    else:
        finish_reason = answer.finish_reason
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": sent.output_tokens,
            "total_tokens": prompt_tokens + sent.output_tokens,
        },
    }


def anthropic_message(answer: Answer, limit: int, model: str, input_tokens: int) -> dict[str, Any]:
    sent = limit_answer(answer, limit)
    content: list[dict[str, Any]] = []
    if sent.text:
        content.append({"type": "text", "text": sent.text})
    for i, call in enumerate(sent.calls):
        tool_input = _as_object(call.arguments) if call.complete else {}
        if tool_input is None:  # a raw reply that is no JSON object: what a model would say
            content.append({"type": "text", "text": call.arguments})
            continue
        block = {"type": "tool_use", "id": f"toolu_{answer.turn}_{i}", "name": call.name}
        content.append({**block, "input": tool_input})
    uses = any(b["type"] == "tool_use" for b in content)
    default = "tool_use" if uses else "end_turn"
    stop_reason = _ANTHROPIC_STOP.get(answer.finish_reason, answer.finish_reason) or default
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "max_tokens" if sent.cut else stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": sent.output_tokens},
    }


def _as_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
