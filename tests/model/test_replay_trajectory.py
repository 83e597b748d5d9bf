"""Scripted tool-calling trajectories: one step per assistant turn, on both wire formats."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.model_server.scenario import ScenarioError, load_scenario
from devstack.model_server.toolbox import tool_definitions
from tests.model.replay_app import serving

SCENARIO = """\
rules:
  - schema: plan
    when: ["Stage: plan"]
    reply: {summary: a plan}
  - when: ["Purpose: fix"]
    note: the fix
    trajectory:
      - tool_calls: [{name: view, arguments: {path: a.py}}]
      - choices:
          - when_last_result: ["return a > b"]
            text: The comparison is strict.
            tool_calls:
              - name: str_replace
                arguments: {path: a.py, old_str: "return a > b", new_str: "return a >= b"}
              - name: run
                arguments: {command: pytest -q}
          - tool_calls: [{name: finish, arguments: {summary: already fixed}}]
      - text: Fixed the comparison.
  - when: ["Purpose: task"]
    trajectory:
      - tool_calls: [{name: create, arguments: {path: b.py, file_text: "x = 1\\n"}}]
"""
OPENAI_TOOLS = tool_definitions("openai")
ANTHROPIC_TOOLS = tool_definitions("anthropic")


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    async with serving(SCENARIO, tmp_path) as url:
        yield url


async def post(url: str, path: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"anthropic-version": "2023-06-01"}
    async with httpx.AsyncClient() as http:
        return await http.post(f"{url}{path}", json={"model": "m", **body}, headers=headers)


async def openai_turn(url: str, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {"messages": messages, "tools": OPENAI_TOOLS, "max_tokens": 1000, **extra}
    response = await post(url, "/chat/completions", body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def tool_result(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


async def test_openai_steps_follow_the_assistant_turns(url: str) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You fix bugs."},
        {"role": "user", "content": "Stage: implement\nPurpose: fix\nTask: t1"},
    ]
    first = await openai_turn(url, messages)
    choice = first["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == "call_0_0" and call["type"] == "function"
    assert call["function"] == {"name": "view", "arguments": json.dumps({"path": "a.py"})}
    again = await openai_turn(url, messages)  # stateless: the same conversation, the same answer
    assert again["choices"] == first["choices"] and again["usage"] == first["usage"]

    messages += [
        choice["message"],
        tool_result("call_0_0", "1\tdef gt(a, b):\n2\t    return a > b"),
    ]
    second = (await openai_turn(url, messages))["choices"][0]
    assert second["message"]["content"] == "The comparison is strict."
    calls = second["message"]["tool_calls"]
    assert [c["id"] for c in calls] == ["call_1_0", "call_1_1"]
    assert json.loads(calls[0]["function"]["arguments"]) == {
        "path": "a.py",
        "old_str": "return a > b",
        "new_str": "return a >= b",
    }
    assert calls[1]["function"]["name"] == "run"

    messages += [
        second["message"],
        tool_result("call_1_0", "Edited a.py"),
        tool_result("call_1_1", "1 passed"),
    ]
    third = (await openai_turn(url, messages))["choices"][0]
    assert third["finish_reason"] == "stop"
    assert third["message"] == {"role": "assistant", "content": "Fixed the comparison."}

    messages += [third["message"], {"role": "user", "content": "Anything else?"}]
    response = await post(url, "/chat/completions", {"messages": messages, "tools": OPENAI_TOOLS})
    assert response.status_code == 400
    assert "has 3 steps; the conversation is at turn 3" in response.json()["error"]["message"]


async def test_choices_branch_on_the_last_results(url: str) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Purpose: fix"}]
    first = (await openai_turn(url, messages))["choices"][0]["message"]
    messages += [first, tool_result("call_0_0", "1\tdef gt(a, b):\n2\t    return a >= b")]

    second = (await openai_turn(url, messages))["choices"][0]["message"]
    [call] = second["tool_calls"]
    assert call["function"]["name"] == "finish"
    assert json.loads(call["function"]["arguments"]) == {"summary": "already fixed"}


async def test_anthropic_steps_use_tool_use_and_tool_result_blocks(url: str) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Purpose: fix\nTask: t1"}]
    body = {"system": "You fix bugs.", "tools": ANTHROPIC_TOOLS, "max_tokens": 1000}
    first = (await post(url, "/messages", {**body, "messages": messages})).json()
    assert first["type"] == "message" and first["role"] == "assistant"
    assert first["stop_reason"] == "tool_use"
    assert first["content"] == [
        {"type": "tool_use", "id": "toolu_0_0", "name": "view", "input": {"path": "a.py"}}
    ]

    result = {"type": "tool_result", "tool_use_id": "toolu_0_0", "content": "2\treturn a > b"}
    messages += [
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [result]},
    ]
    second = (await post(url, "/messages", {**body, "messages": messages})).json()
    assert [b["type"] for b in second["content"]] == ["text", "tool_use", "tool_use"]
    assert [b.get("id") for b in second["content"][1:]] == ["toolu_1_0", "toolu_1_1"]
    assert second["content"][1]["input"]["new_str"] == "return a >= b"

    results = [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1_0",
            "content": [{"type": "text", "text": "ok"}],
        },
        {"type": "tool_result", "tool_use_id": "toolu_1_1", "content": "passed"},
    ]
    messages += [
        {"role": "assistant", "content": second["content"]},
        {"role": "user", "content": results},
    ]
    third = (await post(url, "/messages", {**body, "messages": messages})).json()
    assert third["stop_reason"] == "end_turn"
    assert third["content"] == [{"type": "text", "text": "Fixed the comparison."}]


async def test_argument_names_follow_the_request_tool_schema(url: str) -> None:
    tools = [
        {"name": "view", "input_schema": {"properties": {"file_path": {}}}},
        {"name": "create", "input_schema": {"properties": {"file_path": {}, "content": {}}}},
    ]
    body = {"messages": [{"role": "user", "content": "Purpose: task"}], "max_tokens": 100}
    data = (await post(url, "/messages", {**body, "tools": tools})).json()

    assert data["content"][0]["input"] == {"file_path": "b.py", "content": "x = 1\n"}


async def test_rules_match_the_brief_not_the_tool_results(url: str) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Purpose: task"}]
    first = (await openai_turn(url, messages))["choices"][0]["message"]
    # A result that happens to say "Purpose: fix" does not switch to the fix's trajectory.
    messages += [first, tool_result("call_0_0", "Purpose: fix")]

    response = await post(url, "/chat/completions", {"messages": messages, "tools": OPENAI_TOOLS})
    assert response.status_code == 400
    assert "trajectory of scenario rule 2 has 1 steps" in response.json()["error"]["message"]


async def test_no_trajectory_and_no_choice_are_explained(url: str) -> None:
    nothing = await post(
        url,
        "/chat/completions",
        {"messages": [{"role": "user", "content": "Purpose: review"}], "tools": OPENAI_TOOLS},
    )
    assert nothing.status_code == 400
    assert "no trajectory rule or gold patch" in nothing.json()["error"]["message"]


async def test_structured_rules_still_answer_beside_trajectories(url: str) -> None:
    plan_tool = [{"type": "function", "function": {"name": "plan", "parameters": {}}}]
    messages = [{"role": "user", "content": "Stage: plan\nPurpose: fix"}]
    data = (await post(url, "/chat/completions", {"messages": messages, "tools": plan_tool})).json()

    call = data["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "plan"
    assert json.loads(call["function"]["arguments"]) == {"summary": "a plan"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- schema: plan\n  trajectory: [{text: hi}]\n",
            "rule 0: Value error, a trajectory rule answers tool-calling requests: no schema",
        ),
        ("- trajectory: [{}]\n", "rule 0, key trajectory.0: Value error, a step needs text"),
        ("- trajectory: []\n", "rule 0, key trajectory: List should have at least 1 item"),
        (
            "- trajectory: [{text: a, choices: [{text: b}]}]\n",
            "a step has either choices or text/tool_calls",
        ),
        ("- trajectory: [{text: a}]\n  reply: {}\n", "a trajectory rule has no reply"),
        ("- trajectory: [{tool_calls: [{arguments: {}}]}]\n", "tool_calls.0.name: Field required"),
    ],
)
def test_bad_trajectories_are_explained(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert expected in str(caught.value)
