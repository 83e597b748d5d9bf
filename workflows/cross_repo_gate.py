"""The gate of a cross-repository change: nothing merges until every PR is approved and green.

Approvals are polled from the forge (a person clicks "Approve" in Gitea; the forge stays the
only record, and the same poll sees closed PRs, requested changes and commit statuses). A PR
closed unmerged, changes requested, or a child waiting for a human past the grace fails the set
(``SetFailed``); so does a merge the forge refuses, after re-reading what already merged.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError

from domain import names
from domain.cross_repo import (
    DeleteBranchInput,
    MergeOutcome,
    MergePullInput,
    PullVerdict,
    PullVerdictInput,
)
from domain.merge import MergePolicy, merge_blockers, status_blockers
from workflows.calls import Activities
from workflows.cross_repo_publish import Publisher
from workflows.cross_repo_set import CrossRepoSet
from workflows.errors import SetFailed, innermost

# Before it: pending statuses counted as green and mergeability was not checked before merging.
GATING = "cross-repo-gating"


class Gate:
    def __init__(self, activities: Activities, crs: CrossRepoSet, publisher: Publisher) -> None:
        self._activities = activities
        self._set = crs
        self._publisher = publisher
        self._needs_human_since: dict[str, datetime] = {}

    def all_ready(self) -> bool:
        status = self._set.status
        return all(status.repos[n].stage == "ready" for n in status.order)

    def reset(self) -> None:
        """Forget the needs-human waits of a failed attempt (``retry``)."""
        self._needs_human_since.clear()

    async def poll(self) -> None:
        """Read each PR (and each running child's issue) from the forge; fail on a rejection."""
        for name in self._set.status.order:
            progress = self._set.progress(name)
            if progress.stage not in ("running", "pr_open", "ready"):
                continue
            pull = self._set.pull(name) if progress.pr_number is not None else None
            verdict = await self._activities.run(
                names.PULL_VERDICT,
                PullVerdictInput(pull=pull, issue=self._set.issues[name]),
                PullVerdict,
            )
            self._judge(name, verdict)

    def _judge(self, name: str, verdict: PullVerdict) -> None:
        self._judge_needs_human(name, verdict)
        progress = self._set.progress(name)
        if progress.pr_number is None:
            return
        progress.merged = verdict.merged
        if workflow.patched(GATING):  # pending (or a missing required status) is never green
            progress.green = not status_blockers(verdict.statuses, self._required(name))
        else:
            progress.green = verdict.status_ok  # the run's own tests passed: it opened the PR
        if verdict.state == "closed" and not verdict.merged:
            progress.verdict, progress.stage = "closed", "failed"
            progress.error = "its PR was closed"
        elif self._current_requests(verdict):
            progress.verdict, progress.stage = "changes_requested", "failed"
            progress.error = "changes requested by " + ", ".join(verdict.changes_requested_by)
        else:
            progress.verdict = "approved" if verdict.approved else "pending"
            ready = verdict.approved and progress.green
            progress.stage = "ready" if ready else "pr_open"
            return
        raise SetFailed(f"{progress.repo}: {progress.error}")

    @staticmethod
    def _current_requests(verdict: PullVerdict) -> list[str]:
        """Change requests on the PR's head. One on an older head (a retry pushed an answer
        since) waits for the reviewer's next word instead of failing the set again."""
        if not workflow.patched(GATING):
            return verdict.changes_requested_by
        stale = set(verdict.stale_change_requests)
        return [login for login in verdict.changes_requested_by if login not in stale]

    def _judge_needs_human(self, name: str, verdict: PullVerdict) -> None:
        """A running child may wait for a human only ``needs_human_grace_seconds``."""
        progress = self._set.progress(name)
        if not (verdict.needs_human and progress.stage == "running"):
            self._needs_human_since.pop(name, None)
            return
        since = self._needs_human_since.setdefault(name, workflow.now())
        waited = (workflow.now() - since).total_seconds()
        if waited >= self._set.input.needs_human_grace_seconds:
            progress.stage = "failed"
            progress.error = f"waited for a human for {int(waited)} s"
            raise SetFailed(f"{progress.repo}: {progress.error}")

    def grace_left(self) -> float:
        """Seconds until the first needs-human wait runs out: the poll must not sleep past it."""
        if not self._needs_human_since:
            return float(self._set.input.max_poll_seconds)
        now = workflow.now()
        grace = self._set.input.needs_human_grace_seconds
        left = [grace - (now - s).total_seconds() for s in self._needs_human_since.values()]
        return max(1.0, min(left))

    def _required(self, name: str) -> list[str]:
        return self._set.targets[name].repo_settings.merge.required_statuses

    async def merge_all(self) -> None:
        """Merge in dependency order; a refusal mid-way is re-read and reported, never hidden."""
        self._set.status.phase = "merging"
        await self._publisher.summary()
        heads = await self._check_all() if workflow.patched(GATING) else {}
        for name in self._set.status.order:
            await self._merge(name, heads.get(name, ""))
        await self._publisher.publish()

    async def _check_all(self) -> dict[str, str]:
        """Before the first merge, every PR again: open, mergeable, approved, every required
        status green. One that is not fails the set with nothing merged; the heads checked
        here are the only ones merged (a push since makes the forge refuse)."""
        heads: dict[str, str] = {}
        problems: list[str] = []
        for name in self._set.status.order:
            progress = self._set.progress(name)
            verdict = await self._activities.run(
                names.PULL_VERDICT, PullVerdictInput(pull=self._set.pull(name)), PullVerdict
            )
            policy = MergePolicy(required_statuses=self._required(name))
            blockers = [] if verdict.merged else merge_blockers(verdict, policy)
            if blockers:
                progress.stage, progress.error = "pr_open", "; ".join(blockers)
                problems.append(f"{progress.repo}#{progress.pr_number}: {progress.error}")
            heads[name] = verdict.head_sha
        if problems:
            raise SetFailed("nothing was merged: " + " | ".join(problems))
        return heads

    async def _merge(self, name: str, head: str = "") -> None:
        progress = self._set.progress(name)
        try:
            merged = await self._activities.run(
                names.MERGE_PULL,
                MergePullInput(
                    pull=self._set.pull(name),
                    style=self._set.input.merge_style,
                    title=f"Merge {progress.repo}#{progress.pr_number} "
                    f"({self._set.input.workflow_name})",
                    head_sha=head,
                ),
                MergeOutcome,
            )
        except ActivityError as err:
            await self._reread_merges()
            progress.stage = "failed"
            progress.error = f"merge failed: {innermost(err)}"
            raise SetFailed(f"{progress.repo}: {progress.error}") from None
        progress.merged = merged.merged
        progress.stage = "merged"
        if head:  # checked before merging (the patch): Autopilot's branches go once merged
            await self._activities.run(
                names.DELETE_BRANCH,
                DeleteBranchInput(
                    repo=self._set.targets[name].repo, branch=self._set.issues[name].branch
                ),
                bool,
            )

    async def _reread_merges(self) -> None:
        """After a failed merge, ask the forge which PRs of the set are merged."""
        merged: list[str] = []
        for name in self._set.status.order:
            progress = self._set.progress(name)
            if progress.pr_number is None:
                continue
            verdict = await self._activities.run(
                names.PULL_VERDICT, PullVerdictInput(pull=self._set.pull(name)), PullVerdict
            )
            progress.merged = verdict.merged
            if verdict.merged:
                progress.stage = "merged"
                merged.append(progress.repo)
        self._set.status.partial_merge = merged
