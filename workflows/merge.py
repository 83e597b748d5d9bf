"""Merging Autopilot's own pull request, once the forge says every rule holds.

The merge names the head it checked (``head_commit_id``), so a push after the checks makes the
forge refuse instead of merging unchecked code; any refusal asks a person. Branches Autopilot
created are deleted once the PR is merged or closed.
"""

from __future__ import annotations

from typing import Literal

from temporalio.exceptions import ActivityError

from domain import names
from domain.cross_repo import (
    DeleteBranchInput,
    MergeOutcome,
    MergePullInput,
    PullRef,
    PullVerdict,
)
from domain.forge import UpsertCommentInput
from domain.issue import IssueRef
from domain.merge import MergePolicy
from domain.pull_feedback import MAX_FEEDBACK_CHARS, PullFeedback
from workflows.calls import Activities
from workflows.errors import innermost

EndOutcome = Literal["merged", "pr_closed"]


async def merge_checked(
    calls: Activities, pull: PullRef, verdict: PullVerdict, policy: MergePolicy, title: str
) -> str | None:
    """Merge at the checked head; None when merged, else why the forge refused."""
    try:
        outcome = await calls.run(
            names.MERGE_PULL,
            MergePullInput(pull=pull, style=policy.style, title=title, head_sha=verdict.head_sha),
            MergeOutcome,
        )
    except ActivityError as err:
        return innermost(err)
    return None if outcome.merged else "the forge did not merge it"


async def delete_work_branch(
    calls: Activities, pull: PullRef, branch: str, policy: MergePolicy
) -> bool:
    """Delete the run's branch (and its tasks' branches) when the policy says so."""
    if not policy.delete_branch or not branch.startswith("autopilot/"):
        return False  # only branches Autopilot created
    return await calls.run(
        names.DELETE_BRANCH, DeleteBranchInput(repo=pull.repo, branch=branch), bool
    )


def merged_comment(pull_url: str, style: str) -> str:
    return f"🎉 Autopilot merged {pull_url} ({style}): it was approved and every check was green."


def closed_comment(pull_url: str) -> str:
    return f"🚫 {pull_url} was closed without merging; this run has ended as *pr_closed*."


def merged_by_someone_comment(pull_url: str) -> str:
    return f"🎉 {pull_url} was merged; this run has ended as *merged*."


def waiting_text(blockers: list[str]) -> str:
    return "merge: " + "; ".join(blockers)


def feedback_brief(feedback: PullFeedback) -> str:
    """The implementer's feedback: what reviewers with write access said on the PR."""
    return (
        "Reviewers of the open pull request asked for the following. Change the code on this "
        "branch to address every point, keep the tests passing, and say what you changed.\n\n"
        + feedback.render()
    )


def gate_brief(approver: str, feedback: str) -> str:
    """The implementer's feedback from a person who did not approve the merge at its gate."""
    return (
        f"Before merging the open pull request, {approver} asked for changes at the merge gate. "
        "Change the code on this branch to address every point, keep the tests passing, and "
        f"say what you changed.\n\n{feedback.strip()[:MAX_FEEDBACK_CHARS]}"
    )


def gate_answer_comment(approver: str, summary: str) -> str:
    lines = [
        f"🔁 **Autopilot changed the code as @{approver} asked at the merge gate.**",
        "",
        f"What changed: {summary.strip() or 'see the new commits on this branch.'}",
        "",
        "The repository's tests pass on the new head; the merge gate asks again once every "
        "merge rule holds for it.",
    ]
    return "\n".join(lines)


def answer_comment(feedback: PullFeedback, summary: str, iteration: int, limit: int) -> str:
    who = ", ".join(f"@{login}" for login in feedback.reviewers)
    lines = [
        f"🔁 **Autopilot answered the review of {who}** (answer {iteration} of {limit}).",
        "",
        f"What changed: {summary.strip() or 'see the new commits on this branch.'}",
        "",
        "The repository's tests pass on the new head; the commits are on this branch.",
    ]
    return "\n".join(lines)


def pull_comment(pull: PullRef, marker: str, body: str) -> UpsertCommentInput:
    """A comment on the PR itself (Gitea's PRs are issues, sharing their comments)."""
    return UpsertCommentInput(
        issue=IssueRef(repo=pull.repo, number=pull.number), marker=marker, body=body
    )
