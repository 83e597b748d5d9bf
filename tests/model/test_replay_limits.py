"""The replay server enforces output limits and counts tokens the way real APIs report them."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.model.anthropic import AnthropicProvider
from activities.model.openai_compat import OpenAICompatibleProvider
from activities.model.provider import ToolRequest
from devstack.model_server.answer import Answer, ToolUse, count_tokens, limit_answer
from domain.agent import AgentMessage
from domain.model import tool_specs
from tests.model.replay_app import serving

LONG = "x" * 100  # 25 tokens
SCENARIO = f"""\
rules:
  - schema: note
    reply: {{text: "{LONG}"}}
  - when: ["Purpose: task"]
    trajectory:
      - text: "{LONG}"
        tool_calls:
          - name: view
            arguments: {{path: a.py}}
          - name: create
            arguments: {{path: b.py, file_text: "{LONG}"}}
"""
REPLY = json.dumps({"text": LONG})  # 112 characters: 28 tokens
TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {}}} for n in ("view", "create")
]
ANTHROPIC_TOOLS = [{"name": n, "input_schema": {"type": "object"}} for n in ("view", "create")]
VERSION = {"anthropic-version": "2023-06-01"}


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    async with serving(SCENARIO, tmp_path) as url:
        yield url


async def openai(url: str, **body: Any) -> httpx.Response:
    body.setdefault("messages", [{"role": "user", "content": "Purpose: task"}])
    async with httpx.AsyncClient() as http:
        return await http.post(f"{url}/chat/completions", json={"model": "m", **body})


async def anthropic(url: str, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    body.setdefault("messages", [{"role": "user", "content": "Purpose: task"}])
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{url}/messages",
            json={"model": "m", **body},
            headers=VERSION if headers is None else headers,
        )


def structured(name: str = "note") -> dict[str, Any]:
    return {"response_format": {"type": "json_schema", "json_schema": {"name": name}}}


def test_tokens_are_a_quarter_of_the_characters_rounded_up() -> None:
    assert [count_tokens("x" * n) for n in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]


@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
async def test_openai_content_is_cut_at_the_limit(url: str, key: str) -> None:
    whole = (await openai(url, **structured())).json()
    cut = (await openai(url, **structured(), **{key: 10})).json()

    assert whole["choices"][0]["message"]["content"] == REPLY
    assert whole["choices"][0]["finish_reason"] == "stop"
    assert whole["usage"]["completion_tokens"] == math.ceil(len(REPLY) / 4)
    choice = cut["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == REPLY[:40]
    assert cut["usage"]["completion_tokens"] == 10
    assert cut["usage"]["prompt_tokens"] == count_tokens("Purpose: task")
    assert cut["usage"]["total_tokens"] == cut["usage"]["prompt_tokens"] + 10


async def test_an_answer_that_just_fits_is_whole(url: str) -> None:
    exact = (await openai(url, **structured(), max_tokens=count_tokens(REPLY))).json()

    assert exact["choices"][0]["finish_reason"] == "stop"
    assert exact["choices"][0]["message"]["content"] == REPLY


async def test_openai_tool_call_is_cut_inside_its_arguments(url: str) -> None:
    # 100 words + "view" + {"path": "a.py"} (16) + "create" + the create arguments.
    response = await openai(url, tools=TOOLS, max_tokens=35)

    data = response.json()
    choice = data["choices"][0]
    assert choice["finish_reason"] == "length"
    message = choice["message"]
    assert message["content"] == LONG
    calls = message["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["view", "create"]
    assert calls[0]["function"]["arguments"] == '{"path": "a.py"}'
    cut_arguments = calls[1]["function"]["arguments"]
    assert len(cut_arguments) == 140 - 100 - 4 - 16 - 6
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut_arguments)
    assert data["usage"]["completion_tokens"] == 35


async def test_openai_calls_past_the_cut_are_left_out(url: str) -> None:
    message = (await openai(url, tools=TOOLS, max_tokens=28)).json()["choices"][0]["message"]

    assert [c["function"]["name"] for c in message["tool_calls"]] == ["view"]
    assert message["tool_calls"][0]["function"]["arguments"] == '{"path": "a.py"}'[:8]


async def test_anthropic_cut_tool_use_comes_last_without_its_input(url: str) -> None:
    whole = (await anthropic(url, tools=ANTHROPIC_TOOLS, max_tokens=1000)).json()
    cut = (await anthropic(url, tools=ANTHROPIC_TOOLS, max_tokens=35)).json()

    assert whole["stop_reason"] == "tool_use"
    assert [b["type"] for b in whole["content"]] == ["text", "tool_use", "tool_use"]
    assert whole["usage"]["output_tokens"] == count_tokens(
        LONG + 'view{"path": "a.py"}' + "create" + json.dumps({"path": "b.py", "file_text": LONG})
    )
    assert cut["stop_reason"] == "max_tokens"
    assert [b["type"] for b in cut["content"]] == ["text", "tool_use", "tool_use"]
    assert cut["content"][1]["input"] == {"path": "a.py"}
    assert cut["content"][2] == {
        "type": "tool_use",
        "id": "toolu_0_1",
        "name": "create",
        "input": {},
    }
    assert cut["usage"]["output_tokens"] == 35


async def test_anthropic_structured_answer_cut_is_an_incomplete_tool_use(url: str) -> None:
    forced: dict[str, Any] = {
        "tools": [{"name": "note", "input_schema": {}}],
        "tool_choice": {"type": "tool", "name": "note"},
    }
    whole = (await anthropic(url, max_tokens=100, **forced)).json()
    cut = (await anthropic(url, max_tokens=10, **forced)).json()

    assert whole["content"] == [
        {"type": "tool_use", "id": "toolu_0_0", "name": "note", "input": {"text": LONG}}
    ]
    assert whole["stop_reason"] == "tool_use"
    assert cut["content"] == [{"type": "tool_use", "id": "toolu_0_0", "name": "note", "input": {}}]
    assert cut["stop_reason"] == "max_tokens"
    assert cut["usage"] == {"input_tokens": whole["usage"]["input_tokens"], "output_tokens": 10}


async def test_anthropic_text_is_cut_too(url: str) -> None:
    cut = (await anthropic(url, tools=ANTHROPIC_TOOLS, max_tokens=5)).json()

    assert cut["content"] == [{"type": "text", "text": LONG[:20]}]
    assert cut["stop_reason"] == "max_tokens"


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (
            {"max_tokens": 0},
            "Invalid 'max_tokens': integer below minimum",
            "integer_below_min_value",
        ),
        (
            {"max_completion_tokens": "9"},
            "Invalid 'max_completion_tokens'",
            "integer_below_min_value",
        ),
        (
            {"max_tokens": 5, "max_completion_tokens": 5},
            "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.",
            "invalid_parameter_combination",
        ),
    ],
)
async def test_openai_refuses_bad_limits(
    url: str, body: dict[str, Any], message: str, code: str
) -> None:
    response = await openai(url, **structured(), **body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and message in error["message"]
    assert error["code"] == code and error["param"] in body


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        (VERSION, {}, "max_tokens: Field required"),
        (VERSION, {"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
        ({}, {"max_tokens": 10}, "anthropic-version"),
    ],
)
async def test_anthropic_refuses_what_the_real_api_refuses(
    url: str, headers: dict[str, str], body: dict[str, Any], message: str
) -> None:
    response = await anthropic(url, headers=headers, tools=ANTHROPIC_TOOLS, **body)

    assert response.status_code == 400
    data = response.json()
    assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error"
    assert message in data["error"]["message"]


async def test_prompt_tokens_count_calls_results_and_tools(url: str) -> None:
    messages = [
        {"role": "user", "content": "Purpose: task"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "view", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": "1\thello"},
    ]
    data = (await openai(url, messages=messages, tools=TOOLS, max_tokens=500)).json()

    # Past the one-step trajectory: the server says so instead of inventing a turn.
    assert "has 1 steps; the conversation is at turn 1" in data["error"]["message"]
    data = (await openai(url, messages=messages[:1], tools=TOOLS)).json()
    tools_json = json.dumps(TOOLS, ensure_ascii=False, sort_keys=True)
    assert data["usage"]["prompt_tokens"] == count_tokens("Purpose: task" + tools_json)


def test_limit_answer_without_a_limit_keeps_everything() -> None:
    answer = Answer(text="hi", calls=[ToolUse("view", {"path": "a"})])

    sent = limit_answer(answer, None)
    assert not sent.cut and sent.text == "hi" and sent.calls[0].complete
    assert sent.output_tokens == answer.tokens()


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
async def test_the_providers_read_a_cut_turn_as_cut(url: str, wire: str) -> None:
    """The worker's providers against the server: the cut call is dropped, the rest kept."""
    request = ToolRequest(
        system="",
        messages=[AgentMessage(role="user", text="Purpose: task")],
        tools=tool_specs(["view", "create"]),
        max_output_tokens=35,
    )
    provider: OpenAICompatibleProvider | AnthropicProvider
    if wire == "openai":
        provider = OpenAICompatibleProvider(url, "replay")
    else:
        provider = AnthropicProvider(url, "replay")
    try:
        answer = await provider.converse(request)
        whole = await provider.converse(request.model_copy(update={"max_output_tokens": 1000}))
    finally:
        await provider.aclose()

    assert answer.stop_reason == "length" and answer.dropped_call == "create"
    assert [(c.name, c.arguments) for c in answer.tool_calls] == [("view", {"path": "a.py"})]
    assert answer.text == LONG and answer.usage.output_tokens == 35
    assert whole.stop_reason == "tool_use" and whole.dropped_call is None
    assert [c.name for c in whole.tool_calls] == ["view", "create"]
    assert whole.tool_calls[1].arguments == {"path": "b.py", "content": LONG}  # the spec's name
