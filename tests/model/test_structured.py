"""Structured answers: validation, bounded re-asks, and the final InvalidModelOutput."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from pydantic import BaseModel, Field
from temporalio.exceptions import ApplicationError

from activities.model.openai_compat import OpenAICompatibleProvider
from activities.model.provider import ChatMessage, StructuredRequest
from activities.model.structured import (
    CUT_OFF_STAND_IN,
    REASK_PHRASE,
    ask_structured,
    shorter_text,
)
from devstack.wire_stub import Reply
from domain import names
from domain.budget import failed_call_usage
from domain.usage import TokenUsage
from tests.model.stub_openai import StubServer, completion

MakeProvider = Callable[..., OpenAICompatibleProvider]


class Answer(BaseModel):
    title: str = Field(min_length=1)
    count: int


REQUEST = StructuredRequest(
    messages=[ChatMessage(role="user", content="Stage: plan\nGive a title and a count.")],
    schema_name="answer",
    json_schema=Answer.model_json_schema(),
)
GOOD = json.dumps({"title": "ok", "count": 3})
USAGE = {"prompt_tokens": 10, "completion_tokens": 4}


async def test_valid_answer_takes_one_call(stub: StubServer, make_provider: MakeProvider) -> None:
    stub.script(completion(GOOD, usage=USAGE))
    result = await ask_structured(make_provider(), REQUEST, Answer, max_reasks=2)

    assert result.answer == Answer(title="ok", count=3)
    assert result.attempts == 1
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.calls) == (10, 4, 1)
    assert len(stub.requests) == 1


async def test_fenced_json_is_accepted(stub: StubServer, make_provider: MakeProvider) -> None:
    stub.script(completion(f"Here it is:\n```json\n{GOOD}\n```\n"))
    result = await ask_structured(make_provider(), REQUEST, Answer, max_reasks=0)

    assert result.answer.count == 3


@pytest.mark.parametrize(
    ("bad", "finish_reason", "reason"),
    [
        ("I think the answer is three.", "stop", "not valid JSON"),
        ('{"title": "", "count": "many"}', "stop", "count"),
    ],
    ids=["garbage", "schema"],
)
async def test_invalid_answer_is_reasked_then_accepted(
    stub: StubServer,
    make_provider: MakeProvider,
    bad: str,
    finish_reason: str,
    reason: str,
) -> None:
    stub.script(
        completion(bad, finish_reason=finish_reason, usage=USAGE), completion(GOOD, usage=USAGE)
    )
    result = await ask_structured(make_provider(), REQUEST, Answer, max_reasks=2)

    assert result.answer == Answer(title="ok", count=3)
    assert result.attempts == 2
    assert (result.usage.input_tokens, result.usage.calls) == (20, 2)
    reask = stub.requests[1].body["messages"]
    assert reask[: len(REQUEST.messages)] == [m.model_dump() for m in REQUEST.messages]
    assert reask[-2] == {"role": "assistant", "content": bad}
    assert reask[-1]["role"] == "user"
    assert REASK_PHRASE in reask[-1]["content"]
    assert reason in reask[-1]["content"]


async def test_cut_off_answer_is_reasked_shorter_without_echoing_it(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    cut = '{"title": "' + "very long " * 500
    request = REQUEST.model_copy(update={"max_output_tokens": 777})
    stub.script(
        completion(cut, finish_reason="length", usage=USAGE),
        completion(cut, finish_reason="length", usage=USAGE),
        completion(GOOD, usage=USAGE),
    )
    result = await ask_structured(make_provider(), request, Answer, max_reasks=2)

    assert result.answer == Answer(title="ok", count=3) and result.attempts == 3
    first, second, third = (r.body["messages"] for r in stub.requests)
    assert [r.body["max_tokens"] for r in stub.requests] == [777, 777, 777]
    assert second[: len(first)] == first
    assert second[-2] == {"role": "assistant", "content": CUT_OFF_STAND_IN}
    assert second[-1]["role"] == "user"
    assert REASK_PHRASE in second[-1]["content"] and "cut off" in second[-1]["content"]
    assert "(777 tokens)" in second[-1]["content"]
    # Bounded growth: each re-ask adds two short messages, never the cut answer.
    assert len(third) == len(first) + 4
    assert all("very long" not in m["content"] for m in third)
    assert len(json.dumps(third)) < len(json.dumps(first)) + 1200


@pytest.mark.parametrize("schema_name", ["plan", "edit_set", "review_verdict", "other"])
def test_shorter_instruction_names_how_to_be_shorter(schema_name: str) -> None:
    text = shorter_text(schema_name, 100)
    assert f"{schema_name!r} schema" in text and "100 tokens" in text
    assert text.rstrip().endswith(".")


@pytest.mark.parametrize("max_reasks", [0, 2])
async def test_invalid_forever_fails_after_exactly_one_plus_max_reasks_calls(
    stub: StubServer, make_provider: MakeProvider, max_reasks: int
) -> None:
    stub.script(*[completion("garbage", usage=USAGE) for _ in range(5)])
    with pytest.raises(ApplicationError) as caught:
        await ask_structured(make_provider(), REQUEST, Answer, max_reasks, stage="plan")

    calls = 1 + max_reasks
    assert len(stub.requests) == calls
    error = caught.value
    assert error.type == names.ERR_INVALID_MODEL_OUTPUT
    assert error.non_retryable
    assert error.message.startswith("plan:")
    assert "not valid JSON" in error.message
    details = error.details[0]
    assert details["attempts"] == calls
    assert details["usage"] == {
        "input_tokens": 10 * calls,
        "output_tokens": 4 * calls,
        "calls": calls,
        "cost_usd": 0.0,
        "cached_calls": 0,
    }


async def test_a_provider_error_during_a_reask_keeps_its_retry_and_carries_the_paid_usage(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(
        completion("garbage", usage=USAGE),
        Reply(status=429, body={"error": {"message": "slow down"}}, headers={"retry-after": "7"}),
    )
    seen: list[tuple[str, int]] = []

    def on_reply(model: str, usage: TokenUsage) -> TokenUsage:
        seen.append((model, usage.calls))
        return usage.model_copy(update={"cost_usd": 0.25})  # the activity prices it here

    with pytest.raises(ApplicationError) as caught:
        await ask_structured(make_provider(), REQUEST, Answer, 2, on_reply=on_reply)

    error = caught.value
    assert error.type == names.ERR_MODEL_UNAVAILABLE and not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=7)
    assert seen == [("stub-model", 1)]
    assert failed_call_usage(error) == TokenUsage(
        input_tokens=10, output_tokens=4, calls=1, cost_usd=0.25
    )
