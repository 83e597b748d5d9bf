"""Tool calling over the OpenAI chat-completions wire format, against recorded shapes."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from temporalio.exceptions import ApplicationError

from activities.model.openai_compat import OpenAICompatibleProvider
from activities.model.provider import ChatMessage, StructuredRequest
from domain.agent import AgentMessage
from domain.names import ERR_MODEL_REQUEST_REJECTED, ERR_MODEL_UNAVAILABLE
from tests.model.agent_samples import REQUEST, assert_answer, fixture
from tests.model.stub_openai import KEY, Reply, StubServer

MakeProvider = Callable[..., OpenAICompatibleProvider]
WIRE = fixture("openai_tools.json")


@pytest.mark.parametrize("case", sorted(WIRE["responses"]))
async def test_recorded_responses_become_normalised_turns(
    stub: StubServer, make_provider: MakeProvider, case: str
) -> None:
    recorded = WIRE["responses"][case]
    stub.script(Reply(body=recorded["response"]))

    answer = await make_provider().converse(REQUEST)

    assert_answer(answer, recorded["expect"])


async def test_the_conversation_is_sent_in_the_wire_format(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(Reply(body=WIRE["responses"]["final_text"]["response"]))
    await make_provider().converse(REQUEST)

    sent = stub.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "stub-model"
    assert sent.body["max_tokens"] == 1234
    assert "max_completion_tokens" not in sent.body
    assert "tool_choice" not in sent.body and "response_format" not in sent.body
    assert sent.body["messages"] == WIRE["conversation_messages"]
    assert sent.body["tools"] == [
        {
            "type": "function",
            "function": {"name": s.name, "description": s.description, "parameters": s.parameters},
        }
        for s in REQUEST.tools
    ]
    # Arguments travel as a JSON string, results as one "tool" message per call.
    call = sent.body["messages"][2]["tool_calls"][0]
    assert isinstance(call["function"]["arguments"], str)


async def test_an_unparsed_call_is_echoed_as_valid_json(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    """A call kept with its raw text goes back as a JSON object: servers parse the history."""
    bad = WIRE["responses"]["malformed_arguments"]
    stub.script(
        Reply(body=bad["response"]), Reply(body=WIRE["responses"]["final_text"]["response"])
    )
    provider = make_provider()
    turn = await provider.converse(REQUEST)
    follow_up = REQUEST.model_copy(
        update={
            "messages": [
                REQUEST.messages[0],
                AgentMessage(role="assistant", tool_calls=turn.tool_calls),
            ]
        }
    )
    await provider.converse(follow_up)

    echoed = stub.requests[1].body["messages"][2]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(echoed) == {"_unparsed_arguments": "{'path': 'app/parser.py'}"}
    # ...and the call that got no result is answered with an error result, as the API requires.
    assert stub.requests[1].body["messages"][3]["role"] == "tool"


@pytest.mark.parametrize("kind", ["converse", "complete"])
async def test_max_completion_tokens_is_sent_when_configured(stub: StubServer, kind: str) -> None:
    stub.script(Reply(body=WIRE["responses"]["final_text"]["response"]))
    provider = OpenAICompatibleProvider(
        stub.base_url, "o-model", KEY, 5, token_limit_field="max_completion_tokens"
    )
    try:
        await _call(provider, kind)
    finally:
        await provider.aclose()

    body = stub.requests[0].body
    assert "max_tokens" not in body
    assert body["max_completion_tokens"] == (1234 if kind == "converse" else 55)


async def test_a_refused_max_tokens_switches_to_max_completion_tokens_for_good(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    final = WIRE["responses"]["final_text"]["response"]
    stub.script(
        Reply(status=400, body=WIRE["refused_max_tokens"]), Reply(body=final), Reply(body=final)
    )
    provider = make_provider()
    await provider.converse(REQUEST)
    await _call(provider, "complete")

    sent = [r.body for r in stub.requests]
    assert sent[0]["max_tokens"] == 1234 and "max_completion_tokens" not in sent[0]
    assert sent[1]["max_completion_tokens"] == 1234 and "max_tokens" not in sent[1]
    assert sent[2]["max_completion_tokens"] == 55 and "max_tokens" not in sent[2]


async def test_other_400s_are_rejections_and_garbage_is_unavailable(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(
        Reply(status=400, body={"error": {"message": "tools[0].function.name is invalid"}}),
        Reply(body={"object": "list", "data": []}),
    )
    provider = make_provider()
    with pytest.raises(ApplicationError) as rejected:
        await provider.converse(REQUEST)
    with pytest.raises(ApplicationError) as broken:
        await provider.converse(REQUEST)

    assert rejected.value.type == ERR_MODEL_REQUEST_REJECTED and rejected.value.non_retryable
    assert broken.value.type == ERR_MODEL_UNAVAILABLE
    assert len(stub.requests) == 2
    assert KEY not in str(rejected.value) + str(broken.value)


async def _call(provider: OpenAICompatibleProvider, kind: str) -> None:
    if kind == "converse":
        await provider.converse(REQUEST)
        return
    request = StructuredRequest(
        messages=[ChatMessage(role="user", content="Stage: plan")],
        schema_name="plan",
        json_schema={"type": "object"},
        max_output_tokens=55,
    )
    await provider.complete(request)
