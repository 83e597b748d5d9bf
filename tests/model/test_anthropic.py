"""The Anthropic provider against the local Messages wire-format stub."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from activities.model.anthropic import ANTHROPIC_VERSION, AnthropicProvider
from activities.model.provider import ChatMessage, StructuredRequest
from activities.model.structured import ask_structured
from devstack.anthropic_stub import AnthropicStub, Reply, error, serving, text, tool_use
from domain import names
from domain.names import ERR_MODEL_REQUEST_REJECTED, ERR_MODEL_UNAVAILABLE

KEY = "sk-ant-test-0123456789abcdef"
REQUEST = StructuredRequest(
    messages=[
        ChatMessage(role="system", content="answer JSON"),
        ChatMessage(role="user", content="Stage: plan"),
    ],
    schema_name="plan",
    json_schema={"type": "object", "properties": {"summary": {"type": "string"}}},
    max_output_tokens=321,
)


class Answer(BaseModel):
    summary: str


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


async def test_forced_tool_is_sent_and_its_input_is_the_answer(
    stub: AnthropicStub, provider: AnthropicProvider
) -> None:
    stub.script(tool_use("plan", {"summary": "ok"}, input_tokens=12, output_tokens=7))
    answer = await provider.complete(REQUEST)

    assert json.loads(answer.content) == {"summary": "ok"}
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (12, 7)
    sent = stub.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert sent.body["system"] == "answer JSON"
    assert sent.body["messages"] == [{"role": "user", "content": "Stage: plan"}]
    assert sent.body["max_tokens"] == 321
    assert sent.body["tool_choice"] == {"type": "tool", "name": "plan"}
    assert sent.body["tools"][0]["input_schema"] == REQUEST.json_schema


async def test_max_tokens_is_a_truncated_attempt_that_is_reasked(
    stub: AnthropicStub, provider: AnthropicProvider
) -> None:
    stub.script(
        tool_use("plan", {"summ": 1}, stop_reason="max_tokens"),
        tool_use("plan", {"summary": "short"}),
    )
    result = await ask_structured(provider, REQUEST, Answer, 2)

    assert result.answer.summary == "short" and result.attempts == 2
    assert "cut off" in stub.requests[1].body["messages"][-1]["content"]


async def test_refusal_is_a_failed_attempt_not_a_crash(
    stub: AnthropicStub, provider: AnthropicProvider
) -> None:
    stub.script(text("I can't help with that.", stop_reason="refusal"))
    with pytest.raises(ApplicationError) as caught:
        await ask_structured(provider, REQUEST, Answer, 0, stage="plan")

    assert caught.value.type == names.ERR_INVALID_MODEL_OUTPUT
    assert "declined" in caught.value.message


async def test_context_window_exceeded_is_a_clear_permanent_failure(
    stub: AnthropicStub, provider: AnthropicProvider
) -> None:
    stub.script(text("", stop_reason="model_context_window_exceeded"))
    with pytest.raises(ApplicationError) as caught:
        await provider.complete(REQUEST)

    assert caught.value.non_retryable and caught.value.type == ERR_MODEL_REQUEST_REJECTED
    assert "context window" in caught.value.message


async def test_garbage_text_is_reasked_with_the_error(
    stub: AnthropicStub, provider: AnthropicProvider
) -> None:
    stub.script(text("no json here"), tool_use("plan", {"summary": "fixed"}))
    result = await ask_structured(provider, REQUEST, Answer, 1)

    assert result.answer.summary == "fixed"
    assert "not valid JSON" in stub.requests[1].body["messages"][-1]["content"]


async def test_non_message_body_is_retryable(
    stub: AnthropicStub, provider: AnthropicProvider
) -> None:
    stub.script(Reply(body="<html>proxy</html>"))
    with pytest.raises(ApplicationError) as caught:
        await provider.complete(REQUEST)
    assert not caught.value.non_retryable and caught.value.type == ERR_MODEL_UNAVAILABLE


async def test_429_with_retry_after_waits_that_long(
    stub: AnthropicStub, provider: AnthropicProvider
) -> None:
    stub.script(error(429, "rate_limit_error", "slow down", {"retry-after": "9"}))
    with pytest.raises(ApplicationError) as caught:
        await provider.complete(REQUEST)

    assert not caught.value.non_retryable
    assert caught.value.next_retry_delay == timedelta(seconds=9)


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (429, "rate_limit_error", "You have reached your spend limit"),
        (401, "authentication_error", f"invalid x-api-key {KEY}"),
        (400, "invalid_request_error", "messages: field required"),
    ],
)
async def test_rejections_are_permanent_and_never_show_the_key(
    stub: AnthropicStub, provider: AnthropicProvider, status: int, kind: str, words: str
) -> None:
    stub.script(error(status, kind, words))
    with pytest.raises(ApplicationError) as caught:
        await provider.complete(REQUEST)

    assert caught.value.non_retryable and caught.value.type == ERR_MODEL_REQUEST_REJECTED
    assert f"HTTP {status}" in caught.value.message
    assert KEY not in str(caught.value) and KEY not in repr(provider)


async def test_wrong_key_is_refused_by_the_stub_like_the_real_api(stub: AnthropicStub) -> None:
    wrong = AnthropicProvider(stub.base_url, "claude-stub", "sk-ant-wrong", timeout_seconds=5)
    try:
        with pytest.raises(ApplicationError) as caught:
            await wrong.complete(REQUEST)
    finally:
        await wrong.aclose()
    assert "HTTP 401" in caught.value.message and "sk-ant-wrong" not in caught.value.message


@pytest.mark.parametrize(("status", "kind"), [(500, "api_error"), (529, "overloaded_error")])
async def test_server_errors_and_overload_are_retryable(
    stub: AnthropicStub, provider: AnthropicProvider, status: int, kind: str
) -> None:
    stub.script(error(status, kind, "Overloaded"))
    with pytest.raises(ApplicationError) as caught:
        await provider.complete(REQUEST)
    assert not caught.value.non_retryable and caught.value.type == ERR_MODEL_UNAVAILABLE


async def test_timeout_is_retryable(stub: AnthropicStub) -> None:
    slow = AnthropicProvider(stub.base_url, "claude-stub", KEY, timeout_seconds=0.2)
    reply = tool_use("plan", {"summary": "late"})
    reply.delay_seconds = 1.0
    stub.script(reply)
    try:
        with pytest.raises(ApplicationError) as caught:
            await slow.complete(REQUEST)
    finally:
        await slow.aclose()
    assert not caught.value.non_retryable and "timed out" in caught.value.message
