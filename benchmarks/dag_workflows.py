"""Two parents for the same DAG of child task workflows: ``DagScheduler``, and the seed's batches.

Both start every task as a ``BenchTaskWorkflow`` child that runs the sleep activity, so the only
difference measured is when each executor starts its children.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from benchmarks.batches import batches
from benchmarks.models import ExecuteDagInput, ExecuteDagResult, RunTaskInput
from workflows.dag import DagScheduler, effort_weight

SLEEP_ACTIVITY = (
    "bench_sleep_task"  # benchmarks.activities.SLEEP_ACTIVITY; no activity imports here
)
# A sleep of at most 10 units; generous so a loaded 2-core machine never retries it.
TASK_TIMEOUT = timedelta(minutes=2)
TASK_RETRY = RetryPolicy(maximum_attempts=1)


@workflow.defn(name="BenchTaskWorkflow")
class BenchTaskWorkflow:
    @workflow.run
    async def run(self, input: RunTaskInput) -> None:
        await workflow.execute_activity(
            SLEEP_ACTIVITY, input, start_to_close_timeout=TASK_TIMEOUT, retry_policy=TASK_RETRY
        )


def _child(input: ExecuteDagInput, task_id: str) -> asyncio.Task[None]:
    """The task as a child workflow, already started as an asyncio task."""
    child_input = RunTaskInput(
        task_id=task_id, units=input.dag.durations[task_id], unit_ms=input.unit_ms
    )
    return asyncio.ensure_future(
        workflow.execute_child_workflow(
            BenchTaskWorkflow.run,
            child_input,
            id=f"{workflow.info().workflow_id}:{task_id}",
            retry_policy=TASK_RETRY,
        )
    )


def _result(started: float, tasks_run: int) -> ExecuteDagResult:
    return ExecuteDagResult(makespan_ms=(workflow.time() - started) * 1000, tasks_run=tasks_run)


@workflow.defn(name="BenchSchedulerDagWorkflow")
class SchedulerDagWorkflow:
    """What a parent does with ``DagScheduler``: start each task the moment it is ready."""

    @workflow.run
    async def run(self, input: ExecuteDagInput) -> ExecuteDagResult:
        started = workflow.time()
        # As IssueWorkflow's implement stage: critical paths weighted by the plan's effort.
        scheduler = DagScheduler(input.dag.tasks, input.max_parallel, effort_weight)
        running: dict[asyncio.Task[None], str] = {}
        while not scheduler.finished():
            for task_id in scheduler.next_to_start():
                scheduler.started(task_id)
                running[_child(input, task_id)] = task_id
            done, _ = await workflow.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                task_id = running.pop(future)
                if future.exception() is None:
                    scheduler.completed(task_id)
                else:
                    scheduler.failed(task_id, str(future.exception()))
        return _result(started, len(scheduler.completed_ids))


@workflow.defn(name="BenchBatchDagWorkflow")
class BatchDagWorkflow:
    """The seed's executor: level by level, ``width`` at a time, each batch awaited whole."""

    @workflow.run
    async def run(self, input: ExecuteDagInput) -> ExecuteDagResult:
        started = workflow.time()
        tasks_run = 0
        for batch in batches(input.dag.tasks, input.max_parallel):
            await asyncio.gather(*(_child(input, task_id) for task_id in batch))
            tasks_run += len(batch)
        return _result(started, tasks_run)


BENCH_WORKFLOWS = [BenchTaskWorkflow, SchedulerDagWorkflow, BatchDagWorkflow]
