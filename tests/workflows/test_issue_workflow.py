"""IssueWorkflow logic on the time-skipping test server, activities faked by name."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.issue import IssueRef, RepoRef
from domain.run import (
    ApprovalDecision,
    IssueResult,
    IssueStatus,
    IssueWorkflowInput,
    ResumeRequest,
    RunSettings,
)
from tests.polling import eventually
from tests.workflows.fakes import FakeWorld
from workflows.issue import IssueWorkflow
from workflows.runner import WORKFLOW_RUNNER
from workflows.task import TaskWorkflow

# The stages of a run that ends once its PR is open, in order.
STAGES_TO_PULL_REQUEST = [
    "intake",
    "setup",
    "plan",
    "approval",
    "implement",
    "verify",
    "review",
    "pull_request",
]

pytestmark = pytest.mark.timeout(90)


def issue_input(**settings: object) -> IssueWorkflowInput:
    return IssueWorkflowInput(
        issue=IssueRef(repo=RepoRef(forge_url="http://forge.test", owner="o", name="r"), number=1),
        settings=RunSettings(**settings),  # type: ignore[arg-type]
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
        handle = await env.client.start_workflow(
            IssueWorkflow.run, input, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        yield handle


async def wait_for(
    handle: WorkflowHandle[IssueWorkflow, IssueResult], check: Callable[[IssueStatus], bool]
) -> IssueStatus:
    # Queries do not advance time; poll with real sleeps while time skipping is paused.
    return await eventually(
        lambda: handle.query(IssueWorkflow.status), check, what=f"a status of {handle.id}"
    )


async def test_auto_approved_issue_reaches_a_pull_request(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld()
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert result.pr_url == "http://forge.test/o/r/pulls/7"
    assert [r.purpose for r in world.edit_requests] == ["task", "task"]
    assert [r.task and r.task.id for r in world.edit_requests] == ["fix-discount", "add-test"]
    assert world.labels == {"autopilot-pr-open"}
    assert "plan:1" in world.comments and "progress" in world.comments
    assert "Pull request: http://forge.test/o/r/pulls/7" in world.comments["progress"]
    (pull,) = world.pulls
    assert pull.head == "autopilot/issue-1" and pull.base == "main"
    assert pull.body.startswith("Fixes #1")
    # Plan: a look around and the plan; each task: the edit, then finish; the review.
    assert "| **total** | 7 | 700 | 140 |" in pull.body
    assert "| task fix-discount | 2 | 2 | task done |" in pull.body
    assert "`str_replace shop/pricing.py`, `finish`" in pull.body
    assert set(result.status.loops) == {"plan", "task fix-discount", "task add-test"}
    stages = [t.stage for t in result.status.timings]
    assert stages == STAGES_TO_PULL_REQUEST
    assert all(t.finished_at is not None for t in result.status.timings)


async def test_approval_update_rejects_strangers_then_accepts_an_approver(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld()
    input = issue_input(approvers=["alice"])
    async with running(time_skipping_env, world, input) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == "approval")
        assert status.stage == "approval"
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                "approve", ApprovalDecision(approver="mallory", approved=True)
            )
        with pytest.raises(WorkflowUpdateFailedError):
            # A rejection without feedback is malformed.
            await handle.execute_update(
                "approve", ApprovalDecision(approver="alice", approved=False)
            )
        answer = await handle.execute_update(
            IssueWorkflow.approve, ApprovalDecision(approver="alice", approved=True)
        )
        assert answer == "approved"
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert len(world.plan_requests) == 1


async def test_rejection_with_feedback_replans(time_skipping_env: WorkflowEnvironment) -> None:
    world = FakeWorld()
    async with running(time_skipping_env, world, issue_input()) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "approval")
        await handle.execute_update(
            "approve",
            ApprovalDecision(approver="bob", approved=False, feedback="also update the docs"),
        )
        await wait_for(handle, lambda s: s.waiting_for == "approval" and s.plan_version == 2)
        # The signal twin of the update works too.
        await handle.signal(IssueWorkflow.decide, ApprovalDecision(approver="bob", approved=True))
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert [r.feedback for r in world.plan_requests] == [[], ["also update the docs"]]
    assert {"plan:1", "plan:2"} <= set(world.comments)


async def test_unanswered_plan_gets_reminders_then_expires(
    own_time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld()
    input = issue_input(approval_reminder_seconds=3600, approval_expiry_seconds=3 * 3600)
    async with running(own_time_skipping_env, world, input) as handle:
        result = await handle.result()
    assert result.outcome == "expired"
    assert sorted(m for m in world.comments if m.startswith("reminder:")) == [
        "reminder:1:1",
        "reminder:1:2",
    ]
    assert "expired" in world.comments
    assert world.labels == set()
    assert world.edit_requests == [] and world.pulls == []


async def test_failing_tests_escalate_to_a_human_then_resume(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # Fail, fail, fail (3 attempts) -> needs-human -> resume -> fail, pass.
    world = FakeWorld(test_results=[False, False, False, False, True])
    input = issue_input(auto_approve=True, max_verify_attempts=3)
    async with running(time_skipping_env, world, input) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == "resume")
        assert status.stage == "verify"
        assert world.test_runs == 3
        assert "needs-human" in world.labels
        assert "assert 90 == 81" in world.comments["needs-human:1"]
        fixes_before = [r for r in world.edit_requests if r.purpose == "fix"]
        assert len(fixes_before) == 2
        await handle.signal(IssueWorkflow.resume, ResumeRequest(by="carol", guidance="use Decimal"))
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert world.test_runs == 5
    fixes = [r for r in world.edit_requests if r.purpose == "fix"]
    assert len(fixes) == 4
    assert "use Decimal" in fixes[2].feedback
    assert "needs-human" not in world.labels
    assert result.status.attempts["verify"] == 5


async def test_review_loop_is_bounded_then_escalates(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(review_verdicts=["request_changes", "request_changes", "approve"])
    input = issue_input(auto_approve=True, max_review_rounds=2)
    async with running(time_skipping_env, world, input) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "resume")
        assert world.reviews == 2
        review_edits = [r for r in world.edit_requests if r.purpose == "review"]
        assert len(review_edits) == 1 and "rename x" in review_edits[0].feedback
        await handle.signal(IssueWorkflow.resume, ResumeRequest(by="carol"))
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert world.reviews == 3


async def test_protected_path_fails_the_deterministic_gate_without_a_model_review(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(diff_files=[".gitea/workflows/ci.yml"])
    input = issue_input(auto_approve=True, max_review_rounds=1)
    async with running(time_skipping_env, world, input) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == "resume")
        await handle.terminate("test over")
    assert world.reviews == 0
    assert status.review is not None and "protected paths" in status.review.summary


async def test_invalid_model_output_fails_the_stage_with_a_comment(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(invalid_plan=True)
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        status = await handle.query(IssueWorkflow.status)
    assert status.outcome == "failed"
    assert "invalid" in world.comments["failed:plan"]
    assert world.labels == {"autopilot-failed"}


async def test_cancelling_a_run_cleans_up_labels(time_skipping_env: WorkflowEnvironment) -> None:
    world = FakeWorld()
    async with running(time_skipping_env, world, issue_input()) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "approval")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert world.labels == set()
    assert "Outcome: **cancelled**" in world.comments["progress"]


async def test_an_archived_repository_fails_intake_with_a_clear_reason(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(archived=True)
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        status = await handle.query(IssueWorkflow.status)
    # The forge refuses even the failure comment (423); the run still says why it stopped.
    assert "archived" in str(failure.value.cause)
    assert status.outcome == "failed" and status.error is not None and "archived" in status.error
    assert world.comments == {} and world.plan_requests == []
