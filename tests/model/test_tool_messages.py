"""The tools as offered, and what both wire formats share: paired results, arguments."""

from __future__ import annotations

import typing

import jsonschema
import pytest

from activities.model.openai_tools import wire_messages
from activities.model.provider import ToolRequest
from activities.model.tool_messages import MISSING_RESULT, paired, parse_arguments
from domain.agent import ALL_TOOLS, AgentMessage, ToolCall, ToolName, ToolResult
from domain.model import RAW_ARGUMENTS_KEY, TOOL_SPECS, tool_specs


def test_every_tool_has_one_valid_schema() -> None:
    assert set(TOOL_SPECS) == set(typing.get_args(ToolName)) == set(ALL_TOOLS)
    for name, spec in TOOL_SPECS.items():
        assert spec.name == name and spec.description
        jsonschema.Draft202012Validator.check_schema(spec.parameters)
        assert spec.parameters["type"] == "object"
    assert TOOL_SPECS["str_replace"].parameters["required"] == ["path", "old_str", "new_str"]
    assert [s.name for s in tool_specs(["finish", "view", "finish"])] == ["finish", "view"]


@pytest.mark.parametrize(
    ("tool", "arguments", "valid"),
    [
        ("view", {"path": "a.py", "view_range": [1, 20]}, True),
        ("view", {"path": "a.py", "view_range": [1]}, False),
        ("insert", {"path": "a.py", "insert_line": 0, "new_str": "x"}, True),
        ("run", {"command": "pytest", "timeout_seconds": 60}, True),
        ("search", {"pattern": "x", "max_results": 0}, False),
        ("finish", {}, False),
        ("view", {RAW_ARGUMENTS_KEY: "{'path': 'a.py'}"}, False),
    ],
)
def test_schemas_accept_and_refuse(
    tool: ToolName, arguments: dict[str, object], valid: bool
) -> None:
    validator = jsonschema.Draft202012Validator(TOOL_SPECS[tool].parameters)
    assert validator.is_valid(arguments) is valid


@pytest.mark.parametrize(
    ("raw", "arguments", "ok"),
    [
        ('{"path": "a.py"}', {"path": "a.py"}, True),
        ({"path": "a.py"}, {"path": "a.py"}, True),
        ("", {}, True),
        (None, {}, True),
        ('{"path": "a.', {RAW_ARGUMENTS_KEY: '{"path": "a.'}, False),
        ("[1, 2]", {RAW_ARGUMENTS_KEY: "[1, 2]"}, False),
        (["a"], {RAW_ARGUMENTS_KEY: '["a"]'}, False),
    ],
)
def test_arguments_are_parsed_or_kept_as_text(raw: object, arguments: object, ok: bool) -> None:
    assert parse_arguments(raw) == (arguments, ok)


CALLS = [ToolCall(id="a", name="view"), ToolCall(id="b", name="run")]


def test_a_missing_result_is_made_up_and_order_follows_the_calls() -> None:
    messages = [
        AgentMessage(role="user", text="brief"),
        AgentMessage(role="assistant", tool_calls=CALLS),
        AgentMessage(
            role="tool", text="note", results=[ToolResult(call_id="b", name="run", output="ok")]
        ),
    ]
    fixed = paired(messages)

    assert [r.call_id for r in fixed[2].results] == ["b", "a"]
    assert fixed[2].results[1].output == MISSING_RESULT and fixed[2].results[1].is_error
    assert fixed[2].text == "note"


def test_a_conversation_ending_in_calls_gets_their_results() -> None:
    fixed = paired(
        [AgentMessage(role="user", text="b"), AgentMessage(role="assistant", tool_calls=CALLS)]
    )
    assert fixed[-1].role == "tool" and [r.call_id for r in fixed[-1].results] == ["a", "b"]


def test_openai_gets_one_tool_message_per_call_then_the_text() -> None:
    request = ToolRequest(
        system="",
        messages=[
            AgentMessage(role="user", text="brief"),
            AgentMessage(role="assistant", text="", tool_calls=CALLS[:1]),
            AgentMessage(role="user", text="stop that"),
            AgentMessage(role="assistant", text="ok"),
        ],
    )
    wire = wire_messages(request)

    assert [m["role"] for m in wire] == ["user", "assistant", "tool", "user", "assistant"]
    assert wire[1]["content"] is None
    assert wire[2] == {"role": "tool", "tool_call_id": "a", "content": f"Error: {MISSING_RESULT}"}
    assert wire[4] == {"role": "assistant", "content": "ok"}


def test_a_caller_changing_its_specs_leaves_the_next_callers_unchanged() -> None:
    # A test once added a property to the finish tool it was handed; every later plan loop in
    # that process then offered the changed tool and never finished.
    [finish] = tool_specs(["finish"])
    finish.parameters["properties"]["plan"] = {"type": "object"}
    finish.parameters["required"].append("plan")
    [again] = tool_specs(["finish"])
    assert again.parameters == TOOL_SPECS["finish"].parameters
    assert "plan" not in again.parameters["properties"]
    assert "plan" not in again.parameters["required"]
