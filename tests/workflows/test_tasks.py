"""The implement stage on the time-skipping server: child TaskWorkflows on a dependency DAG."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.issue import IssueRef, RepoRef
from domain.names import SA_ISSUE, SA_OUTCOME, SA_REPO, SA_STAGE
from domain.plan import LENIENT_GRAPH, Plan, PlanTask
from domain.run import IssueResult, IssueWorkflowInput, ResumeRequest, RunSettings
from domain.task import CancelRequest, SkipTaskRequest, task_workflow_id
from tests.polling import eventually
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_workflow import wait_for
from workflows.issue import IssueWorkflow
from workflows.runner import WORKFLOW_RUNNER
from workflows.task import TaskWorkflow

pytestmark = pytest.mark.timeout(90)


def task(task_id: str, *after: str, priority: int = 0) -> PlanTask:
    return PlanTask(
        id=task_id,
        title=f"Task {task_id}",
        description=f"Do {task_id}",
        files=[f"src/{task_id}.py"],
        depends_on=list(after),
        acceptance_criteria=["done"],
        priority=priority,
    )


def plan(*tasks: PlanTask) -> Plan:
    return Plan(summary="A plan", tasks=list(tasks))


def issue_input(**settings: object) -> IssueWorkflowInput:
    # A fresh issue per test: task workflow ids derive from the issue's workflow id.
    number = uuid.uuid4().int % 1_000_000
    return IssueWorkflowInput(
        issue=IssueRef(
            repo=RepoRef(forge_url="http://forge.test", owner="o", name="r"), number=number
        ),
        settings=RunSettings(auto_approve=True, **settings),  # type: ignore[arg-type]
    )


@asynccontextmanager
async def running(
    env: WorkflowEnvironment, world: FakeWorld, input: IssueWorkflowInput
) -> AsyncIterator[WorkflowHandle[IssueWorkflow, IssueResult]]:
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[IssueWorkflow, TaskWorkflow],
        activities=world.activities(),
        workflow_runner=WORKFLOW_RUNNER,
    ):
        yield await env.client.start_workflow(
            IssueWorkflow.run, input, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )


def task_edits(world: FakeWorld) -> list[str]:
    return [r.task.id for r in world.edit_requests if r.purpose == "task" and r.task]


async def test_tasks_run_as_children_in_dependency_order_and_are_integrated(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(plans=[plan(task("a"), task("b", "a"), task("c", "b"))])
    input = issue_input()
    async with running(time_skipping_env, world, input) as handle:
        result = await handle.result()
        for task_id in ("a", "b", "c"):
            child = time_skipping_env.client.get_workflow_handle(
                task_workflow_id(input.issue.workflow_id, task_id)
            )
            assert (await child.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert result.outcome == "pr_opened"
    assert task_edits(world) == ["a", "b", "c"]
    assert [i.task_id for i in world.integrations] == ["a", "b", "c"]
    branch = f"autopilot/issue-{input.issue.number}"
    assert world.integrations[0].task_branch == f"{branch}-task-a"
    assert world.integrations[0].workspace.branch == branch
    # The issue branch once, then each task's branch as the task starts.
    assert world.branches_ensured == 4
    assert {t: p.state for t, p in result.status.tasks.items()} == dict.fromkeys("abc", "completed")


async def test_task_runs_carry_the_issues_search_attributes(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(plans=[plan(task("a"))])
    input = issue_input()
    async with running(time_skipping_env, world, input) as handle:
        await handle.result()
        child = time_skipping_env.client.get_workflow_handle(
            task_workflow_id(input.issue.workflow_id, "a")
        )
        attributes = (await child.describe()).typed_search_attributes
    assert attributes.get(SA_REPO) == "o/r"
    assert attributes.get(SA_ISSUE) == input.issue.number
    assert attributes.get(SA_STAGE) == "implement"
    assert attributes.get(SA_OUTCOME) is None  # counting runs by outcome counts issues only


async def test_concurrency_is_bounded_by_max_parallel_tasks(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(plans=[plan(*(task(f"t{i}") for i in range(5)))], edit_seconds=0.3)
    async with running(time_skipping_env, world, issue_input(max_parallel_tasks=2)) as handle:
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert world.max_active_edits == 2
    assert sorted(task_edits(world)) == [f"t{i}" for i in range(5)]


async def test_longest_critical_path_starts_first(time_skipping_env: WorkflowEnvironment) -> None:
    # 'solo' comes first in the plan and has the higher priority, but a->b->c is longer.
    world = FakeWorld(
        plans=[plan(task("solo", priority=5), task("a"), task("b", "a"), task("c", "b"))]
    )
    async with running(time_skipping_env, world, issue_input(max_parallel_tasks=1)) as handle:
        await handle.result()
    assert task_edits(world)[0] == "a"


async def test_failed_task_blocks_only_its_dependents_then_resume_retries_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(plans=[plan(task("a"), task("b", "a"), task("c"))], failing_tasks={"a": 1})
    async with running(time_skipping_env, world, issue_input()) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == "resume")
        states = {t: (p.state, p.cause) for t, p in status.tasks.items()}
        assert states["a"][0] == "failed" and "invalid" in (states["a"][1] or "")
        assert states["b"][0] == "blocked" and (states["b"][1] or "").startswith("a failed")
        assert states["c"] == ("completed", None)
        assert "needs-human" in world.labels
        comment = world.comments["needs-human:1"]
        assert "1 task(s) failed: a" in comment and "b is blocked" in comment
        assert "skip-task" in comment and "completed and integrated: c" in comment
        await handle.signal(IssueWorkflow.resume, ResumeRequest(by="dana", guidance="try smaller"))
        result = await handle.result()
    assert result.outcome == "pr_opened"
    # c completed before the failure and is not redone; a runs again with the guidance.
    assert task_edits(world).count("c") == 1
    retry = [r for r in world.edit_requests if r.task and r.task.id == "a"][-1]
    assert retry.feedback == "try smaller"
    assert result.status.tasks["a"].attempts == 2
    assert [i.task_id for i in world.integrations] == ["c", "a", "b"]


async def test_skipping_a_failed_task_lets_its_dependents_proceed(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(plans=[plan(task("a"), task("b", "a"))], failing_tasks={"a": 9})
    async with running(time_skipping_env, world, issue_input()) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "resume")
        await handle.signal(IssueWorkflow.skip_task, SkipTaskRequest(task_id="b"))  # blocked
        await handle.signal(IssueWorkflow.skip_task, SkipTaskRequest(task_id="a"))
        result = await handle.result()
    assert result.outcome == "pr_opened"
    states = {t: p.state for t, p in result.status.tasks.items()}
    assert states in ({"a": "skipped", "b": "skipped"}, {"a": "skipped", "b": "completed"})
    assert "needs-human" not in world.labels
    # The PR does not tick what was skipped.
    body = world.pulls[0].body
    assert "- [ ] **a** — Task a (skipped)" in body
    assert ("- [x] **b**" in body) == (states["b"] == "completed")


async def test_cancel_signal_while_waiting_ends_the_run_as_cancelled(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(plans=[plan(task("a"), task("b", "a"))], failing_tasks={"a": 9})
    async with running(time_skipping_env, world, issue_input()) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "resume")
        await handle.signal(IssueWorkflow.cancel, CancelRequest(by="erin"))
        result = await handle.result()
    assert result.outcome == "cancelled"
    assert world.labels == set()
    assert world.pulls == []


async def test_cancelling_the_issue_cancels_running_tasks(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(plans=[plan(task("slow"))], edit_seconds=30)
    input = issue_input()
    async with running(time_skipping_env, world, input) as handle:
        await wait_for(
            handle, lambda s: s.tasks.get("slow") is not None and s.tasks["slow"].state == "running"
        )
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        child = time_skipping_env.client.get_workflow_handle(
            task_workflow_id(input.issue.workflow_id, "slow")
        )
        stopped = await eventually(
            child.describe,
            lambda d: d.status != WorkflowExecutionStatus.RUNNING,
            what=f"{child.id} to stop running",
        )
        assert stopped.status == WorkflowExecutionStatus.CANCELED


async def test_cyclic_plan_goes_back_to_the_planner_with_the_cycle_members(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    cyclic = Plan.model_validate(
        plan(task("a"), task("b")).model_dump()
        | {"tasks": [task("a", "b").model_dump(), task("b", "a").model_dump()]},
        context=LENIENT_GRAPH,
    )
    world = FakeWorld(plans=[cyclic, plan(task("a"), task("b", "a"))])
    async with running(time_skipping_env, world, issue_input()) as handle:
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert len(world.plan_requests) == 2
    (feedback,) = world.plan_requests[1].feedback
    assert "dependency cycle: a -> b -> a" in feedback


async def test_cyclic_plans_are_bounded_by_max_plan_attempts(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    selfish = Plan.model_validate(
        {"summary": "s", "tasks": [task("a").model_dump() | {"depends_on": ["a"]}]},
        context=LENIENT_GRAPH,
    )
    world = FakeWorld(plans=[selfish])
    async with running(time_skipping_env, world, issue_input(max_plan_attempts=2)) as handle:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert len(world.plan_requests) == 2
    assert "failed:plan" in world.comments


async def test_merge_conflict_is_resolved_by_the_model_and_must_pass_the_tests(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(
        plans=[plan(task("a"), task("b"))],
        conflicting_tasks={"b"},
        resolution_tests=[False, True],
    )
    async with running(time_skipping_env, world, issue_input()) as handle:
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert len(world.conflict_requests) == 2
    assert "FAILED test_merge" in world.conflict_requests[1].feedback
    resolved = [i for i in world.integrations if i.resolution is not None]
    assert len(resolved) == 2 and resolved[0].test_command
    assert result.status.attempts["conflict"] == 2


async def test_unresolvable_conflict_fails_the_task(time_skipping_env: WorkflowEnvironment) -> None:
    world = FakeWorld(
        plans=[plan(task("a"), task("b"))], conflicting_tasks={"b"}, resolution_tests=[False]
    )
    input = issue_input(max_conflict_attempts=1)
    async with running(time_skipping_env, world, input) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == "resume")
        await handle.terminate("test over")
    assert status.tasks["b"].state == "failed"
    assert "conflicts in shop/pricing.py" in (status.tasks["b"].cause or "")


async def test_tests_making_no_progress_escalate_early(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(test_results=[False], same_failure=True)
    async with running(time_skipping_env, world, issue_input(max_verify_attempts=5)) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "resume")
        await handle.terminate("test over")
    assert world.test_runs == 2
    assert "changed nothing" in world.comments["needs-human:1"]
