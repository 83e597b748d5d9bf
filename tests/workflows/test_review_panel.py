"""The review panel and the scan gates inside a real IssueWorkflow run (time-skipping server,
activities faked by name)."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.budget import ModelRunSettings
from domain.review import ChangeScan, Reviewer, ReviewSettings, SecretFinding
from domain.run import IssueWorkflowInput
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_budget import ROUTING
from tests.workflows.test_issue_workflow import issue_input, running, wait_for

pytestmark = pytest.mark.timeout(90)

FOCUSES = ("correctness", "tests", "security")


def panel_input(quorum: int | None = None, **settings: object) -> IssueWorkflowInput:
    input = issue_input(auto_approve=True, **settings)
    input.settings.review = ReviewSettings(
        reviewers=[
            Reviewer(focus="correctness"),
            Reviewer(focus="tests"),
            Reviewer(focus="security", tier="advanced"),
        ],
        quorum=quorum,
    )
    input.model = ModelRunSettings(routing=ROUTING)
    return input


async def test_two_of_three_reviewers_approve_the_change_in_parallel(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(
        review_by_focus={
            "correctness": "approve",
            "tests": "approve",
            "security": "request_changes",
        },
        review_seconds=0.3,
    )
    async with running(time_skipping_env, world, panel_input(quorum=2)) as handle:
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert world.reviews == 3 and world.max_active_reviews == 3
    # Each reviewer on its own tier: the security reviewer's, the review stage's for the rest.
    tiers = {r.focus: r.tier for r in world.review_requests}
    assert tiers == {"correctness": "fast", "tests": "fast", "security": "advanced"}
    panel = result.status.review_panel
    assert panel is not None and [r.reviewer for r in panel.reviewers] == list(FOCUSES)
    assert (panel.approvals, panel.quorum) == (2, 2)
    (pull,) = world.pulls
    assert "Verdict: **approve** — Approved by quorum (2 of 2 required approvals)" in pull.body
    for focus in FOCUSES:
        assert f"| {focus} | {focus} |" in pull.body
    assert "❌ request changes" in pull.body
    assert "✅ secrets: none found on the added lines" in pull.body
    assert "✅ submodules: untouched" in pull.body


async def test_one_of_three_approving_sends_the_dissent_back_then_asks_a_person(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(
        review_by_focus={"correctness": "approve"}, review_verdicts=["request_changes"]
    )
    async with running(time_skipping_env, world, panel_input(max_review_rounds=1)) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == "resume")
        await handle.terminate("test over")
    assert world.reviews == 3 and world.pulls == []
    assert status.review is not None and status.review.verdict == "request_changes"
    assert "Quorum not reached (1 of 2 required approvals)" in status.review.summary
    assert status.review.requested_changes == ["[tests] rename x", "[security] rename x"]
    assert "[security] rename x" in world.comments["needs-human:1"]


async def test_a_secret_blocks_the_change_before_any_model_review(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    leak = SecretFinding(path="shop/settings.py", line=3, kind="AWS Access Key")
    world = FakeWorld(scan_results=[ChangeScan(secrets=[leak])])
    input = issue_input(auto_approve=True, max_review_rounds=1)
    async with running(time_skipping_env, world, input) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == "resume")
        await handle.terminate("test over")
    assert world.reviews == 0 and world.pulls == []
    assert status.review is not None
    assert status.review.summary == "Deterministic gates failed: secrets"
    assert "shop/settings.py:3 (AWS Access Key)" in world.comments["needs-human:1"]


async def test_a_gate_cleared_by_the_next_round_lets_the_lone_reviewer_decide(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # The default: no panel configured, one general reviewer whose verdict stands as it is.
    world = FakeWorld(scan_results=[ChangeScan(submodules=["vendor/lib"]), ChangeScan()])
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        result = await handle.result()
    assert result.outcome == "pr_opened" and world.scans == 2 and world.reviews == 1
    review_edits = [r for r in world.edit_requests if r.purpose == "review"]
    assert len(review_edits) == 1 and "submodules: changes vendor/lib" in review_edits[0].feedback
    assert [r.focus for r in world.review_requests] == ["general"]
    assert result.status.review is not None and result.status.review.summary == "review 1"
    (pull,) = world.pulls
    assert "| general | general |" in pull.body
