"""The offline replay model server: matching, errors, and bad scenario files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.model.openai_compat import OpenAICompatibleProvider
from activities.model.provider import ChatMessage, StructuredRequest
from devstack.model_server.scenario import ScenarioError, load_scenario
from devstack.model_server.testing import running_model_server
from tests.model.replay_app import serving

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
model: replay-test
rules:
  - schema: plan
    when: ["Stage: plan", "rejected"]
    reply: {summary: second plan}
  - schema: plan
    when: ["Stage: plan"]
    reply: {summary: first plan}
  - schema: edit_set
    when: ["Purpose: fix"]
    reply: '{"raw": "string reply"}'
    finish_reason: length
  - schema: review_verdict
    status: 429
    headers: {retry-after: "3"}
    error_body: {error: {message: slow down, type: rate_limit}}
"""


@pytest.fixture
async def server_url(tmp_path: Path) -> AsyncIterator[str]:
    async with serving(SCENARIO, tmp_path) as url:
        yield url


def chat(schema: str, *texts: str, tool: bool = False) -> dict[str, object]:
    body: dict[str, object] = {
        "model": "whatever",
        "messages": [{"role": "user", "content": t} for t in texts],
    }
    if tool:
        body["tools"] = [{"type": "function", "function": {"name": schema, "parameters": {}}}]
    else:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": schema}}
    return body


async def post(url: str, body: dict[str, object]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{url}/chat/completions", json=body)


async def test_first_matching_rule_answers_in_the_openai_shape(server_url: str) -> None:
    response = await post(server_url, chat("plan", "Stage: plan", "Issue #1"))

    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion" and data["id"] and data["created"] > 0
    assert data["model"] == "whatever"
    choice = data["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert json.loads(choice["message"]["content"]) == {"summary": "first plan"}
    usage = data["usage"]
    assert usage["prompt_tokens"] == len("Stage: plan\nIssue #1") // 4
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_every_when_substring_is_needed_and_order_decides(server_url: str) -> None:
    # The substrings may sit in different messages; matching is over all of them.
    first = await post(server_url, chat("plan", "Stage: plan", "the plan was rejected"))
    again = await post(server_url, chat("plan", "Stage: plan", "the plan was rejected"))

    content = first.json()["choices"][0]["message"]["content"]
    assert json.loads(content) == {"summary": "second plan"}
    assert again.json()["choices"][0]["message"]["content"] == content  # stateless


async def test_raw_string_reply_and_finish_reason(server_url: str) -> None:
    response = await post(server_url, chat("edit_set", "Stage: edits\nPurpose: fix"))

    choice = response.json()["choices"][0]
    assert choice["message"]["content"] == '{"raw": "string reply"}'
    assert choice["finish_reason"] == "length"


async def test_tool_requests_get_tool_calls_the_provider_reads(server_url: str) -> None:
    response = await post(server_url, chat("plan", "Stage: plan", tool=True))

    call = response.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "plan"
    assert json.loads(call["function"]["arguments"]) == {"summary": "first plan"}


async def test_no_matching_rule_is_an_openai_error_naming_the_schema(server_url: str) -> None:
    response = await post(server_url, chat("edit_set", "Stage: edits\nPurpose: task"))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "no scenario rule matched" in error["message"] and "'edit_set'" in error["message"]


async def test_error_rules_reach_the_provider_as_retryable_with_delay(server_url: str) -> None:
    provider = OpenAICompatibleProvider(server_url, "replay-test")
    request = StructuredRequest(
        messages=[ChatMessage(role="user", content="Stage: review")],
        schema_name="review_verdict",
        json_schema={},
    )
    try:
        with pytest.raises(ApplicationError) as caught:
            await provider.complete(request)
    finally:
        await provider.aclose()

    assert not caught.value.non_retryable
    assert caught.value.next_retry_delay == timedelta(seconds=3)
    assert "slow down" in caught.value.message


async def test_models_lists_the_scenario_model(server_url: str) -> None:
    async with httpx.AsyncClient() as http:
        data = (await http.get(f"{server_url}/models")).json()

    assert [m["id"] for m in data["data"]] == ["replay-test"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- schema: plan\n  reply: {a: 1}\n- when: [x]\n  reply: {}\n",
            "rule 1, key schema: Field required",
        ),
        (
            "- schema: plan\n  when: Stage\n  reply: {}\n",
            "rule 0, key when: Input should be a valid list",
        ),
        (
            "- schema: plan\n  when: []\n",
            "rule 0: Value error, a rule with status 200 needs a reply",
        ),
        ("- schema: plan\n  reply: {}\n  colour: red\n", "rule 0, key colour: Extra inputs"),
        ("- schema: plan\n  reply: [unclosed\n", "unreadable YAML"),
        ("just text\n", "expected a list of rules"),
        ("rules: []\n", "key rules: List should have at least 1 item"),
    ],
)
def test_bad_scenarios_are_explained_with_file_and_rule(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_server_exits_with_one_line_for_a_bad_scenario(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("- schema: plan\n  when: Stage\n  reply: {}\n")
    done = subprocess.run(
        [sys.executable, "-m", "devstack.model_server", "--port", "0", "--scenario", str(path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and "rule 0, key when" in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_missing_scenario_file_is_one_line_too(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(RuntimeError) as caught, running_model_server(missing):
        pass

    message = str(caught.value)
    assert "exited with 2" in message and "nope.yaml: cannot read" in message


def test_running_model_server_serves_until_closed(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    with running_model_server(path) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        response = httpx.post(f"{url}/chat/completions", json=chat("plan", "Stage: plan"))
        assert response.status_code == 200

    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/models", timeout=2)
