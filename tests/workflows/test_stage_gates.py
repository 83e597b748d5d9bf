"""Interactive mode on the real dev server (Updates with validators), activities faked by name:
a run with every gate stops at each, refuses decisions meant for another gate, turns a
rejection into a change, and goes on when a person approves."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.agent import AgentBrief
from domain.forge import IssueComment
from domain.issue import IssueRef, RepoRef
from domain.run import ApprovalDecision, IssueResult, IssueWorkflowInput, RepoSettings, RunSettings
from tests.dev_server import running_dev_server
from tests.polling import eventually
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_workflow import wait_for
from workflows.issue import IssueWorkflow
from workflows.runner import WORKFLOW_RUNNER
from workflows.task import TaskWorkflow

pytestmark = pytest.mark.timeout(120)
APPROVE = "approve"


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    async with running_dev_server() as env:
        yield env


def decision(approved: bool = True, feedback: str = "", **fields: object) -> ApprovalDecision:
    return ApprovalDecision.model_validate(
        {"approver": "ada", "approved": approved, "feedback": feedback, **fields}
    )


async def refused(handle: WorkflowHandle[IssueWorkflow, IssueResult], d: ApprovalDecision) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(APPROVE, d, result_type=str)
    return str(failed.value.cause)


async def test_a_run_stops_at_each_gate_and_goes_on_when_approved(
    dev_server: WorkflowEnvironment,
) -> None:
    world = FakeWorld()
    input = IssueWorkflowInput(
        issue=IssueRef(repo=RepoRef(forge_url="http://forge.test", owner="o", name="r"), number=1),
        settings=RunSettings(gates=["implement"], approvers=["ada"]),
        # The repository's own list wins over run.gates.
        repo_settings=RepoSettings(gates=["implement", "verify", "pull_request"]),
    )
    queue = f"gates-{uuid.uuid4()}"
    async with Worker(
        dev_server.client,
        task_queue=queue,
        workflows=[IssueWorkflow, TaskWorkflow],
        activities=world.activities(),
        workflow_runner=WORKFLOW_RUNNER,
    ):
        handle = await dev_server.client.start_workflow(
            IssueWorkflow.run, input, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        await wait_for(handle, lambda s: s.waiting_for == "approval")
        assert "no implement gate is waiting" in await refused(handle, decision(stage="implement"))
        await handle.execute_update(APPROVE, decision())  # the plan

        status = await wait_for(handle, lambda s: s.waiting_for == "approval of the changes")
        assert status.stage == "implement" and not world.pulls
        preview = world.comments["gate:implement:1"]
        assert "The tasks are done: approve the changes?" in preview
        assert "```diff\n--- a\n+++ b\n```" in preview
        await eventually(  # the status changes first, then the comment reports it
            lambda: asyncio.sleep(0, world.comments["progress"]),
            lambda comment: "Waiting for: **approval of the changes**" in comment,
        )
        assert "not the verify one" in await refused(handle, decision(stage="verify"))
        assert "not an approver" in await refused(handle, decision(approver="mallory"))
        assert "needs feedback" in await refused(handle, decision(approved=False))
        edits = len(world.edit_requests)
        answer = await handle.execute_update(
            IssueWorkflow.approve, decision(approved=False, feedback="Name it net_price")
        )
        assert answer == "rejected at the implement gate; changing the code with the feedback"

        await wait_for(handle, lambda s: s.waiting_for == "approval of the changes")
        assert "gate:implement:2" in world.comments  # asked again, after the change
        (change,) = world.edit_requests[edits:]
        assert isinstance(change, AgentBrief) and change.purpose == "review"
        assert "Name it net_price" in change.feedback
        answer = await handle.execute_update(APPROVE, decision(stage="implement"), result_type=str)
        assert answer == "approved at the implement gate"

        await wait_for(handle, lambda s: s.waiting_for == "approval after the tests")
        assert world.test_runs == 1 and not world.pulls
        # A comment command, as the webhook sends it: checked on the forge before it counts.
        world.human_comments[41] = IssueComment(id=41, author="ada", body="/autopilot reject")
        world.human_comments[42] = IssueComment(id=42, author="ada", body="/autopilot approve")
        assert "not verified on the forge: comment 41" in await refused(
            handle, decision(via="comment", comment_id=41)
        )
        answer = await handle.execute_update(
            APPROVE, decision(via="comment", comment_id=42), result_type=str
        )
        assert answer == "approved at the verify gate"

        status = await wait_for(
            handle, lambda s: s.waiting_for == "approval to open the pull request"
        )
        assert status.stage == "review" and world.reviews == 1 and not world.pulls
        assert "Reviewed: open the pull request?" in world.comments["gate:pull_request:1"]
        await handle.signal(IssueWorkflow.decide, decision(approver="mallory"))  # dropped
        await handle.signal(IssueWorkflow.decide, decision(stage="pull_request"))
        result = await handle.result()
    assert result.outcome == "pr_opened" and len(world.pulls) == 1
    (record,) = world.outcome_records
    assert record.rejections == ["Name it net_price"]
