"""The model gateway in a real workflow on the time-skipping server: tiers, budgets, failover."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.model.activities import ModelActivities
from activities.model.breaker import BreakerProvider, CircuitBreaker
from activities.model.metrics import ModelMetrics
from activities.model.provider import ProviderAnswer, StructuredRequest
from activities.model.routing import ModelRouter, Route
from domain.budget import BudgetLimits, BudgetPause, BudgetRaise, ModelRunSettings
from domain.names import ERR_INVALID_MODEL_OUTPUT, ERR_MODEL_UNAVAILABLE
from domain.tiers import ModelRouting, ProviderRole, Tier, TierModel
from domain.usage import TokenUsage
from tests.ledger.probe import PLAN, FakeModel, GatewayProbe, ProbeCall, ProbeInput, ProbeResult
from tests.model.test_breaker_cache_metrics import metric_points
from tests.polling import eventually
from workflows.runner import WORKFLOW_RUNNER

QUEUE = "gateway-tests"
SPEC = TierModel(
    provider="p", model="m", input_usd_per_mtok=1, output_usd_per_mtok=1, backup_provider="b"
)
ROUTING = ModelRouting(tiers={"fast": SPEC, "balanced": SPEC, "advanced": SPEC})


def settings(**budget: float) -> ModelRunSettings:
    return ModelRunSettings(routing=ROUTING, budget=BudgetLimits(**budget))


async def run_probe(
    env: WorkflowEnvironment, input: ProbeInput, *activities: Callable[..., Any]
) -> ProbeResult:
    async with Worker(
        env.client,
        task_queue=QUEUE,
        workflows=[GatewayProbe],
        activities=list(activities),
        workflow_runner=WORKFLOW_RUNNER,
    ):
        return await env.client.execute_workflow(
            GatewayProbe.run, input, id=f"probe-{uuid.uuid4()}", task_queue=QUEUE
        )


async def test_without_settings_the_gateway_passes_calls_through(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    model = FakeModel()
    result = await run_probe(
        time_skipping_env,
        ProbeInput(settings=None, calls=[ProbeCall(stage="plan")]),
        *model.activities(),
    )
    assert model.seen == [(None, "primary")]
    assert result.status.total.calls == 0  # nothing routed, nothing accounted


async def test_tiers_are_chosen_and_usage_is_summed_per_stage_and_task(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    model = FakeModel()
    deep = PLAN.tasks[0].model_copy(update={"requires_deep_analysis": True})
    calls = [
        ProbeCall(stage="plan"),
        ProbeCall(stage="edits", task=deep),
        ProbeCall(stage="review"),
    ]
    result = await run_probe(
        time_skipping_env, ProbeInput(settings=settings(), calls=calls), *model.activities()
    )

    assert [tier for tier, _ in model.seen] == ["balanced", "advanced", "fast"]
    assert result.status.usage_by_task["a"].cost_usd == 0.4
    assert result.status.total.cost_usd == 1.2 and result.status.total.calls == 3
    table = result.status.markdown()
    assert "| plan | balanced |" in table and "| review | fast |" in table
    assert "| a | advanced |" in table.split("By plan task")[1]  # a breakdown, after the total


async def test_failover_moves_the_call_to_the_backup_and_says_why(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    model = FakeModel(primary_down=True)
    result = await run_probe(
        time_skipping_env,
        ProbeInput(settings=settings(), calls=[ProbeCall(stage="plan")]),
        *model.activities(),
    )

    assert model.seen == [("balanced", "primary"), ("balanced", "backup")]
    assert result.providers == ["backup"]
    [failover] = result.status.failovers
    assert (failover.from_provider, failover.to_provider) == ("p", "b")
    assert "unavailable" in failover.cause


class Down:
    async def complete(self, request: StructuredRequest) -> ProviderAnswer:
        raise ApplicationError("HTTP 503", type=ERR_MODEL_UNAVAILABLE)


class Answers:
    async def complete(self, request: StructuredRequest) -> ProviderAnswer:
        usage = TokenUsage(input_tokens=1000, output_tokens=100, calls=1)
        return ProviderAnswer(content=PLAN.model_dump_json(), usage=usage, model="backup-model")


async def test_failover_with_real_activities_and_an_open_breaker(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    breaker = CircuitBreaker("p", failure_threshold=1, cooldown_seconds=600)
    primary = Route("p", "m", BreakerProvider(Down(), breaker), SPEC)
    backup = Route("b", "m", Answers(), SPEC)
    routes = {(t, "primary"): primary for t in ("fast", "balanced", "advanced")}
    routes.update({(t, "backup"): backup for t in ("fast", "balanced", "advanced")})
    activities = ModelActivities(router=ModelRouter(primary, routes))  # type: ignore[arg-type]
    result = await run_probe(
        time_skipping_env,
        ProbeInput(settings=settings(), calls=[ProbeCall(stage="plan"), ProbeCall(stage="review")]),
        activities.draft_plan,
    )

    assert breaker.state == "open"
    assert result.providers == ["b", "b"]
    assert len(result.status.failovers) == 2
    assert "unavailable" in result.status.failovers[1].cause  # failed fast the second time
    assert result.status.total.cost_usd == 2 * 0.0011


async def test_issue_budget_pauses_the_run_until_a_person_raises_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    model = FakeModel(cost_usd=0.4)
    input = ProbeInput(settings=settings(issue_usd=1.0), calls=[ProbeCall(stage="plan")] * 4)
    async with Worker(
        env.client,
        task_queue=QUEUE,
        workflows=[GatewayProbe],
        activities=model.activities(),
        workflow_runner=WORKFLOW_RUNNER,
    ):
        handle = await env.client.start_workflow(
            GatewayProbe.run, input, id=f"probe-{uuid.uuid4()}", task_queue=QUEUE
        )
        status = await eventually(
            lambda: handle.query(GatewayProbe.status),
            lambda s: s.paused is not None,
            what="the probe pausing for its budget",
        )
        assert status.paused is not None and status.paused.scope == "issue"
        # Never exceeded by more than the one call in flight when it ran out: 3 calls, $1.20.
        assert len(model.seen) == 3 and status.total.cost_usd == 1.2
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                GatewayProbe.raise_budget, BudgetRaise(by="alice", issue_usd=0.5)
            )
        await handle.execute_update(GatewayProbe.raise_budget, BudgetRaise(by="alice", issue_usd=5))
        result = await handle.result()

    assert len(model.seen) == 4 and result.status.paused is None
    assert [p.scope if p else None for p in result.pauses] == ["issue", None]


async def start_probe(
    env: WorkflowEnvironment, input: ProbeInput
) -> WorkflowHandle[GatewayProbe, ProbeResult]:
    return await env.client.start_workflow(
        GatewayProbe.run, input, id=f"probe-{uuid.uuid4()}", task_queue=QUEUE
    )


async def paused(handle: WorkflowHandle[GatewayProbe, ProbeResult]) -> BudgetPause:
    status = await eventually(
        lambda: handle.query(GatewayProbe.status),
        lambda s: s.paused is not None,
        what="the probe pausing for its budget",
    )
    assert status.paused is not None
    return status.paused


async def test_an_answer_still_invalid_is_counted_and_settled_at_what_it_cost(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    # Three paid requests (the answer and two re-asks), $1.20 in all; the estimate is ~$0.004.
    paid = TokenUsage(input_tokens=3000, output_tokens=300, calls=3, cost_usd=1.2)
    model = FakeModel(invalid=True, paid_before_failing=paid)
    input = ProbeInput(settings=settings(issue_usd=1.0), calls=[ProbeCall(stage="plan")] * 2)
    async with Worker(
        env.client,
        task_queue=QUEUE,
        workflows=[GatewayProbe],
        activities=model.activities(),
        workflow_runner=WORKFLOW_RUNNER,
    ):
        handle = await start_probe(env, input)
        pause = await paused(handle)  # the failed call spent the issue budget: real cost
        assert (pause.scope, pause.spent_usd) == ("issue", 1.2)
        status = await handle.query(GatewayProbe.status)
        assert status.usage_by_stage["plan"] == paid and status.total == paid
        await handle.execute_update(GatewayProbe.raise_budget, BudgetRaise(by="a", issue_usd=5))
        result = await handle.result()

    assert result.failures == [ERR_INVALID_MODEL_OUTPUT] * 2
    assert result.status.total.calls == 6 and result.status.total.cost_usd == 2.4
    assert "| **total** | | 6 (0) | 6000 / 600 | **$2.4000** |" in result.status.markdown()


async def test_failover_bills_what_the_primary_was_paid_before_it_went_down(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    paid = TokenUsage(input_tokens=500, output_tokens=50, calls=1, cost_usd=0.1)
    model = FakeModel(primary_down=True, paid_before_failing=paid)
    result = await run_probe(
        time_skipping_env,
        ProbeInput(settings=settings(), calls=[ProbeCall(stage="plan")]),
        *model.activities(),
    )

    assert result.providers == ["backup"] and len(result.status.failovers) == 1
    assert result.status.total.calls == 2 and result.status.total.cost_usd == 0.5


class Garbage:
    """Answers that never parse: every request is paid for."""

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: StructuredRequest) -> ProviderAnswer:
        self.calls += 1
        usage = TokenUsage(input_tokens=1000, output_tokens=100, calls=1)
        return ProviderAnswer(content="not json", usage=usage, model="m")


async def test_real_activity_every_paid_reask_reaches_the_status_and_the_metrics(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    reader = InMemoryMetricReader()
    metrics = ModelMetrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    provider = Garbage()
    route = Route("p", "m", provider, SPEC)
    tiers: tuple[Tier, ...] = ("fast", "balanced", "advanced")
    routes: dict[tuple[Tier, ProviderRole], Route] = {(t, "primary"): route for t in tiers}
    activities = ModelActivities(router=ModelRouter(route, routes), max_reasks=2, metrics=metrics)
    result = await run_probe(
        time_skipping_env,
        ProbeInput(settings=settings(), calls=[ProbeCall(stage="plan")]),
        activities.draft_plan,
    )

    assert result.failures == [ERR_INVALID_MODEL_OUTPUT] and provider.calls == 3
    plan = result.status.usage_by_stage["plan"]
    assert (plan.calls, plan.input_tokens, plan.output_tokens) == (3, 3000, 300)
    assert plan.cost_usd == pytest.approx(3 * 0.0011) and result.status.total == plan
    labels = (
        ("model", "m"),
        ("provider", "p"),
        ("repo", "-"),
        ("stage", "-"),
        ("tier", "balanced"),
    )
    points = metric_points(reader)
    assert points[("autopilot_model_tokens", (("direction", "input"), *labels))] == 3000
    assert points[("autopilot_model_cost_usd", labels)] == pytest.approx(plan.cost_usd)


async def test_task_budget_pause_names_its_flag_and_only_a_raise_that_lifts_it_is_taken(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    model = FakeModel(cost_usd=0.4)
    task = PLAN.tasks[0]
    input = ProbeInput(
        settings=settings(task_usd=1.0), calls=[ProbeCall(stage="edits", task=task)] * 4
    )
    async with Worker(
        env.client,
        task_queue=QUEUE,
        workflows=[GatewayProbe],
        activities=model.activities(),
        workflow_runner=WORKFLOW_RUNNER,
    ):
        handle = await start_probe(env, input)
        pause = await paused(handle)
        assert (pause.scope, pause.task_id, pause.spent_usd) == ("task", "a", 1.2)
        assert "raise-budget --task a --task-usd" in pause.message()
        assert "--issue-usd" not in pause.message()
        refusals = []
        for wrong in (
            BudgetRaise(by="a", issue_usd=50),  # the issue budget is not what pauses the run
            BudgetRaise(by="a", task_usd=1.1),  # above the limit, not above what was spent
        ):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(GatewayProbe.raise_budget, wrong)
            refusals.append(str(getattr(refused.value.cause, "message", refused.value.cause)))
        answer = await handle.execute_update(
            GatewayProbe.raise_budget, BudgetRaise(by="a", task_usd=5)
        )
        result = await handle.result()

    assert "--task-usd" in refusals[0] and "does not lift" in refusals[0]
    assert "$1.1 would still not cover" in refusals[1]
    assert answer == "budget raised (task $5.0); continuing"
    assert len(model.seen) == 4 and result.status.paused is None
    assert [p.scope if p else None for p in result.pauses] == ["task", None]
