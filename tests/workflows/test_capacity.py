"""Per-kind concurrency on the real dev server: runs that carry their activity queues send test
runs and environment builds to the heavy queue and model calls to the model queue, and the
worker's heavy slots bound how many test runs run at once however many runs are in flight."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.worker import Worker

from config.settings import load_config
from domain import names
from domain.capacity import MEMO_ACTIVITY_QUEUES, activity_kind, activity_queues
from tests.dev_server import running_dev_server
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_modes import activity_name, issue_input
from workers.capacity import kind_workers
from workflows.issue import IssueWorkflow
from workflows.runner import WORKFLOW_RUNNER
from workflows.task import TaskWorkflow

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

QUEUE = "capacity"
RUNS = 4
TEST_RUN_SECONDS = 0.3


class Observed:
    """Where each activity ran, and how many test runs ran at once."""

    def __init__(self) -> None:
        self.queues: dict[str, set[str]] = {}
        self.running_tests = 0
        self.most_tests = 0

    def around(self, fake: Callable[..., Any]) -> Callable[..., Any]:
        name = activity_name(fake)

        @functools.wraps(fake, updated=())
        async def observed(input: Any) -> Any:
            self.queues.setdefault(name, set()).add(activity.info().task_queue)
            if name != names.RUN_TESTS:
                return await fake(input)
            self.running_tests += 1
            self.most_tests = max(self.most_tests, self.running_tests)
            try:
                await asyncio.sleep(TEST_RUN_SECONDS)
                return await fake(input)
            finally:
                self.running_tests -= 1

        return activity.defn(name=name)(observed)


async def test_heavy_slots_bound_concurrent_test_runs_and_kinds_use_their_queues() -> None:
    config = load_config(
        env={
            "AUTOPILOT_FORGE_TOKEN": "t",
            "AUTOPILOT__TEMPORAL__TASK_QUEUE": QUEUE,
            "AUTOPILOT__CAPACITY__MAX_HEAVY_ACTIVITIES": "1",
        }
    )
    seen = Observed()
    activities = [seen.around(a) for a in FakeWorld().activities()]
    async with (
        running_dev_server() as env,
        Worker(
            env.client,
            task_queue=QUEUE,
            workflows=[IssueWorkflow, TaskWorkflow],
            activities=activities,
            workflow_runner=WORKFLOW_RUNNER,
        ),
        kind_workers(env.client, config, activities, [], timedelta(0)),
    ):
        handles = [
            await env.client.start_workflow(
                IssueWorkflow.run,
                issue_input(n, auto_approve=True),
                id=f"run-{n}",
                task_queue=QUEUE,
                memo={MEMO_ACTIVITY_QUEUES: activity_queues(QUEUE)},
            )
            for n in range(1, RUNS + 1)
        ]
        results = await asyncio.gather(*(h.result() for h in handles))
    assert [r.outcome for r in results] == ["pr_opened"] * RUNS
    assert seen.most_tests == 1
    expected = activity_queues(QUEUE)
    for name, queues in seen.queues.items():
        kind = activity_kind(name)
        assert queues == {expected[kind] if kind else QUEUE}, name
    # The tasks (children) called the model on the model queue too.
    assert seen.queues[names.AGENT_TURN] == {expected["model"]}
    assert names.RUN_TESTS in seen.queues and names.PREPARE_ENVIRONMENT in seen.queues
