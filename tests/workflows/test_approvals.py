"""Plan decisions: who decided which plan version and how, on the issue and the PR; comment
commands verified on the forge; repositories that take only verified decisions."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.forge import IssueComment
from domain.run import ApprovalDecision
from tests.polling import eventually
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_workflow import issue_input, running, wait_for
from workflows.approval import comment_problem
from workflows.issue import IssueWorkflow

pytestmark = pytest.mark.timeout(90)


def by_comment(approver: str, comment_id: int, approved: bool = True) -> ApprovalDecision:
    """What the webhook receiver sends for an ``/autopilot approve|reject`` comment."""
    feedback = "" if approved else "split the task"
    return ApprovalDecision(
        approver=approver,
        approved=approved,
        feedback=feedback,
        via="comment",
        comment_id=comment_id,
    )


def decision_rows(comment: str) -> list[str]:
    table = comment.split("Plan decisions:", 1)[1].strip().split("\n\n", 1)[0]
    return table.splitlines()[2:]


async def test_the_issue_and_the_pr_say_who_decided_which_plan_and_how(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld()
    async with running(time_skipping_env, world, issue_input()) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "approval")
        await handle.execute_update(
            "approve", ApprovalDecision(approver="bob", approved=False, feedback="add docs")
        )
        await wait_for(handle, lambda s: s.waiting_for == "approval" and s.plan_version == 2)
        await handle.signal(IssueWorkflow.decide, ApprovalDecision(approver="carol", approved=True))
        result = await handle.result()
    assert result.outcome == "pr_opened"
    update = "`approve` Update (approve CLI; `--as` is self-declared)"
    expected = [
        f"| 1 | ↩️ rejected: add docs | bob | {update} |",
        "| 2 | ✅ approved | carol | `decide` signal (self-declared) |",
    ]
    assert decision_rows(world.comments["progress"]) == expected
    assert decision_rows(world.pulls[0].body) == expected
    assert [(d.plan_version, d.via, d.verified) for d in result.status.decisions] == [
        (1, "update", False),
        (2, "signal", False),
    ]


async def test_a_comment_command_counts_only_as_the_forge_shows_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(
        human_comments={
            5: IssueComment(id=5, author="mallory", body="/autopilot approve"),
            6: IssueComment(id=6, author="alice", body="Looks fine to me\n/autopilot approve"),
            7: IssueComment(id=7, author="alice", body="/autopilot approve"),
        }
    )
    async with running(time_skipping_env, world, issue_input(approvers=["alice"])) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "approval")
        for forged, why in (
            (by_comment("alice", 5), "written by mallory, not alice"),
            (by_comment("alice", 6), "does not start with `/autopilot approve`"),
            (by_comment("alice", 99), "comment 99 is not on this issue"),
        ):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update("approve", forged)
            assert why in str(refused.value.cause)
        assert (await handle.query(IssueWorkflow.status)).waiting_for == "approval"
        assert await handle.execute_update("approve", by_comment("alice", 7)) == "approved"
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert [(d.approver, d.via, d.verified) for d in result.status.decisions] == [
        ("alice", "comment", True)
    ]
    assert "| 1 | ✅ approved | alice | comment command (verified on the forge) |" in (
        world.pulls[0].body
    )


async def test_a_repository_can_take_only_verified_decisions(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(
        human_comments={3: IssueComment(id=3, author="alice", body="/autopilot approve")}
    )
    async with running(time_skipping_env, world, issue_input(verified_approvals=True)) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "approval")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                "approve", ApprovalDecision(approver="alice", approved=True)
            )
        assert "only decisions the forge verifies" in str(refused.value.cause)
        # The signal twin refuses it the same way, and answers on the issue (a signal cannot).
        await handle.signal(IssueWorkflow.decide, ApprovalDecision(approver="alice", approved=True))
        await eventually(
            lambda: asyncio.sleep(0, world.comments.get("refused-decision:1", "")),
            lambda body: "only decisions the forge verifies" in body,
            what="the answer to the refused signal",
        )
        assert (
            "sent as `alice` with the `decide` signal was refused"
            in (world.comments["refused-decision:1"])
        )
        assert (await handle.query(IssueWorkflow.status)).waiting_for == "approval"
        await handle.execute_update("approve", by_comment("alice", 3))
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert [d.via for d in result.status.decisions] == ["comment"]


async def test_auto_approved_plans_say_so(time_skipping_env: WorkflowEnvironment) -> None:
    world = FakeWorld()
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        result = await handle.result()
    assert decision_rows(world.pulls[0].body) == [
        "| 1 | ✅ approved | auto-approve | `run.auto_approve` |"
    ]
    assert result.status.decisions[0].verified is False


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("/autopilot reject split the task", None),
        ("  /AutoPilot reject\n split the task ", None),
        ("/autopilot reject merge the tasks", "says other feedback than the decision"),
        ("/autopilot approve", "does not start with `/autopilot reject`"),
        ("> /autopilot reject split the task", "does not start with `/autopilot reject`"),
        ("/autopilot rejected split the task", "does not start with `/autopilot reject`"),
    ],
)
def test_a_rejection_comment_must_say_the_rejection_and_its_feedback(
    body: str, problem: str | None
) -> None:
    found = comment_problem(
        IssueComment(id=4, author="bob", body=body), by_comment("bob", 4, False)
    )
    assert (found is None) if problem is None else (problem in (found or ""))
