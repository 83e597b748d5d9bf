"""The ``merge`` gate on the real dev server (Updates with validators), the forge faked by name:
the monitor asks a person once every merge rule holds, a rejection becomes an answer on the PR,
and an approval merges only the head it was given on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.agent import AgentBrief
from domain.merge import MergePolicy
from tests.dev_server import running_dev_server
from tests.polling import eventually
from tests.workflows.test_issue_workflow import running, wait_for
from tests.workflows.test_monitor import GREEN, WatchedWorld, watched_input
from tests.workflows.test_stage_gates import APPROVE, decision, refused

pytestmark = pytest.mark.timeout(120)
NEW_HEAD = "e" * 40
WAITING = "approval to merge the pull request"


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    async with running_dev_server() as env:
        yield env


async def test_the_merge_waits_for_a_person_and_merges_only_the_approved_head(
    dev_server: WorkflowEnvironment,
) -> None:
    # Green on the first two reads; then somebody pushed a new head, green as well.
    world = WatchedWorld(verdicts=[GREEN, GREEN, GREEN.model_copy(update={"head_sha": NEW_HEAD})])
    policy = MergePolicy(mode="when-approved", required_statuses=["ci"])
    input = watched_input(policy, gates=["merge"], approvers=["ada"])
    async with running(dev_server, world, input) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == WAITING)
        assert status.stage == "monitor" and world.merges == [] and len(world.pulls) == 1
        assert "Every merge rule holds: merge the pull request?" in world.comments["gate:merge:1"]
        await eventually(  # the status changes first, then the comment reports it
            lambda: asyncio.sleep(0, world.comments["progress"]),
            lambda comment: f"Waiting for: **{WAITING}**" in comment,
        )
        assert "not the implement one" in await refused(handle, decision(stage="implement"))
        assert "needs feedback" in await refused(handle, decision(approved=False))
        edits = len(world.edit_requests)
        answer = await handle.execute_update(
            APPROVE,
            decision(approved=False, feedback="Keep the old name too", stage="merge"),
            result_type=str,
        )
        assert answer == "rejected at the merge gate; changing the code with the feedback"

        await wait_for(
            handle, lambda s: s.waiting_for == WAITING and "gate:merge:2" in world.comments
        )
        (change,) = world.edit_requests[edits:]
        assert isinstance(change, AgentBrief) and change.purpose == "review"
        assert "Keep the old name too" in change.feedback and "merge gate" in change.feedback
        answers = [m for m in world.comments if m.startswith("answer:")]
        assert len(answers) == 1 and "@ada asked at the merge gate" in world.comments[answers[0]]
        assert world.test_runs == 2 and world.merges == []  # the change was tested, not merged
        answer = await handle.execute_update(APPROVE, decision(stage="merge"), result_type=str)
        assert answer == "approved at the merge gate"

        # Read again after the approval: a new head was pushed, so the gate asks about it.
        await wait_for(
            handle, lambda s: s.waiting_for == WAITING and "gate:merge:3" in world.comments
        )
        assert world.merges == []
        await handle.execute_update(APPROVE, decision(), result_type=str)
        result = await handle.result()
    assert result.outcome == "merged", result.status.error
    assert [m.head_sha for m in world.merges] == [NEW_HEAD]
    assert world.verdict_reads == 4
    (record,) = world.outcome_records
    assert record.rejections == ["Keep the old name too"]
