"""The agent-turn tests' shared values: the recorded wire fixtures and one conversation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from activities.model.provider import ToolAnswer, ToolRequest
from domain.agent import AgentMessage, ToolCall, ToolResult
from domain.model import tool_specs

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


CONVERSATION = [
    AgentMessage(role="user", text="Stage: agent\nPurpose: task\nTask: fix-parser"),
    AgentMessage(
        role="assistant",
        text="I will look at the parser first.",
        tool_calls=[
            ToolCall(id="call_1", name="view", arguments={"path": "app/parser.py"}),
            ToolCall(id="call_2", name="search", arguments={"pattern": "split_lines"}),
        ],
    ),
    AgentMessage(
        role="tool",
        results=[
            ToolResult(call_id="call_1", name="view", output="1\tdef split_lines(text):"),
            ToolResult(
                call_id="call_2",
                name="search",
                output="Error: invalid regular expression",
                is_error=True,
            ),
        ],
    ),
    AgentMessage(role="user", text="3 turns left."),
    AgentMessage(
        role="assistant",
        tool_calls=[ToolCall(id="call_3", name="finish", arguments={"summary": "Kept the tail."})],
    ),
    AgentMessage(role="tool", results=[ToolResult(call_id="call_3", name="finish", output="done")]),
]

REQUEST = ToolRequest(
    system="SYSTEM",
    messages=CONVERSATION,
    tools=tool_specs(["view", "search", "str_replace", "finish"]),
    max_output_tokens=1234,
)


def assert_answer(answer: ToolAnswer, expect: dict[str, Any]) -> None:
    """``answer`` is what the fixture expects; an expected id of '*' is any made-up id."""
    assert answer.text == expect["text"]
    assert answer.stop_reason == expect["stop_reason"]
    assert answer.dropped_call == expect["dropped_call"]
    assert [answer.usage.input_tokens, answer.usage.output_tokens] == expect["usage"]
    assert answer.usage.calls == 1
    assert answer.model == expect["model"]
    calls = [c.model_dump() for c in answer.tool_calls]
    for got, want in zip(calls, expect["tool_calls"], strict=True):
        if want["id"] == "*":
            assert got["id"].startswith("call_")
            want = {**want, "id": got["id"]}
        assert got == want
