"""Model calls, test runs and the budget, counted at the worker's activity boundary."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from activities.model.metrics import model_stage
from domain import change
from domain import metrics as names
from domain import names as activity_names
from domain.budget import ReserveGrant
from workers.activity_metrics import ActivityMetrics, ActivityMetricsInterceptor

Points = dict[tuple[str, tuple[tuple[str, str], ...]], Any]


class Innermost(ActivityInboundInterceptor):
    """What the SDK does at the bottom of the chain: call the activity."""

    def __init__(self) -> None:
        pass

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        return await input.fn(*input.args)


async def run_intercepted(
    reader_meter: ActivityMetrics, activity_type: str, fn: Callable[..., Any], arg: Any
) -> Any:
    inbound = ActivityMetricsInterceptor(reader_meter).intercept_activity(Innermost())
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type=activity_type)

    async def body() -> Any:
        return await inbound.execute_activity(ExecuteActivityInput(fn, [arg], None, {}))

    return await env.run(body)


def points(reader: InMemoryMetricReader) -> Points:
    found: Points = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    labels = tuple(sorted((k, str(v)) for k, v in (point.attributes or {}).items()))
                    found[(metric.name, labels)] = point
    return found


@pytest.fixture
def recorder() -> tuple[ActivityMetrics, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    return ActivityMetrics(MeterProvider(metric_readers=[reader]).get_meter("test")), reader


def calls(stage: str, outcome: str, provider: str = "p", tier: str = "balanced") -> tuple[Any, ...]:
    labels = {"outcome": outcome, "provider": provider, "stage": stage, "tier": tier}
    return (names.MODEL_CALLS, tuple(sorted(labels.items())))


async def test_model_calls_by_stage_and_outcome_with_the_stage_set_for_tokens(
    recorder: tuple[ActivityMetrics, InMemoryMetricReader],
) -> None:
    metrics, reader = recorder
    seen: list[str] = []

    async def answered(_: Any) -> Any:
        seen.append(model_stage.get())
        return SimpleNamespace(provider="p", tier="balanced", cached=False)

    async def invalid(_: Any) -> Any:
        raise ApplicationError("still not JSON", type=activity_names.ERR_INVALID_MODEL_OUTPUT)

    plan = SimpleNamespace(tier="balanced")
    fix_turn = SimpleNamespace(tier="balanced", brief=SimpleNamespace(purpose="fix"))
    await run_intercepted(metrics, activity_names.DRAFT_PLAN, answered, plan)
    await run_intercepted(metrics, activity_names.AGENT_TURN, answered, fix_turn)
    with pytest.raises(ApplicationError):
        await run_intercepted(metrics, activity_names.REVIEW_CHANGE, invalid, plan)

    assert seen == ["plan", "verify"]  # what ModelMetrics labels the tokens and cost with
    assert model_stage.get() == "-"
    found = points(reader)
    assert found[calls("plan", "answered")].value == 1
    assert found[calls("verify", "answered")].value == 1
    assert found[calls("review", "InvalidModelOutput", provider="-")].value == 1


async def test_test_runs_and_the_global_budget(
    recorder: tuple[ActivityMetrics, InMemoryMetricReader],
) -> None:
    metrics, reader = recorder

    async def failing_tests(_: Any) -> change.TestRun:
        return change.TestRun(
            passed=False, exit_code=1, duration_seconds=2.5, output_tail="1 failed"
        )

    async def reserve(_: Any) -> ReserveGrant:
        return ReserveGrant(
            granted=True, reservation_id="r", limit_usd=10, spent_usd=7, reserved_usd=1
        )

    await run_intercepted(metrics, activity_names.RUN_TESTS, failing_tests, None)
    await run_intercepted(metrics, activity_names.BUDGET_RESERVE, reserve, None)

    found = points(reader)
    failed = (("outcome", "failed"),)
    assert found[(names.TEST_RUNS, failed)].value == 1
    assert found[(names.TEST_RUN_DURATION, failed)].sum == 2.5
    budget = (("budget", "global_hourly"),)
    assert found[(names.BUDGET_REMAINING, budget)].value == pytest.approx(2)
    assert found[(names.BUDGET_USED, budget)].value == pytest.approx(0.8)
