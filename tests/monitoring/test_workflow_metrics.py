"""Workflow-side metrics go through the SDK's workflow meter: recorded once, never on replay."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from devstack.forge.testing import free_port
from devstack.temporal_server import temporal_cli
from domain import metrics as names
from domain.review import GateResult, ReviewVerdict, RubricScore
from workflows import metrics
from workflows.runner import WORKFLOW_RUNNER

VERDICT = ReviewVerdict(
    verdict="request_changes",
    summary="tests fail",
    requested_changes=["fix tests"],
    rubric=[RubricScore(criterion="Correctness", score=2), RubricScore(criterion="tests", score=4)],
)
LABELS = {"reason", "criterion", "attempt", "loop", "stage"}  # the ones the test looks at
GATES = [GateResult(name="tests_pass", passed=False), GateResult(name="diff_size", passed=True)]


@workflow.defn(sandboxed=False)
class MeteredWorkflow:
    @workflow.run
    async def run(self) -> None:
        started = workflow.now()
        metrics.count_run_started("acme/shop")
        metrics.count_stage_entered("review")
        await workflow.sleep(timedelta(milliseconds=10))
        metrics.record_stage_duration("review", started, workflow.now())
        metrics.count_resolution_attempt("verify", 3)
        metrics.record_review(VERDICT, GATES)
        metrics.count_escalation("verify")
        metrics.count_failover("balanced", "primary", "backup")
        metrics.record_attempts_to_resolution({"verify": 2, "review": 1})
        metrics.count_run_ended("acme/shop", "pr_opened")


def updates(buffer: MetricBuffer) -> list[tuple[str, float, dict[str, object]]]:
    return [
        (u.metric.name, u.value, dict(u.attributes))
        for u in buffer.retrieve_updates()
        if u.metric.name.startswith("autopilot_")
    ]


async def test_each_metric_is_recorded_once_and_a_replay_records_none() -> None:
    buffer = MetricBuffer(10_000, MetricBufferDurationFormat.SECONDS)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=temporal_cli(),
        port=free_port(),
        ui=False,
        runtime=runtime,
    ) as env:
        client: Client = env.client
        async with Worker(
            client,
            task_queue="metered",
            workflows=[MeteredWorkflow],
            workflow_runner=WORKFLOW_RUNNER,
            max_cached_workflows=0,  # every workflow task replays the history so far
        ):
            handle = await client.start_workflow(
                MeteredWorkflow.run, id=f"metered-{uuid.uuid4()}", task_queue="metered"
            )
            await handle.result()
        recorded = updates(buffer)
        history = await handle.fetch_history()
        await Replayer(workflows=[MeteredWorkflow], runtime=runtime).replay_workflow(history)
        assert updates(buffer) == []  # the replay recorded nothing

    counts = Counter(name for name, _, _ in recorded)
    assert counts == {
        names.RUNS_STARTED: 1,
        names.STAGE_ENTERED: 1,
        names.STAGE_DURATION: 1,
        names.RESOLUTION_ATTEMPTS: 1,
        names.REVIEW_GATE_RESULTS: 2,
        names.REVIEW_VERDICTS: 1,
        names.REVIEW_REJECTIONS: 1,
        names.REVIEW_RUBRIC_SCORE: 2,
        names.RESOLUTION_ESCALATIONS: 1,
        names.MODEL_FAILOVERS: 1,
        names.ATTEMPTS_TO_RESOLUTION: 2,
        names.RUNS_ENDED: 1,
    }
    by_name = {
        (name, tuple(sorted((k, v) for k, v in attrs.items() if k in LABELS))): value
        for name, value, attrs in recorded
    }
    assert by_name[(names.REVIEW_REJECTIONS, (("reason", "tests_pass"),))] == 1
    assert by_name[(names.REVIEW_RUBRIC_SCORE, (("criterion", "correctness"),))] == 2
    assert by_name[(names.RESOLUTION_ATTEMPTS, (("attempt", "3"), ("loop", "verify")))] == 1
    duration = by_name[(names.STAGE_DURATION, (("stage", "review"),))]
    assert 0.01 <= duration < 5
