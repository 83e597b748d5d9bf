"""Undoing a stopped cross-repository change: close PRs, delete branches, revert merges.

Runs in reverse dependency order, so a dependent is undone before what it depends on. Every
write is find-or-create on the forge, so a retried activity finds its own earlier work.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from domain import names
from domain.cross_repo import (
    ClosePullInput,
    DeleteBranchInput,
    MergeOutcome,
    MergePullInput,
    PullRef,
    PullVerdict,
    PullVerdictInput,
    RevertMergeInput,
    RevertResult,
)
from domain.forge import (
    GetRepoInput,
    OpenPullRequestInput,
    PullRequestInfo,
    SetIssueLabelsInput,
    UpsertCommentInput,
)
from domain.issue import RepoInfo
from workflows import cross_repo_report as report
from workflows.calls import Activities
from workflows.cross_repo_gate import GATING
from workflows.cross_repo_publish import Publisher
from workflows.cross_repo_set import CrossRepoSet
from workflows.errors import innermost


class Compensation:
    def __init__(self, activities: Activities, crs: CrossRepoSet, publisher: Publisher) -> None:
        self._activities = activities
        self._set = crs
        self._publisher = publisher

    async def run(self) -> list[str]:
        """Undo in reverse dependency order: revert merges, close PRs, delete work branches.

        The repositories whose main still carries the change (a revert PR the forge would not
        merge) are returned: the set is not undone until they are.
        """
        self._set.status.phase = "compensating"
        await self._publisher.summary()
        why = (
            f"The cross-repository change `{self._set.input.workflow_name}` was stopped: "
            f"{self._set.status.failure}. This PR is closed as part of undoing the whole set."
        )
        complete = workflow.patched(GATING)
        for name in reversed(self._set.status.order):
            progress = self._set.progress(name)
            if progress.merged and progress.pr_number is not None:
                if progress.stage != "reverted" or not progress.revert_merged:
                    await self._revert(name, merge=complete)
            elif progress.stage != "closed":
                await self._close(name, why)
            if complete:  # every label on the linked issue says the set is undone
                await self._unlabel(name)
        if not complete:
            return []  # before the patch a revert PR was only opened
        return [n for n in self._set.status.order if self._carries_change(n)]

    def _carries_change(self, name: str) -> bool:
        progress = self._set.progress(name)
        return progress.stage == "reverted" and not progress.revert_merged

    async def _unlabel(self, name: str) -> None:
        await self._activities.run(
            names.SET_ISSUE_LABELS,
            SetIssueLabelsInput(
                issue=self._set.issues[name],
                remove=[names.LABEL_PR_OPEN, names.LABEL_IN_PROGRESS, names.LABEL_NEEDS_HUMAN],
            ),
            list,
        )

    async def _close(self, name: str, why: str) -> None:
        """Close the PR (if any) with ``why``, delete the work branch, say so on the issue."""
        progress, issue = self._set.progress(name), self._set.issues[name]
        if progress.pr_number is not None:
            await self._activities.run(
                names.CLOSE_PULL,
                ClosePullInput(pull=self._set.pull(name), comment=why),
                PullRequestInfo,
            )
        # A run cancelled just after it opened its PR never reported the number: its PR is
        # found by the branch and closed too.
        orphans = why if progress.pr_number is None else ""
        await self._activities.run(
            names.DELETE_BRANCH,
            DeleteBranchInput(
                repo=self._set.targets[name].repo, branch=issue.branch, close_pulls_comment=orphans
            ),
            bool,
        )
        progress.stage = "closed"
        await self._activities.run(
            names.UPSERT_COMMENT,
            UpsertCommentInput(issue=issue, marker=report.OUTCOME_MARKER, body=why),
            None,
        )

    async def _revert(self, name: str, merge: bool) -> None:
        """A merged PR is undone by a revert PR of its merge commit, not by rewriting history;
        with ``merge`` the revert PR is merged too, when the forge allows it."""
        progress, repo_ref = self._set.progress(name), self._set.targets[name].repo
        verdict = await self._activities.run(
            names.PULL_VERDICT, PullVerdictInput(pull=self._set.pull(name)), PullVerdict
        )
        repo = await self._activities.run(names.GET_REPO, GetRepoInput(repo=repo_ref), RepoInfo)
        if not verdict.merge_commit_sha:
            raise ApplicationError(f"{progress.repo}#{progress.pr_number} has no merge commit")
        branch = f"autopilot/revert-{progress.pr_number}"
        await self._activities.run(
            names.REVERT_MERGE,
            RevertMergeInput(
                repo=repo_ref,
                clone_url=repo.clone_url,
                base_branch=repo.default_branch,
                merge_commit_sha=verdict.merge_commit_sha,
                branch=branch,
                key=f"{workflow.info().workflow_id}:revert:{name}",
            ),
            RevertResult,
        )
        opened = await self._activities.run(
            names.OPEN_PULL_REQUEST,
            OpenPullRequestInput(
                repo=repo_ref,
                head=branch,
                base=repo.default_branch,
                title=f"Revert #{progress.pr_number} ({self._set.input.workflow_name})",
                body=(
                    f"Reverts #{progress.pr_number}: the cross-repository change "
                    f"`{self._set.input.workflow_name}` was stopped ({self._set.status.failure})."
                ),
            ),
            PullRequestInfo,
        )
        progress.revert_pr_url = opened.html_url
        progress.merge_commit_sha = verdict.merge_commit_sha
        progress.stage = "reverted"
        if merge:
            await self._merge_revert(name, PullRef(repo=repo_ref, number=opened.number))

    async def _merge_revert(self, name: str, pull: PullRef) -> None:
        progress = self._set.progress(name)
        try:
            outcome = await self._activities.run(
                names.MERGE_PULL,
                MergePullInput(
                    pull=pull,
                    style=self._set.input.merge_style,
                    title=f"Revert #{progress.pr_number} ({self._set.input.workflow_name})",
                ),
                MergeOutcome,
            )
        except ActivityError as err:
            progress.error = f"the forge refused to merge the revert: {innermost(err)}"
            return
        progress.revert_merged = outcome.merged
        progress.error = None if outcome.merged else "the forge did not merge the revert"
