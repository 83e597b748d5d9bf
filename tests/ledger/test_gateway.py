"""The model gateway in a real workflow on the time-skipping server: tiers, budgets, failover."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.model.activities import ModelActivities
from activities.model.breaker import BreakerProvider, CircuitBreaker
from activities.model.provider import ProviderAnswer, StructuredRequest
from activities.model.routing import ModelRouter, Route
from domain.budget import BudgetLimits, BudgetRaise, ModelRunSettings
from domain.names import ERR_MODEL_UNAVAILABLE
from domain.tiers import ModelRouting, TierModel
from domain.usage import TokenUsage
from tests.ledger.probe import PLAN, FakeModel, GatewayProbe, ProbeCall, ProbeInput, ProbeResult
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
    assert "| task a | advanced |" in result.status.markdown()


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
