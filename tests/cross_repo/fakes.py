"""A scripted forge and a stand-in IssueWorkflow for CrossRepoWorkflow on the time-skipping server.

The stand-in child asks the activity ``test.child_script`` what to do, so each test scripts its
repositories without touching workflow code; the forge fakes record every write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

from domain import names
from domain.cross_repo import (
    ClosePullInput,
    DeleteBranchInput,
    EnsureLinkedIssueInput,
    LinkedIssue,
    MergeOutcome,
    MergePullInput,
    PullVerdict,
    PullVerdictInput,
    RevertMergeInput,
    RevertResult,
    UpdatePullSectionInput,
)
from domain.forge import (
    CommentRef,
    GetIssueInput,
    GetRepoInput,
    OpenPullRequestInput,
    PullRequestInfo,
    SetIssueLabelsInput,
    UpsertCommentInput,
)
from domain.issue import IssueInfo, RepoInfo
from domain.pull_feedback import FeedbackItem, PullFeedback, PullFeedbackInput
from domain.run import IssueResult, IssueStatus, IssueWorkflowInput

CHILD_SCRIPT = "test.child_script"
REVERT_PULL_NUMBER = 99  # every revert PR the fake opens


class ChildScript(BaseModel):
    outcome: str = "pr_opened"  # pr_opened | failed | needs_human | slow
    pr_number: int = 1


@workflow.defn(name=names.ISSUE_WORKFLOW)
class FakeIssueWorkflow:
    """Opens a PR at once, fails, or waits (for a human, or a long time) until cancelled."""

    @workflow.run
    async def run(self, input: IssueWorkflowInput) -> IssueResult:
        script = await workflow.execute_activity(
            CHILD_SCRIPT,
            input,
            result_type=ChildScript,
            start_to_close_timeout=timedelta(seconds=10),
        )
        if script.outcome == "failed":
            raise ApplicationError("stage verify failed: tests cannot be fixed", non_retryable=True)
        if script.outcome in ("needs_human", "slow"):
            await workflow.wait_condition(lambda: False)
        url = f"http://forge.test/{input.issue.repo.full_name}/pulls/{script.pr_number}"
        status = IssueStatus(outcome="pr_opened", pr_number=script.pr_number, pr_url=url)
        return IssueResult(outcome="pr_opened", pr_url=url, status=status)


@dataclass
class FakeForge:
    """Per repository (owner/name): the child's script, the PR's reviews and what happened."""

    scripts: dict[str, ChildScript] = field(default_factory=dict)
    approved: set[str] = field(default_factory=set)
    changes_requested: set[str] = field(default_factory=set)
    refuse_merge: set[str] = field(default_factory=set)
    started: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    deleted_branches: list[str] = field(default_factory=list)
    searched_for_pulls: list[str] = field(default_factory=list)  # branches deleted with a comment
    reverted: list[str] = field(default_factory=list)
    revert_pulls: list[str] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    linked: dict[str, int] = field(default_factory=dict)
    merges_before_all_approved: int = 0
    unmergeable: set[str] = field(default_factory=set)  # the forge reports a conflict
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)  # default: ci success
    refuse_revert: set[str] = field(default_factory=set)
    revert_merges: list[str] = field(default_factory=list)
    labels_removed: dict[str, list[str]] = field(default_factory=dict)
    planned_for: dict[str, list[str]] = field(default_factory=dict)  # each child's feedback
    child_inputs: list[IssueWorkflowInput] = field(default_factory=list)
    stale_requests: set[str] = field(default_factory=set)  # a push since the change request
    # Set: reading a PR's verdict waits for it (after setting ``verdict_asked``).
    verdicts_wait: asyncio.Event | None = None
    verdict_asked: asyncio.Event = field(default_factory=asyncio.Event)

    def activities(self) -> list[Callable[..., Any]]:
        return [
            self.child_script,
            self.get_issue,
            self.ensure_linked_issue,
            self.pull_verdict,
            self.update_pull_section,
            self.merge_pull,
            self.close_pull,
            self.delete_branch,
            self.upsert_comment,
            self.get_repo,
            self.revert_merge,
            self.open_pull_request,
            self.set_issue_labels,
            self.pull_feedback,
        ]

    @activity.defn(name=CHILD_SCRIPT)
    async def child_script(self, input: IssueWorkflowInput) -> ChildScript:
        repo = input.issue.repo.full_name
        self.started.append(repo)
        self.planned_for[repo] = input.review_feedback
        self.child_inputs.append(input)
        return self.scripts.get(repo, ChildScript())

    @activity.defn(name=names.GET_ISSUE)
    async def get_issue(self, input: GetIssueInput) -> IssueInfo:
        return IssueInfo(
            number=input.issue.number,
            title="Add a currency field",
            body="Every service needs the currency.",
            state="open",
            html_url=f"http://forge.test/{input.issue.repo.full_name}/issues/1",
            author="alice",
        )

    @activity.defn(name=names.ENSURE_LINKED_ISSUE)
    async def ensure_linked_issue(self, input: EnsureLinkedIssueInput) -> LinkedIssue:
        repo = input.repo.full_name
        created = repo not in self.linked
        number = self.linked.setdefault(repo, 10 + len(self.linked))
        return LinkedIssue(number=number, html_url=f"http://x/{repo}/{number}", created=created)

    @activity.defn(name=names.PULL_VERDICT)
    async def pull_verdict(self, input: PullVerdictInput) -> PullVerdict:
        verdict = PullVerdict(state="", merged=False)
        if input.issue is not None:
            script = self.scripts.get(input.issue.repo.full_name, ChildScript())
            verdict.needs_human = script.outcome == "needs_human"
        if input.pull is None:
            return verdict
        self.verdict_asked.set()
        if self.verdicts_wait is not None:
            await self.verdicts_wait.wait()
        repo = input.pull.repo.full_name
        verdict.state = "closed" if repo in self.closed or repo in self.merged else "open"
        verdict.merged = repo in self.merged
        verdict.approved_by = ["carol"] if repo in self.approved else []
        verdict.changes_requested_by = ["dave"] if repo in self.changes_requested else []
        verdict.combined_status = "success"
        verdict.merge_commit_sha = "m" * 40 if verdict.merged else None
        verdict.mergeable = repo not in self.unmergeable
        if repo in self.stale_requests:
            verdict.stale_change_requests = list(verdict.changes_requested_by)
        verdict.head_sha = "h" * 40
        verdict.statuses = self.statuses.get(repo, {"ci": "success"})
        return verdict

    @activity.defn(name=names.UPDATE_PULL_SECTION)
    async def update_pull_section(self, input: UpdatePullSectionInput) -> None:
        self.sections[input.pull.repo.full_name] = input.section

    @activity.defn(name=names.MERGE_PULL)
    async def merge_pull(self, input: MergePullInput) -> MergeOutcome:
        repo = input.pull.repo.full_name
        if input.pull.number == REVERT_PULL_NUMBER:
            if repo in self.refuse_revert:
                raise ApplicationError(
                    "405 not allowed", type=names.ERR_MERGE_REFUSED, non_retryable=True
                )
            self.revert_merges.append(repo)
            return MergeOutcome(merged=True, merge_commit_sha="v" * 40)
        if not set(self.scripts) <= self.approved:
            self.merges_before_all_approved += 1
        if repo in self.refuse_merge:
            raise ApplicationError(
                "405 not mergeable", type=names.ERR_MERGE_REFUSED, non_retryable=True
            )
        self.merged.append(repo)
        return MergeOutcome(merged=True, merge_commit_sha="m" * 40)

    @activity.defn(name=names.CLOSE_PULL)
    async def close_pull(self, input: ClosePullInput) -> PullRequestInfo:
        self.closed.append(input.pull.repo.full_name)
        return PullRequestInfo(number=input.pull.number, html_url="http://x", state="closed")

    @activity.defn(name=names.DELETE_BRANCH)
    async def delete_branch(self, input: DeleteBranchInput) -> bool:
        self.deleted_branches.append(f"{input.repo.full_name}:{input.branch}")
        if input.close_pulls_comment:
            self.searched_for_pulls.append(input.repo.full_name)
        return True

    @activity.defn(name=names.UPSERT_COMMENT)
    async def upsert_comment(self, input: UpsertCommentInput) -> CommentRef:
        self.comments[f"{input.issue.repo.full_name}:{input.marker}"] = input.body
        return CommentRef(id=1, html_url="http://x", created=True)

    @activity.defn(name=names.GET_REPO)
    async def get_repo(self, input: GetRepoInput) -> RepoInfo:
        return RepoInfo(
            full_name=input.repo.full_name,
            default_branch="main",
            clone_url="http://forge.test/x.git",
            html_url="http://forge.test/x",
        )

    @activity.defn(name=names.REVERT_MERGE)
    async def revert_merge(self, input: RevertMergeInput) -> RevertResult:
        self.reverted.append(input.repo.full_name)
        return RevertResult(branch=input.branch, sha="r" * 40)

    @activity.defn(name=names.OPEN_PULL_REQUEST)
    async def open_pull_request(self, input: OpenPullRequestInput) -> PullRequestInfo:
        self.revert_pulls.append(f"{input.repo.full_name}:{input.head}")
        return PullRequestInfo(
            number=REVERT_PULL_NUMBER, html_url="http://x/pulls/99", state="open"
        )

    @activity.defn(name=names.PULL_FEEDBACK)
    async def pull_feedback(self, input: PullFeedbackInput) -> PullFeedback:
        assert not input.writers_only, "the gate counts every reviewer's change request"
        item = FeedbackItem(
            kind="review", id=1, author="dave", state="REQUEST_CHANGES", body="name it amount"
        )
        return PullFeedback(items=[item], last_review=1)

    @activity.defn(name=names.SET_ISSUE_LABELS)
    async def set_issue_labels(self, input: SetIssueLabelsInput) -> list[str]:
        key = f"{input.issue.repo.full_name}#{input.issue.number}"
        self.labels_removed.setdefault(key, []).extend(input.remove)
        return []
