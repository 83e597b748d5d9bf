"""The monitor stage with the forge faked: review feedback reaches the implementer once (even
across continue-as-new), a closed PR ends the run, a refused merge asks a person.

Each test has a time-skipping server of its own: the stage sleeps on poll timers, which a
workflow another test left waiting on a shared server would keep from being skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain import names
from domain.cross_repo import (
    DeleteBranchInput,
    MergeOutcome,
    MergePullInput,
    PullVerdict,
    PullVerdictInput,
    UpdatePullSectionInput,
)
from domain.merge import MergePolicy
from domain.pull_body import PULL_STATUS_MARKER
from domain.pull_feedback import FeedbackItem, PullFeedback, PullFeedbackInput
from domain.run import IssueWorkflowInput, RepoSettings, ResumeRequest
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_continue_as_new import escalated, run_chain
from tests.workflows.test_issue_workflow import issue_input, running

pytestmark = pytest.mark.timeout(90)

HEAD = "c" * 40
OPEN = PullVerdict(state="open", merged=False, mergeable=True, head_sha=HEAD)
CLOSED = PullVerdict(state="closed", merged=False, head_sha=HEAD)
GREEN = OPEN.model_copy(update={"approved_by": ["ann"], "statuses": {"ci": "success"}})
ASK = FeedbackItem(
    kind="review", id=5, author="ann", state="REQUEST_CHANGES", body="rename total to gross"
)


@dataclass
class WatchedWorld(FakeWorld):
    """The fake world plus the open PR: scripted verdicts (the last repeats) and feedback."""

    verdicts: list[PullVerdict] = field(default_factory=lambda: [OPEN])
    verdict_reads: int = 0
    feedback_after: list[int] = field(default_factory=list)  # after_review of each read
    merge_refusals: int = 0
    merges: list[MergePullInput] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    sections: list[UpdatePullSectionInput] = field(default_factory=list)

    def activities(self) -> list[Any]:
        extra = [self.pull_verdict, self.pull_feedback, self.merge_pull, self.delete_branch]
        return [*super().activities(), *extra, self.update_pull_section]

    @activity.defn(name=names.PULL_VERDICT)
    async def pull_verdict(self, input: PullVerdictInput) -> PullVerdict:
        assert input.writers_only, "only people with write access count"
        self.verdict_reads += 1
        return self.verdicts[min(self.verdict_reads, len(self.verdicts)) - 1]

    @activity.defn(name=names.PULL_FEEDBACK)
    async def pull_feedback(self, input: PullFeedbackInput) -> PullFeedback:
        self.feedback_after.append(input.after_review)
        new = [item for item in [ASK] if item.id > input.after_review]
        return PullFeedback(items=new, last_review=max(5, input.after_review))

    @activity.defn(name=names.MERGE_PULL)
    async def merge_pull(self, input: MergePullInput) -> MergeOutcome:
        self.merges.append(input)
        if self.merge_refusals > 0:
            self.merge_refusals -= 1
            raise ApplicationError(
                "the forge refused: head out of date",
                type=names.ERR_MERGE_REFUSED,
                non_retryable=True,
            )
        return MergeOutcome(merged=True, merge_commit_sha="d" * 40)

    @activity.defn(name=names.UPDATE_PULL_SECTION)
    async def update_pull_section(self, input: UpdatePullSectionInput) -> None:
        self.sections.append(input)

    @activity.defn(name=names.DELETE_BRANCH)
    async def delete_branch(self, input: DeleteBranchInput) -> bool:
        self.deleted.append(input.branch)
        return True


def watched_input(merge: MergePolicy, **settings: object) -> IssueWorkflowInput:
    input = issue_input(auto_approve=True, **settings)
    input.repo_settings = RepoSettings(merge=merge)
    return input


async def test_feedback_is_answered_once_across_continue_as_new_and_a_close_ends_the_run(
    own_time_skipping_env: WorkflowEnvironment,
) -> None:
    world = WatchedWorld(verdicts=[OPEN] * 4 + [CLOSED])
    input = watched_input(MergePolicy(), max_review_iterations=2, max_loop_rounds_per_run=2)
    async with running(own_time_skipping_env, world, input) as handle:
        result = await handle.result()
        chain = await run_chain(own_time_skipping_env, handle)
    assert result.outcome == "pr_closed", result.status.error
    assert len(chain) >= 3, chain  # the watch continued as new, twice at least
    # Read once with nothing handled; every later read (in later runs too) starts after it.
    assert world.feedback_after[0] == 0 and set(world.feedback_after[1:]) == {5}
    answers = [m for m in world.comments if m.startswith("answer:")]
    assert len(answers) == 1 and "@ann" in world.comments[answers[0]]
    assert world.test_runs == 2  # the answer's change was tested before it was announced
    # ... and the PR body's status section was rewritten for the new head, once.
    [section] = world.sections
    assert section.marker == PULL_STATUS_MARKER and "after 2 run(s)" in section.section
    assert "| review 1 |" in section.section
    # The implementer's loop made it, in whichever run of the chain the review arrived.
    assert [k for k in result.status.loops if k.startswith("review ")] == ["review 1"]
    assert world.deleted == ["autopilot/issue-1"]
    assert names.LABEL_PR_OPEN not in world.labels
    assert "was closed without merging" in world.comments["monitor:pr_closed"]


async def test_a_refused_merge_asks_a_person_and_a_resume_merges_at_the_checked_head(
    own_time_skipping_env: WorkflowEnvironment,
) -> None:
    world = WatchedWorld(verdicts=[GREEN], merge_refusals=1)
    policy = MergePolicy(mode="when-approved", required_statuses=["ci"], style="squash")
    async with running(own_time_skipping_env, world, watched_input(policy)) as handle:
        await escalated(world)
        assert "head out of date" in world.comments["needs-human:1"]
        await handle.signal("resume", ResumeRequest(by="ann"))
        result = await handle.result()
    assert result.outcome == "merged", result.status.error
    assert [(m.head_sha, m.style) for m in world.merges] == [(HEAD, "squash")] * 2
    assert "Autopilot merged" in world.comments["monitor:merged"]
    assert world.deleted == ["autopilot/issue-1"]


async def test_a_pending_status_never_merges(own_time_skipping_env: WorkflowEnvironment) -> None:
    pending = GREEN.model_copy(update={"statuses": {"ci": "pending"}})
    world = WatchedWorld(verdicts=[pending] * 3 + [CLOSED])
    policy = MergePolicy(mode="when-approved", required_statuses=["ci"])
    async with running(own_time_skipping_env, world, watched_input(policy)) as handle:
        result = await handle.result()
    assert result.outcome == "pr_closed" and world.merges == []
    assert world.verdict_reads == 4
