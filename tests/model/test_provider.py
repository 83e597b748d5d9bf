"""The OpenAI-compatible provider against a local server speaking the wire format."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.model.openai_compat import OpenAICompatibleProvider
from activities.model.provider import ChatMessage, StructuredRequest
from domain.names import ERR_MODEL_REQUEST_REJECTED, ERR_MODEL_UNAVAILABLE
from tests.model.stub_openai import KEY, Reply, StubServer, completion

MakeProvider = Callable[..., OpenAICompatibleProvider]

REQUEST = StructuredRequest(
    messages=[
        ChatMessage(role="system", content="answer JSON"),
        ChatMessage(role="user", content="Stage: plan"),
    ],
    schema_name="plan",
    json_schema={"type": "object", "properties": {"summary": {"type": "string"}}},
    max_output_tokens=321,
)


async def test_success_sends_the_wire_format_and_reads_the_answer(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(
        completion(
            '{"summary": "ok"}',
            usage={"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            model="served-model",
        )
    )
    answer = await make_provider().complete(REQUEST)

    assert answer.content == '{"summary": "ok"}'
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (11, 7)
    assert answer.model == "served-model"
    assert answer.finish_reason == "stop"
    sent = stub.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "stub-model"
    assert sent.body["messages"] == [m.model_dump() for m in REQUEST.messages]
    assert sent.body["max_tokens"] == 321
    assert sent.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "plan", "schema": REQUEST.json_schema, "strict": False},
    }


async def test_no_key_means_no_authorization_header_and_missing_usage_is_zero(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(completion('{"summary": "ok"}'))
    answer = await make_provider(api_key=None).complete(REQUEST)

    assert "Authorization" not in stub.requests[0].headers
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (0, 0)


@pytest.mark.parametrize(
    "arguments", ['{"summary": "from a tool"}', {"summary": "from a tool"}], ids=["str", "obj"]
)
async def test_tool_call_arguments_are_the_answer(
    stub: StubServer, make_provider: MakeProvider, arguments: object
) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "plan", "arguments": arguments}}
    stub.script(completion(None, tool_calls=[call], finish_reason="tool_calls"))
    answer = await make_provider().complete(REQUEST)

    assert json.loads(answer.content) == {"summary": "from a tool"}


async def test_truncated_answer_is_returned_marked_not_raised(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(completion('{"summ', finish_reason="length"))
    answer = await make_provider().complete(REQUEST)

    assert answer.truncated
    assert answer.content == '{"summ'


async def test_429_with_retry_after_is_retryable_with_that_delay(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    body = {"error": {"message": "Rate limit reached", "type": "requests"}}
    stub.script(Reply(status=429, body=body, headers={"retry-after": "7"}))
    with pytest.raises(ApplicationError) as caught:
        await make_provider().complete(REQUEST)

    assert not caught.value.non_retryable
    assert caught.value.type == ERR_MODEL_UNAVAILABLE
    assert caught.value.next_retry_delay == timedelta(seconds=7)
    assert "Rate limit reached" in caught.value.message


async def test_429_insufficient_quota_is_non_retryable(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    body = {"error": {"message": "You exceeded your quota", "code": "insufficient_quota"}}
    stub.script(Reply(status=429, body=body, headers={"retry-after": "7"}))
    with pytest.raises(ApplicationError) as caught:
        await make_provider().complete(REQUEST)

    assert caught.value.non_retryable
    assert caught.value.type == ERR_MODEL_REQUEST_REJECTED


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_rejections_are_non_retryable_and_never_show_the_key(
    stub: StubServer, make_provider: MakeProvider, status: int
) -> None:
    # Real providers echo (parts of) a bad key back; it must not reach the error message.
    body = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid"}}
    stub.script(Reply(status=status, body=body))
    provider = make_provider()
    with pytest.raises(ApplicationError) as caught:
        await provider.complete(REQUEST)

    assert caught.value.non_retryable
    assert caught.value.type == ERR_MODEL_REQUEST_REJECTED
    assert f"HTTP {status}" in caught.value.message
    assert "Incorrect API key provided" in caught.value.message
    assert KEY not in str(caught.value) and KEY not in repr(caught.value.details)
    assert KEY not in repr(provider)


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_server_errors_are_retryable(
    stub: StubServer, make_provider: MakeProvider, status: int
) -> None:
    stub.script(Reply(status=status, body="<html>upstream trouble</html>"))
    with pytest.raises(ApplicationError) as caught:
        await make_provider().complete(REQUEST)

    assert not caught.value.non_retryable
    assert caught.value.type == ERR_MODEL_UNAVAILABLE
    assert caught.value.next_retry_delay is None
    assert f"HTTP {status}" in caught.value.message


async def test_timeout_is_retryable(stub: StubServer, make_provider: MakeProvider) -> None:
    stub.script(Reply(body=completion().body, delay_seconds=1.0))
    with pytest.raises(ApplicationError) as caught:
        await make_provider(timeout_seconds=0.2).complete(REQUEST)

    assert not caught.value.non_retryable
    assert "timed out" in caught.value.message


async def test_connection_refused_is_retryable(make_provider: MakeProvider) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago, now closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ApplicationError) as caught:
        await make_provider(base_url=f"http://127.0.0.1:{port}/v1").complete(REQUEST)

    assert not caught.value.non_retryable
    assert "connection failed" in caught.value.message


async def test_success_status_without_a_completion_is_retryable(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(Reply(body={"unexpected": True}))
    with pytest.raises(ApplicationError) as caught:
        await make_provider().complete(REQUEST)

    assert not caught.value.non_retryable
    assert "not a chat completion" in caught.value.message


async def test_server_without_json_schema_support_gets_a_forced_function_tool(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "plan", "arguments": "{}"}}
    stub.script(
        Reply(status=400, body={"error": {"message": "response_format json_schema unsupported"}}),
        completion(None, tool_calls=[call], finish_reason="tool_calls"),
        completion(None, tool_calls=[call], finish_reason="tool_calls"),
    )
    provider = make_provider()
    assert (await provider.complete(REQUEST)).content == "{}"
    await provider.complete(REQUEST)  # remembered: no second refused attempt

    assert "response_format" in stub.requests[0].body
    for sent in stub.requests[1:]:
        assert "response_format" not in sent.body
        assert sent.body["tool_choice"] == {"type": "function", "function": {"name": "plan"}}
        assert sent.body["tools"][0]["function"]["parameters"] == REQUEST.json_schema
    assert len(stub.requests) == 3


async def test_429_spend_limit_is_non_retryable(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    body = {"error": {"message": "You have hit your monthly spend limit"}}
    stub.script(Reply(status=429, body=body))
    with pytest.raises(ApplicationError) as caught:
        await make_provider().complete(REQUEST)
    assert caught.value.non_retryable and caught.value.type == ERR_MODEL_REQUEST_REJECTED
