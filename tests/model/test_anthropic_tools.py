"""Tool calling over the Anthropic Messages wire format, against recorded shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.exceptions import ApplicationError

from activities.model.anthropic import ANTHROPIC_VERSION, AnthropicProvider
from activities.model.anthropic_tools import wire_messages
from activities.model.tool_messages import EMPTY_TEXT, MISSING_RESULT
from devstack.anthropic_stub import AnthropicStub, Reply, error, serving
from domain.agent import AgentMessage, ToolCall, ToolResult
from domain.names import ERR_MODEL_REQUEST_REJECTED, ERR_MODEL_UNAVAILABLE
from tests.model.agent_samples import REQUEST, assert_answer, fixture

KEY = "sk-ant-test-0123456789abcdef"
WIRE = fixture("anthropic_tools.json")


@pytest.fixture
async def stub() -> AsyncIterator[AnthropicStub]:
    server = AnthropicStub(api_key=KEY)
    async with serving(server):
        yield server


@pytest.fixture
async def provider(stub: AnthropicStub) -> AsyncIterator[AnthropicProvider]:
    made = AnthropicProvider(stub.base_url, "claude-stub", KEY, timeout_seconds=5)
    yield made
    await made.aclose()


@pytest.mark.parametrize("case", sorted(WIRE["responses"]))
async def test_recorded_responses_become_normalised_turns(
    stub: AnthropicStub, provider: AnthropicProvider, case: str
) -> None:
    recorded = WIRE["responses"][case]
    stub.script(Reply(body=recorded["response"]))

    answer = await provider.converse(REQUEST)

    assert_answer(answer, recorded["expect"])


async def test_the_conversation_is_sent_in_the_wire_format(
    stub: AnthropicStub, provider: AnthropicProvider
) -> None:
    stub.script(Reply(body=WIRE["responses"]["end_turn"]["response"]))
    await provider.converse(REQUEST)

    sent = stub.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert sent.body["model"] == "claude-stub"
    assert sent.body["max_tokens"] == 1234
    assert sent.body["system"] == WIRE["conversation_body"]["system"]
    # The tool results and the loop's note were two messages; the API wants one user turn.
    assert sent.body["messages"] == WIRE["conversation_body"]["messages"]
    assert "tool_choice" not in sent.body
    assert sent.body["tools"] == [
        {"name": s.name, "description": s.description, "input_schema": s.parameters}
        for s in REQUEST.tools
    ]


def test_turns_alternate_results_come_first_and_nothing_is_empty() -> None:
    call = ToolCall(id="call.7/x", name="view", arguments={"path": "a.py"})
    messages = [
        AgentMessage(role="user", text="brief"),
        AgentMessage(role="user", text="more"),
        AgentMessage(role="assistant", tool_calls=[call]),
        AgentMessage(role="user", text="a person says hi"),  # no result: one is made up
        AgentMessage(role="assistant"),  # an empty turn still has content
    ]
    turns = wire_messages(messages)

    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[0]["content"] == [
        {"type": "text", "text": "brief"},
        {"type": "text", "text": "more"},
    ]
    use = turns[1]["content"][0]
    assert use["id"] == "call_7_x"  # another provider's id, made acceptable
    answer = turns[2]["content"]
    assert answer[0] == {
        "type": "tool_result",
        "tool_use_id": "call_7_x",
        "content": MISSING_RESULT,
        "is_error": True,
    }
    assert answer[1] == {"type": "text", "text": "a person says hi"}
    assert turns[3]["content"] == [{"type": "text", "text": EMPTY_TEXT}]


def test_a_result_for_no_call_becomes_text() -> None:
    orphan = ToolResult(call_id="gone", name="run", output="exit 0")
    turns = wire_messages(
        [AgentMessage(role="user", text="brief"), AgentMessage(role="tool", results=[orphan])]
    )

    assert len(turns) == 1
    assert [b["type"] for b in turns[0]["content"]] == ["text", "text"]
    assert "Result of run (gone):\nexit 0" in turns[0]["content"][1]["text"]


async def test_context_window_exceeded_is_a_rejection(
    stub: AnthropicStub, provider: AnthropicProvider
) -> None:
    body = dict(WIRE["responses"]["max_tokens_in_text"]["response"])
    body["stop_reason"] = "model_context_window_exceeded"
    stub.script(Reply(body=body))

    with pytest.raises(ApplicationError) as caught:
        await provider.converse(REQUEST)

    assert caught.value.type == ERR_MODEL_REQUEST_REJECTED and caught.value.non_retryable


async def test_errors_and_garbage(stub: AnthropicStub, provider: AnthropicProvider) -> None:
    stub.script(
        error(529, "overloaded_error", "Overloaded"),
        Reply(body={"type": "message", "content": "not a list"}),
        error(400, "invalid_request_error", "messages.1: tool_use ids were found without..."),
    )
    for expected in (ERR_MODEL_UNAVAILABLE, ERR_MODEL_UNAVAILABLE, ERR_MODEL_REQUEST_REJECTED):
        with pytest.raises(ApplicationError) as caught:
            await provider.converse(REQUEST)
        assert caught.value.type == expected
        assert KEY not in str(caught.value)
