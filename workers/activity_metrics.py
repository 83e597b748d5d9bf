"""Metrics of how activities end, taken at the worker's activity boundary.

One interceptor sees every activity's input and outcome, so the activities themselves stay
about their work: model calls by provider, tier, stage and outcome (and the stage their tokens
and cost are counted under), test runs and their durations, and the global budget left.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import Meter
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from activities.model.metrics import NO_LABEL, ModelCallMetrics, model_stage
from domain import metrics as names
from domain import names as activity_names
from domain.agent import PURPOSE_STAGES
from domain.budget import ReserveGrant
from domain.change import TestRun

METER_NAME = "autopilot.worker"
GLOBAL_BUDGET = "global_hourly"
ANSWERED, CACHED = "answered", "cached"
# The run stage of each model activity; edits and agent turns go by their purpose instead.
MODEL_STAGES = {
    activity_names.DRAFT_PLAN: "plan",
    activity_names.REVIEW_CHANGE: "review",
    activity_names.RESOLVE_CONFLICT: "implement",
    activity_names.DRAFT_EDITS: "implement",
    activity_names.AGENT_TURN: "implement",
}


def model_call_stage(activity_type: str, arg: Any) -> str:
    purpose = getattr(getattr(arg, "brief", None), "purpose", None) or getattr(arg, "purpose", None)
    if purpose in PURPOSE_STAGES:
        return PURPOSE_STAGES[purpose]
    return MODEL_STAGES.get(activity_type, NO_LABEL)


def outcome_of(error: BaseException) -> str:
    if isinstance(error, ApplicationError) and error.type:
        return error.type
    return type(error).__name__


class ActivityMetrics:
    def __init__(self, meter: Meter | None = None) -> None:
        meter = meter or metrics.get_meter(METER_NAME)
        self.model = ModelCallMetrics(meter)
        self.test_runs = meter.create_counter(
            names.TEST_RUNS, description="Repository test runs by outcome"
        )
        self.test_duration = meter.create_histogram(
            names.TEST_RUN_DURATION, unit=names.SECONDS, description="Repository test run time"
        )
        self.budget_remaining = meter.create_gauge(
            names.BUDGET_REMAINING, description="US dollars left in a budget's current window"
        )
        self.budget_used = meter.create_gauge(
            names.BUDGET_USED, description="Share of a budget spent or reserved (0-1)"
        )

    def test_run(self, outcome: str, seconds: float) -> None:
        self.test_runs.add(1, {"outcome": outcome})
        self.test_duration.record(seconds, {"outcome": outcome})

    def budget(self, grant: ReserveGrant) -> None:
        used = grant.spent_usd + grant.reserved_usd
        labels = {"budget": GLOBAL_BUDGET}
        self.budget_remaining.set(max(0.0, grant.limit_usd - used), labels)
        self.budget_used.set(used / grant.limit_usd if grant.limit_usd else 0.0, labels)


class ActivityMetricsInterceptor(Interceptor):
    def __init__(self, recorder: ActivityMetrics | None = None) -> None:
        self._recorder = recorder

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        # Instruments made on first use, so they land on the provider the worker installed.
        self._recorder = self._recorder or ActivityMetrics()
        return _Inbound(next, self._recorder)


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, recorder: ActivityMetrics) -> None:
        super().__init__(next)
        self._recorder = recorder

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        activity_type = activity.info().activity_type
        arg = input.args[0] if input.args else None
        if activity_type in MODEL_STAGES:
            return await self._model_call(activity_type, arg, input)
        if activity_type == activity_names.RUN_TESTS:
            return await self._test_run(input)
        result = await super().execute_activity(input)
        if isinstance(result, ReserveGrant):
            self._recorder.budget(result)
        return result

    async def _model_call(self, activity_type: str, arg: Any, input: ExecuteActivityInput) -> Any:
        stage = model_call_stage(activity_type, arg)
        tier = getattr(arg, "tier", None) or "default"
        token = model_stage.set(stage)
        try:
            result = await super().execute_activity(input)
        except BaseException as error:
            self._recorder.model.call(tier, NO_LABEL, stage, outcome_of(error))
            raise
        finally:
            model_stage.reset(token)
        provider = getattr(result, "provider", "") or NO_LABEL
        outcome = CACHED if getattr(result, "cached", False) else ANSWERED
        self._recorder.model.call(tier, provider, stage, outcome)
        return result

    async def _test_run(self, input: ExecuteActivityInput) -> Any:
        started = time.monotonic()
        try:
            result = await super().execute_activity(input)
        except BaseException as error:  # the run could not finish (sandbox, cancelled)
            self._recorder.test_run(outcome_of(error), time.monotonic() - started)
            raise
        if isinstance(result, TestRun):
            outcome = "timed_out" if result.timed_out else "passed" if result.passed else "failed"
            self._recorder.test_run(outcome, result.duration_seconds)
        return result
