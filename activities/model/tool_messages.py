"""What both tool-calling wire formats share: paired results, arguments, stop reasons.

Both APIs refuse a conversation in which an assistant's tool call is not answered by a result
in the very next message, or a result answers no call. ``paired`` repairs both before a request
is sent, so one lost result costs the model a line of text, not the run.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from domain.agent import AgentMessage, StopReason, ToolCall, ToolResult
from domain.model import RAW_ARGUMENTS_KEY

MISSING_RESULT = "(no result: this call was not carried out)"
EMPTY_TEXT = "(empty)"


def paired(messages: list[AgentMessage]) -> list[AgentMessage]:
    """``messages`` with every tool call answered in the next message, and no orphan results.

    A missing result becomes an error result; a result that answers no call becomes text.
    """
    out: list[AgentMessage] = []
    pending: list[ToolCall] = []
    for message in messages:
        if pending and message.role != "assistant" and message.results:
            out.append(_answered(message, pending))
        elif pending:
            out.append(_answered(AgentMessage(role="tool"), pending))
            out.append(_without_orphans(message))
        else:
            out.append(_without_orphans(message))
        pending = list(message.tool_calls) if message.role == "assistant" else []
    if pending:
        out.append(_answered(AgentMessage(role="tool"), pending))
    return out


def _answered(message: AgentMessage, calls: list[ToolCall]) -> AgentMessage:
    ids = {call.id for call in calls}
    matched = [r for r in message.results if r.call_id in ids]
    given = {r.call_id for r in matched}
    missing = [
        ToolResult(call_id=c.id, name=c.name, output=MISSING_RESULT, is_error=True)
        for c in calls
        if c.id not in given
    ]
    orphans = [r for r in message.results if r.call_id not in ids]
    text = "\n\n".join(t for t in [*map(_orphan_text, orphans), message.text] if t)
    return AgentMessage(role="tool", text=text, results=[*matched, *missing])


def _without_orphans(message: AgentMessage) -> AgentMessage:
    if message.role == "assistant" or not message.results:
        return message
    text = "\n\n".join(t for t in [*map(_orphan_text, message.results), message.text] if t)
    return AgentMessage(role="user", text=text)


def _orphan_text(result: ToolResult) -> str:
    return f"Result of {result.name} ({result.call_id}):\n{result_text(result)}"


def result_text(result: ToolResult) -> str:
    """A result as text, for a wire format without an error flag."""
    if result.is_error and not result.output.lower().startswith("error"):
        return f"Error: {result.output}"
    return result.output


def parse_arguments(value: Any) -> tuple[dict[str, Any], bool]:
    """The arguments as a dict, and whether they were a JSON object.

    Anything else is kept as text under ``RAW_ARGUMENTS_KEY``: the tool layer answers the call
    with an error the model can correct, instead of the turn failing here.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}, True
    if isinstance(value, dict):
        return value, True
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {RAW_ARGUMENTS_KEY: value}, False
        if isinstance(parsed, dict):
            return parsed, True
        return {RAW_ARGUMENTS_KEY: value}, False
    return {RAW_ARGUMENTS_KEY: json.dumps(value)}, False


def call_id(given: Any) -> str:
    """The provider's id, or a fresh one for servers that send none (the result echoes it)."""
    if isinstance(given, str) and given:
        return given
    return f"call_{uuid.uuid4().hex[:16]}"


def stop_reason(*, length: bool, refused: bool, calls: bool) -> StopReason:
    """Cut off first (the workflow must react), then refused, then by whether tools were called."""
    if length:
        return "length"
    if refused:
        return "refusal"
    return "tool_use" if calls else "end_turn"
