"""CrossRepoWorkflow: one request carried to a set of PRs that merge together or not at all.

link (one issue per repository) -> run an IssueWorkflow child per repository (sequential: each
once its dependencies have an approved, green PR; parallel: all at once) -> gate (every PR
approved and green) -> merge in dependency order. A failure stops the other children and either
compensates (close PRs, delete branches, revert merges) or holds for a person's decision.

Approvals are polled from the forge (a person clicks "Approve" in Gitea; the forge stays the
only record, and the same poll sees closed PRs, requested changes and commit statuses). The
``pr-approved`` signal only wakes the poll early, for callers that know something changed.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.cross_repo import (
        CLOSE_PULL,
        DELETE_BRANCH,
        ENSURE_LINKED_ISSUE,
        MERGE_PULL,
        PULL_VERDICT,
        REVERT_MERGE,
        UPDATE_PULL_SECTION,
        ClosePullInput,
        CrossRepoDecision,
        CrossRepoInput,
        CrossRepoOutcome,
        CrossRepoResult,
        CrossRepoStatus,
        Decision,
        DeleteBranchInput,
        EnsureLinkedIssueInput,
        LinkedIssue,
        MergeOutcome,
        MergePullInput,
        PullRef,
        PullVerdict,
        PullVerdictInput,
        RepoProgress,
        RevertMergeInput,
        RevertResult,
        UpdatePullSectionInput,
        cross_repo_key,
    )
    from domain.forge import (
        GetIssueInput,
        GetRepoInput,
        OpenPullRequestInput,
        PullRequestInfo,
        UpsertCommentInput,
    )
    from domain.issue import IssueInfo, IssueRef, RepoInfo
    from domain.run import IssueResult, IssueWorkflowInput
    from workflows import gate, options

T = TypeVar("T")
ChildHandle = workflow.ChildWorkflowHandle[Any, IssueResult]

ISSUE_WORKFLOW = "IssueWorkflow"
SUMMARY_MARKER = "cross-repo:summary"
OUTCOME_MARKER = "cross-repo:outcome"
# Children are asked to cancel (so they clean their labels) if this run ends without them.
CHILD_CLOSE_POLICY = workflow.ParentClosePolicy.REQUEST_CANCEL


class SetFailed(Exception):
    """One repository failed or was rejected: the whole set stops."""


@workflow.defn(name="CrossRepoWorkflow")
class CrossRepoWorkflow:
    @workflow.init
    def __init__(self, input: CrossRepoInput) -> None:
        self._input = input
        self._targets = {t.name: t for t in input.targets}
        self._deps = gate.dependencies(input.targets)
        try:
            order = gate.merge_order(input.targets)
        except ValueError:
            order = [t.name for t in input.targets]  # run() refuses the input
        self._status = CrossRepoStatus(
            workflow_name=input.workflow_name,
            coordination=input.coordination,
            order=order,
            repos={t.name: RepoProgress(name=t.name, repo=t.repo.full_name) for t in input.targets},
        )
        self._issues: dict[str, IssueRef] = {}
        self._children: dict[str, ChildHandle] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._results: dict[str, IssueResult | BaseException] = {}
        self._needs_human_since: dict[str, datetime] = {}
        self._sections: dict[str, str] = {}
        self._decision: tuple[Decision, CrossRepoDecision] | None = None
        self._events = 0  # bumped by child completions and signals; wakes the poll loop
        self._calls = 0

    # ----- run -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: CrossRepoInput) -> CrossRepoResult:
        try:
            gate.merge_order(input.targets)
        except ValueError as cycle:
            raise ApplicationError(str(cycle), non_retryable=True) from None
        workflow.upsert_search_attributes(
            [
                names.SA_REPO.value_set(input.trigger.repo.full_name),
                names.SA_ISSUE.value_set(input.trigger.number),
                names.SA_CROSS_REPO.value_set(cross_repo_key(input.workflow_name, input.trigger)),
                names.SA_OUTCOME.value_set("running"),
            ]
        )
        await self._link()
        while True:
            try:
                await self._carry()
                return await self._finish("merged")
            except SetFailed as failure:
                self._status.failure = str(failure)
                workflow.logger.info("cross-repo set failed: %s", failure)
            await self._stop_children()
            if input.on_failure == "compensate":
                decision: Decision = "compensate"
            else:
                decision = await self._hold()
            if decision == "retry":
                self._reset_failed()
                continue
            if decision == "abandon":
                return await self._finish("abandoned")
            await self._compensate()
            return await self._finish("compensated")

    async def _link(self) -> None:
        """One issue per repository: the trigger issue itself, or a linked issue found or made."""
        trigger = self._input.trigger
        info = await self._call(names.GET_ISSUE, GetIssueInput(issue=trigger), IssueInfo)
        for name in self._status.order:
            target = self._targets[name]
            progress = self._status.repos[name]
            if target.repo.full_name.lower() == trigger.repo.full_name.lower():
                ref, url = trigger, info.html_url
            else:
                linked = await self._call(
                    ENSURE_LINKED_ISSUE,
                    EnsureLinkedIssueInput(
                        trigger=trigger,
                        repo=target.repo,
                        title=f"{info.title} [{self._input.workflow_name}]",
                        body=(
                            f"Part of the cross-repository change `{self._input.workflow_name}`"
                            f" requested in {trigger.repo.full_name}#{trigger.number} "
                            f"({info.html_url}).\n\n{info.body}"
                        ),
                    ),
                    LinkedIssue,
                )
                ref = IssueRef(repo=target.repo, number=linked.number)
                url = linked.html_url
            self._issues[name] = ref
            progress.issue_number, progress.issue_url = ref.number, url
            progress.child_workflow_id = ref.workflow_id
        self._status.phase = "running"
        await self._summary()

    async def _carry(self) -> None:
        """Run the children until every PR is approved and green, then merge them in order."""
        self._status.phase = "running"
        interval = self._input.poll_seconds
        while True:
            seen = self._events  # anything after this (a child ending mid-poll) wakes the wait
            await self._start_ready()
            self._check_children()
            await self._poll()
            await self._publish()
            if all(self._status.repos[n].stage == "ready" for n in self._status.order):
                break
            if any(self._startable(n) for n in self._status.order):
                continue  # a dependency just became ready: start its dependents now
            self._status.waiting_for = "approval"
            timeout = min(interval, self._grace_left())
            if await self._wait_event(seen, timeout):
                interval = self._input.poll_seconds
            else:
                interval = min(interval * 2, self._input.max_poll_seconds)
        self._status.waiting_for = None
        await self._merge_all()

    async def _wait_event(self, seen: int, seconds: float) -> bool:
        """Wait for a child to end or a signal after ``seen``; False when ``seconds`` passed."""
        try:
            await workflow.wait_condition(
                lambda: self._events != seen, timeout=timedelta(seconds=seconds)
            )
        except TimeoutError:
            return False
        return True

    # ----- children --------------------------------------------------------------------------

    def _startable(self, name: str) -> bool:
        if self._status.repos[name].stage != "waiting":
            return False
        if self._input.coordination == "parallel":
            return True
        return all(self._status.repos[d].stage in ("ready", "merged") for d in self._deps[name])

    async def _start_ready(self) -> None:
        for name in self._status.order:
            if self._startable(name):
                await self._start_child(name)

    async def _start_child(self, name: str) -> None:
        target, issue = self._targets[name], self._issues[name]
        key = cross_repo_key(self._input.workflow_name, self._input.trigger)
        handle = await workflow.start_child_workflow(
            ISSUE_WORKFLOW,
            IssueWorkflowInput(
                issue=issue,
                repo_settings=target.repo_settings,
                settings=target.settings,
                model=target.model,
            ),
            id=issue.workflow_id,  # the linked issue's own run id: starters attach to it
            result_type=IssueResult,
            parent_close_policy=CHILD_CLOSE_POLICY,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(names.SA_REPO, issue.repo.full_name),
                    SearchAttributePair(names.SA_ISSUE, issue.number),
                    SearchAttributePair(names.SA_STAGE, "intake"),
                    SearchAttributePair(names.SA_OUTCOME, "running"),
                    SearchAttributePair(names.SA_CROSS_REPO, key),
                ]
            ),
            static_summary=f"{self._input.workflow_name}: {issue.repo.full_name}",
        )
        self._children[name] = handle
        self._results.pop(name, None)
        self._watchers[name] = asyncio.create_task(self._watch(name, handle))
        self._status.repos[name].stage = "running"

    async def _watch(self, name: str, handle: ChildHandle) -> None:
        try:
            self._results[name] = await handle
        except (ChildWorkflowError, asyncio.CancelledError) as err:
            self._results[name] = err
        self._events += 1

    def _check_children(self) -> None:
        """Record finished children; one that did not open a PR fails the set."""
        for name in self._status.order:
            progress = self._status.repos[name]
            result = self._results.get(name)
            if result is None or progress.stage != "running":
                continue
            if isinstance(result, IssueResult) and result.outcome == "pr_opened":
                progress.pr_number = result.status.pr_number
                progress.pr_url = result.status.pr_url
                progress.stage = "pr_open"
                continue
            progress.stage = "failed"
            if isinstance(result, IssueResult):
                progress.error = f"its run ended as {result.outcome}"
            else:
                progress.error = f"its run failed: {_cause(result)}"
            raise SetFailed(f"{progress.repo}: {progress.error}")

    async def _stop_children(self) -> None:
        """Cancel every running child and wait until each has ended."""
        for name, handle in self._children.items():
            if name not in self._results:
                handle.cancel()
        for name, watcher in self._watchers.items():
            await watcher
            progress = self._status.repos[name]
            if progress.stage == "running":
                progress.stage = "cancelled"

    def _reset_failed(self) -> None:
        self._status.failure = None
        self._needs_human_since.clear()
        for progress in self._status.repos.values():
            if progress.stage in ("failed", "cancelled"):
                progress.stage = "waiting"
                progress.error = None
                progress.pr_number = progress.pr_url = None
                progress.verdict = "pending"
                progress.green = False

    # ----- the gate --------------------------------------------------------------------------

    async def _poll(self) -> None:
        """Read each PR (and each running child's issue) from the forge; fail on a rejection."""
        for name in self._status.order:
            progress = self._status.repos[name]
            if progress.stage not in ("running", "pr_open", "ready"):
                continue
            pull = None
            if progress.pr_number is not None:
                pull = PullRef(repo=self._targets[name].repo, number=progress.pr_number)
            verdict = await self._call(
                PULL_VERDICT, PullVerdictInput(pull=pull, issue=self._issues[name]), PullVerdict
            )
            self._judge(name, verdict)

    def _judge(self, name: str, verdict: PullVerdict) -> None:
        progress = self._status.repos[name]
        if verdict.needs_human and progress.stage == "running":
            since = self._needs_human_since.setdefault(name, workflow.now())
            waited = (workflow.now() - since).total_seconds()
            if waited >= self._input.needs_human_grace_seconds:
                progress.stage = "failed"
                progress.error = f"waited for a human for {int(waited)} s"
                raise SetFailed(f"{progress.repo}: {progress.error}")
        else:
            self._needs_human_since.pop(name, None)
        if progress.pr_number is None:
            return
        progress.merged = verdict.merged
        progress.green = verdict.status_ok  # the run's own tests passed: it opened the PR
        if verdict.state == "closed" and not verdict.merged:
            progress.verdict, progress.stage = "closed", "failed"
            progress.error = "its PR was closed"
        elif verdict.changes_requested_by:
            progress.verdict, progress.stage = "changes_requested", "failed"
            progress.error = "changes requested by " + ", ".join(verdict.changes_requested_by)
        else:
            progress.verdict = "approved" if verdict.approved else "pending"
            ready = verdict.approved and progress.green
            progress.stage = "ready" if ready else "pr_open"
            return
        raise SetFailed(f"{progress.repo}: {progress.error}")

    def _grace_left(self) -> float:
        if not self._needs_human_since:
            return float(self._input.max_poll_seconds)
        now = workflow.now()
        grace = self._input.needs_human_grace_seconds
        left = [grace - (now - s).total_seconds() for s in self._needs_human_since.values()]
        return max(1.0, min(left))

    async def _merge_all(self) -> None:
        """Merge in dependency order; a refusal mid-way is re-read and reported, never hidden."""
        self._status.phase = "merging"
        await self._summary()
        for name in self._status.order:
            progress = self._status.repos[name]
            assert progress.pr_number is not None
            pull = PullRef(repo=self._targets[name].repo, number=progress.pr_number)
            try:
                merged = await self._call(
                    MERGE_PULL,
                    MergePullInput(
                        pull=pull,
                        style=self._input.merge_style,
                        title=f"Merge {progress.repo}#{progress.pr_number} "
                        f"({self._input.workflow_name})",
                    ),
                    MergeOutcome,
                )
            except ActivityError as err:
                await self._reread_merges()
                progress.stage = "failed"
                progress.error = f"merge failed: {_cause(err)}"
                raise SetFailed(f"{progress.repo}: {progress.error}") from None
            progress.merged = merged.merged
            progress.stage = "merged"
        await self._publish()

    async def _reread_merges(self) -> None:
        """After a failed merge, ask the forge which PRs of the set are merged."""
        merged: list[str] = []
        for name in self._status.order:
            progress = self._status.repos[name]
            if progress.pr_number is None:
                continue
            pull = PullRef(repo=self._targets[name].repo, number=progress.pr_number)
            verdict = await self._call(PULL_VERDICT, PullVerdictInput(pull=pull), PullVerdict)
            progress.merged = verdict.merged
            if verdict.merged:
                progress.stage = "merged"
                merged.append(progress.repo)
        self._status.partial_merge = merged

    # ----- failure: hold, compensate ---------------------------------------------------------

    async def _hold(self) -> Decision:
        self._status.phase = "held"
        self._status.waiting_for = "decision"
        await self._summary()
        await workflow.wait_condition(lambda: self._decision is not None)
        assert self._decision is not None
        (decision, by), self._decision = self._decision, None
        self._status.waiting_for = None
        workflow.logger.info("cross-repo decision %s by %s", decision, by.by or "unknown")
        return decision

    async def _compensate(self) -> None:
        """Undo in reverse dependency order: revert merges, close PRs, delete work branches."""
        self._status.phase = "compensating"
        await self._summary()
        why = (
            f"The cross-repository change `{self._input.workflow_name}` was stopped: "
            f"{self._status.failure}. This PR is closed as part of undoing the whole set."
        )
        for name in reversed(self._status.order):
            progress, target = self._status.repos[name], self._targets[name]
            if progress.merged and progress.pr_number is not None:
                await self._revert(name)
                continue
            if progress.pr_number is not None:
                pull = PullRef(repo=target.repo, number=progress.pr_number)
                await self._call(
                    CLOSE_PULL, ClosePullInput(pull=pull, comment=why), PullRequestInfo
                )
            await self._call(
                DELETE_BRANCH,
                DeleteBranchInput(repo=target.repo, branch=self._issues[name].branch),
                bool,
            )
            progress.stage = "closed"
            await self._call(
                names.UPSERT_COMMENT,
                UpsertCommentInput(issue=self._issues[name], marker=OUTCOME_MARKER, body=why),
                None,
            )

    async def _revert(self, name: str) -> None:
        progress, target = self._status.repos[name], self._targets[name]
        assert progress.pr_number is not None
        pull = PullRef(repo=target.repo, number=progress.pr_number)
        verdict = await self._call(PULL_VERDICT, PullVerdictInput(pull=pull), PullVerdict)
        repo = await self._call(names.GET_REPO, GetRepoInput(repo=target.repo), RepoInfo)
        if not verdict.merge_commit_sha:
            raise ApplicationError(f"{progress.repo}#{progress.pr_number} has no merge commit")
        branch = f"autopilot/revert-{progress.pr_number}"
        await self._call(
            REVERT_MERGE,
            RevertMergeInput(
                repo=target.repo,
                clone_url=repo.clone_url,
                base_branch=repo.default_branch,
                merge_commit_sha=verdict.merge_commit_sha,
                branch=branch,
                key=f"{workflow.info().workflow_id}:revert:{name}",
            ),
            RevertResult,
            options.GIT,
        )
        opened = await self._call(
            names.OPEN_PULL_REQUEST,
            OpenPullRequestInput(
                repo=target.repo,
                head=branch,
                base=repo.default_branch,
                title=f"Revert #{progress.pr_number} ({self._input.workflow_name})",
                body=(
                    f"Reverts #{progress.pr_number}: the cross-repository change "
                    f"`{self._input.workflow_name}` was stopped ({self._status.failure})."
                ),
            ),
            PullRequestInfo,
        )
        progress.revert_pr_url = opened.html_url
        progress.stage = "reverted"

    # ----- reporting -------------------------------------------------------------------------

    async def _publish(self) -> None:
        """Edit each PR's cross-repo section (only when it changed) and the summary."""
        changed = False
        for name in self._status.order:
            progress = self._status.repos[name]
            if progress.pr_number is None or progress.stage == "merged":
                continue
            section = gate.pull_section(self._status, name, self._deps)
            if self._sections.get(name) == section:
                continue
            pull = PullRef(repo=self._targets[name].repo, number=progress.pr_number)
            await self._call(
                UPDATE_PULL_SECTION, UpdatePullSectionInput(pull=pull, section=section), None
            )
            self._sections[name] = section
            changed = True
        if changed:
            await self._summary()

    async def _summary(self) -> None:
        await self._call(
            names.UPSERT_COMMENT,
            UpsertCommentInput(
                issue=self._input.trigger,
                marker=SUMMARY_MARKER,
                body=gate.summary_comment(self._status, workflow.info().workflow_id),
            ),
            None,
        )

    async def _finish(self, outcome: CrossRepoOutcome) -> CrossRepoResult:
        self._status.phase = "done"
        self._status.outcome = outcome
        self._status.waiting_for = None
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set(outcome)])
        await self._summary()
        return CrossRepoResult(outcome=outcome, status=self._status)

    async def _call(
        self,
        activity: str,
        arg: Any,
        result_type: type[T] | None,
        opts: options.CallOptions = options.FORGE,
    ) -> T:
        self._calls += 1
        result: T = await opts.execute(
            activity, arg, result_type, f"{self._status.phase}-{self._calls}"
        )
        return result

    # ----- handlers --------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> CrossRepoStatus:
        return self._status

    @workflow.signal(name="pr-approved")
    def pr_approved(self) -> None:
        """A hint that a review happened: poll the forge now instead of at the next interval."""
        self._events += 1

    def _decide(self, decision: Decision, request: CrossRepoDecision) -> None:
        if self._status.phase != "held" or self._decision is not None:
            workflow.logger.warning("ignored %s: the set is not held for a decision", decision)
            return
        self._decision = (decision, request)

    @workflow.signal(name="compensate")
    def compensate(self, request: CrossRepoDecision) -> None:
        self._decide("compensate", request)

    @workflow.signal(name="retry")
    def retry(self, request: CrossRepoDecision) -> None:
        self._decide("retry", request)

    @workflow.signal(name="abandon")
    def abandon(self, request: CrossRepoDecision) -> None:
        self._decide("abandon", request)


def _cause(err: BaseException) -> str:
    """The innermost message of a child or activity failure."""
    while err.__cause__ is not None:
        err = err.__cause__
    if isinstance(err, asyncio.CancelledError):
        return "cancelled"
    return str(err) or type(err).__name__
