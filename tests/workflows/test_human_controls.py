"""Human controls answer as they say: cancel at the plan gate, approvals bound to a plan."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.run import ApprovalDecision
from domain.task import CancelRequest
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_workflow import issue_input, running, wait_for
from workflows.issue import IssueWorkflow

pytestmark = pytest.mark.timeout(90)


async def test_cancel_while_the_plan_waits_for_approval_ends_the_run_at_once(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld()
    async with running(time_skipping_env, world, issue_input()) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "approval")
        await handle.signal(IssueWorkflow.cancel, CancelRequest(by="erin", reason="not needed"))
        result = await handle.result()
    assert result.outcome == "cancelled"
    assert world.labels == set() and world.pulls == []
    assert "Outcome: **cancelled**" in world.comments["progress"]
    assert not any(c.startswith("reminder:") for c in world.comments)


async def test_an_approval_for_another_plan_version_is_refused(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld()
    async with running(time_skipping_env, world, issue_input()) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "approval")
        rejection = ApprovalDecision(
            approver="alice", approved=False, feedback="split the task", plan_version=1
        )
        await handle.execute_update("approve", rejection)
        await wait_for(handle, lambda s: s.waiting_for == "approval" and s.plan_version == 2)
        late = ApprovalDecision(approver="bob", approved=True, plan_version=1)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("approve", late)
        assert "plan version 1 is not the one waiting (version 2)" in str(refused.value.cause)
        await handle.execute_update(
            "approve", ApprovalDecision(approver="bob", approved=True, plan_version=2)
        )
        result = await handle.result()
    assert result.outcome == "pr_opened" and result.status.plan_version == 2
