"""The activity model.agent_turn: prompt, tools, output limit, cache, pricing, stop reasons."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.model.activities import ModelActivities
from activities.model.agent_prompts import STAGE_MARKER, system_prompt
from activities.model.agent_turn import CONTINUE_TEXT
from activities.model.breaker import BreakerProvider, CircuitBreaker
from activities.model.cache import AnswerCache
from activities.model.metrics import ModelMetrics
from activities.model.openai_compat import OpenAICompatibleProvider
from activities.model.provider import ModelProvider, ProviderAnswer, StructuredRequest
from activities.model.routing import ModelRouter, Route
from domain import names
from domain.agent import (
    ALL_TOOLS,
    READ_ONLY_TOOLS,
    AgentBrief,
    AgentMessage,
    AgentTurnInput,
    ToolCall,
    ToolResult,
)
from domain.model import DraftPlanInput
from domain.tiers import TIERS, ProviderRole, Tier, TierModel
from domain.usage import TokenUsage
from tests.model.agent_samples import fixture
from tests.model.samples import ISSUE, PLAN
from tests.model.stub_openai import Reply, StubServer, completion

MakeProvider = Callable[..., OpenAICompatibleProvider]
WIRE = fixture("openai_tools.json")["responses"]
PRICE = TierModel(provider="p", model="m", input_usd_per_mtok=1, output_usd_per_mtok=10)

BRIEF = AgentBrief(
    purpose="task",
    issue=ISSUE,
    plan=PLAN,
    task=PLAN.tasks[0],
    feedback="Keep the public API.",
    repo_map="app/parser.py\n  def split_lines(text)",
    test_command="python -m pytest -q",
)
HISTORY = [
    AgentMessage(
        role="assistant",
        tool_calls=[ToolCall(id="call_1", name="view", arguments={"path": "app/parser.py"})],
    ),
    AgentMessage(
        role="tool", results=[ToolResult(call_id="call_1", name="view", output="1\tx = 1")]
    ),
]
TURN = AgentTurnInput(brief=BRIEF, messages=HISTORY, tools=list(ALL_TOOLS), tier="balanced")


def routed(
    provider: ModelProvider, price: TierModel = PRICE, metrics: ModelMetrics | None = None
) -> ModelActivities:
    """Every tier's primary on ``provider`` as "p"; backups on it too, as "b"."""
    routes: dict[tuple[Tier, ProviderRole], Route] = {}
    for tier in TIERS:
        routes[(tier, "primary")] = Route("p", "m", provider, price)
        routes[(tier, "backup")] = Route("b", "m", provider, price)
    default = Route("default", "m", provider, TierModel(provider="d", model="m"))
    return ModelActivities(
        router=ModelRouter(default, routes), cache=AnswerCache(), metrics=metrics
    )


async def test_a_turn_sends_the_brief_the_history_and_the_tools(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(Reply(body=WIRE["text_with_a_tool_call"]["response"]))
    out = await ActivityEnvironment().run(routed(make_provider()).agent_turn, TURN)

    sent = stub.requests[0].body
    system, brief, *rest = sent["messages"]
    assert system == {"role": "system", "content": system_prompt(list(ALL_TOOLS))}
    assert brief["role"] == "user"
    text = brief["content"]
    assert text.startswith(f"{STAGE_MARKER}\nPurpose: task\nTask: fix-parser\n\n")
    assert text.count("Stage: ") == 1 and text.count("Task: ") == 1
    for part in (
        f"## Issue #7: {ISSUE.title}",
        "## Plan\nKeep the last line",
        "## Current task\nid: fix-parser",
        "## Guidance\n```\nKeep the public API.",
        "## Repository map\n```\napp/parser.py",
        "## Tests\n",
        "```sh\npython -m pytest -q\n```",
    ):
        assert part in text
    assert [m["role"] for m in rest] == ["assistant", "tool"]
    assert [t["function"]["name"] for t in sent["tools"]] == list(ALL_TOOLS)
    assert sent["max_tokens"] == 4096  # the loop's limit, within balanced's 8192

    assert out.message.role == "assistant"
    assert out.message.text == "The tail is lost in split_lines; I will keep it."
    assert [c.name for c in out.message.tool_calls] == ["str_replace"]
    assert out.stop_reason == "tool_use"
    assert (out.provider, out.tier, out.model, out.cached) == (
        "p",
        "balanced",
        "gpt-4o-2024-08-06",
        False,
    )
    assert out.usage.input_tokens == 1500 and out.usage.output_tokens == 61
    assert out.usage.cost_usd == pytest.approx((1500 * 1 + 61 * 10) / 1_000_000)


async def test_the_planner_only_looks_and_has_no_task_marker(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(Reply(body=WIRE["final_text"]["response"]))
    brief = AgentBrief(purpose="plan", issue=ISSUE)
    turn = AgentTurnInput(brief=brief, tools=list(READ_ONLY_TOOLS), tier="balanced")
    await ActivityEnvironment().run(routed(make_provider()).agent_turn, turn)

    sent = stub.requests[0].body
    assert sent["messages"][1]["content"].startswith(f"{STAGE_MARKER}\nPurpose: plan\n\n")
    assert "Task: " not in sent["messages"][1]["content"]
    assert [t["function"]["name"] for t in sent["tools"]] == ["view", "search", "finish"]
    assert "cannot change files" in sent["messages"][0]["content"]
    assert "str_replace" not in sent["messages"][0]["content"]


@pytest.mark.parametrize(
    ("tier_limit", "loop_limit", "sent"),
    [(1000, 4096, 1000), (None, 6000, 6000), (None, 20000, 8192), (2048, 512, 512)],
)
async def test_the_output_limit_is_the_loops_capped_by_the_tiers(
    stub: StubServer,
    make_provider: MakeProvider,
    tier_limit: int | None,
    loop_limit: int,
    sent: int,
) -> None:
    stub.script(Reply(body=WIRE["final_text"]["response"]))
    price = PRICE.model_copy(update={"max_output_tokens": tier_limit})
    turn = TURN.model_copy(update={"max_output_tokens": loop_limit})
    await ActivityEnvironment().run(routed(make_provider(), price).agent_turn, turn)

    assert stub.requests[0].body["max_tokens"] == sent


async def test_a_cut_off_turn_is_returned_as_such_without_its_partial_call(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(Reply(body=WIRE["length_mid_arguments"]["response"]))
    turn = TURN.model_copy(update={"max_output_tokens": 256})
    out = await ActivityEnvironment().run(routed(make_provider()).agent_turn, turn)

    assert out.stop_reason == "length"
    assert [c.name for c in out.message.tool_calls] == ["view"]
    assert "cut off at the output limit of 256 tokens" in out.message.text
    assert "unfinished 'create' call was dropped" in out.message.text


async def test_a_cut_off_text_keeps_its_text_and_says_so(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(Reply(body=WIRE["length_in_text"]["response"]))
    out = await ActivityEnvironment().run(routed(make_provider()).agent_turn, TURN)

    assert out.stop_reason == "length"
    assert out.message.text.startswith("First I will look at\n\n[Autopilot: ")
    assert "dropped" not in out.message.text


async def test_an_identical_turn_is_served_from_the_cache_and_counted(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    reader = InMemoryMetricReader()
    metrics = ModelMetrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    stub.script(*(Reply(body=WIRE["parallel_tool_calls"]["response"]) for _ in range(2)))
    activities = routed(make_provider(), metrics=metrics)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="autopilot:forge.test:acme:shop:7")

    first = await env.run(activities.agent_turn, TURN)
    again = await env.run(activities.agent_turn, TURN)
    longer = TURN.model_copy(update={"messages": [*HISTORY, *HISTORY]})
    other = await env.run(activities.agent_turn, longer)

    assert len(stub.requests) == 2
    assert again.cached and not first.cached and not other.cached
    assert again.message == first.message and again.stop_reason == first.stop_reason
    assert again.usage == TokenUsage(calls=1, cached_calls=1)
    data = reader.get_metrics_data()
    assert data is not None
    names_seen = {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}
    assert {"autopilot_model_tokens", "autopilot_model_cost_usd"} <= names_seen


async def test_the_backup_role_goes_to_the_backup_route(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(Reply(body=WIRE["final_text"]["response"]))
    turn = TURN.model_copy(update={"provider_role": "backup"})
    out = await ActivityEnvironment().run(routed(make_provider()).agent_turn, turn)

    assert out.provider == "b"


class StructuredOnly:
    """A provider that cannot make tool calls (a test double, or an old client)."""

    async def complete(self, request: StructuredRequest) -> ProviderAnswer:
        return ProviderAnswer(content="{}", usage=TokenUsage(calls=1), model="m")


@pytest.mark.parametrize("wrapped", [False, True])
async def test_a_provider_without_tool_calls_is_a_permanent_rejection(wrapped: bool) -> None:
    provider: ModelProvider = StructuredOnly()
    if wrapped:
        provider = BreakerProvider(StructuredOnly(), CircuitBreaker("p"))
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(routed(provider).agent_turn, TURN)

    assert caught.value.type == names.ERR_MODEL_REQUEST_REJECTED
    assert caught.value.non_retryable
    assert "does not support tool calls" in caught.value.message


async def test_unavailable_turns_count_against_the_breaker(stub: StubServer) -> None:
    breaker = CircuitBreaker("p", failure_threshold=1)
    stub.script(Reply(status=503, body={"error": {"message": "overloaded"}}))
    provider = OpenAICompatibleProvider(stub.base_url, "m", None, 5)
    try:
        with pytest.raises(ApplicationError) as caught:
            await ActivityEnvironment().run(
                routed(BreakerProvider(provider, breaker)).agent_turn, TURN
            )
    finally:
        await provider.aclose()

    assert caught.value.type == names.ERR_MODEL_UNAVAILABLE
    assert breaker.state == "open"


@pytest.mark.parametrize(("tier", "limit", "sent"), [("fast", 333, 333), ("advanced", None, 8192)])
async def test_structured_answers_are_limited_by_the_tier(
    stub: StubServer, make_provider: MakeProvider, tier: str, limit: int | None, sent: int
) -> None:
    stub.script(completion(PLAN.model_dump_json()))
    price = PRICE.model_copy(update={"max_output_tokens": limit})
    plan_input = DraftPlanInput(issue=ISSUE, tier=tier)  # type: ignore[arg-type]
    await ActivityEnvironment().run(routed(make_provider(), price).draft_plan, plan_input)

    assert stub.requests[0].body["max_tokens"] == sent


async def test_a_conversation_ending_in_the_models_text_is_asked_to_continue(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    stub.script(Reply(body=WIRE["final_text"]["response"]))
    said = AgentMessage(role="assistant", text="I think it works.")
    turn = TURN.model_copy(update={"messages": [*HISTORY, said]})
    await ActivityEnvironment().run(routed(make_provider()).agent_turn, turn)

    sent = stub.requests[0].body["messages"]
    assert sent[-2] == {"role": "assistant", "content": "I think it works."}
    assert sent[-1] == {"role": "user", "content": CONTINUE_TEXT}


@pytest.mark.parametrize(("purpose", "stage"), [("fix", "verify"), ("task", "implement")])
async def test_a_turn_is_logged_in_the_stage_of_its_purpose(
    stub: StubServer,
    make_provider: MakeProvider,
    caplog: pytest.LogCaptureFixture,
    purpose: str,
    stage: str,
) -> None:
    stub.script(Reply(body=WIRE["text_with_a_tool_call"]["response"]))
    turn = TURN.model_copy(update={"brief": BRIEF.model_copy(update={"purpose": purpose})})
    with caplog.at_level("INFO"):
        await ActivityEnvironment().run(routed(make_provider()).agent_turn, turn)
    answered = [r for r in caplog.records if r.getMessage().startswith("model answered")]
    assert [getattr(r, "stage", None) for r in answered] == [stage]
