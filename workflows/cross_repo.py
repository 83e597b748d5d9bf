"""CrossRepoWorkflow: one request carried to a set of PRs that merge together or not at all.

link (one issue per repository) -> run an IssueWorkflow child per repository until every PR is
approved and green (``cross_repo_children``, ``cross_repo_gate``) -> merge in dependency order.
A failure stops the other children and either holds for a person's decision or compensates
(close PRs, delete branches, revert merges: ``cross_repo_compensation``).

The ``pr-approved`` signal only wakes the forge poll early, for callers that know something
changed: approvals are read from the forge, the only record of them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from domain import names
from domain.cross_repo import (
    CrossRepoDecision,
    CrossRepoInput,
    CrossRepoOutcome,
    CrossRepoResult,
    CrossRepoStatus,
    Decision,
    EnsureLinkedIssueInput,
    LinkedIssue,
)
from domain.forge import GetIssueInput
from domain.issue import IssueInfo, IssueRef
from domain.pull_feedback import PullFeedback, PullFeedbackInput
from workflows import cross_repo_report as report
from workflows.calls import Activities
from workflows.cross_repo_children import Children
from workflows.cross_repo_compensation import Compensation
from workflows.cross_repo_gate import GATING, Gate
from workflows.cross_repo_publish import Publisher
from workflows.cross_repo_set import CrossRepoSet, initial_status
from workflows.errors import SetFailed, was_cancelled

# Before it, a set cancelled while a call was in flight ended without saying so (still "running").
SET_CANCELLED_IN_A_CALL = "set-cancelled-in-a-call"


@workflow.defn(name=names.CROSS_REPO_WORKFLOW)
class CrossRepoWorkflow:
    @workflow.init
    def __init__(self, input: CrossRepoInput) -> None:
        self._input = input
        self._status = initial_status(input)
        # Activity ids read "<phase>-<n>", one count for the whole run.
        self._activities = Activities(lambda: self._status.phase)
        self._set = CrossRepoSet.of(input, self._status)
        self._publisher = Publisher(self._activities, self._set)
        self._children = Children(self._set, on_end=self._wake)
        self._gate = Gate(self._activities, self._set, self._publisher)
        self._compensation = Compensation(self._activities, self._set, self._publisher)
        self._decision: tuple[Decision, CrossRepoDecision] | None = None
        self._events = 0  # bumped by child completions and signals; wakes the poll loop

    @workflow.run
    async def run(self, input: CrossRepoInput) -> CrossRepoResult:
        try:
            report.merge_order(input.targets)
        except ValueError as cycle:
            raise ApplicationError(str(cycle), non_retryable=True) from None
        self._tag_run()
        try:
            return await self._carry(input)
        except asyncio.CancelledError:
            if workflow.patched(GATING):
                await self._cancelled()
            raise
        except FailureError as failure:  # the cancellation reached a call first
            if was_cancelled(failure) and workflow.patched(SET_CANCELLED_IN_A_CALL):
                await self._cancelled()
            raise

    async def _carry(self, input: CrossRepoInput) -> CrossRepoResult:
        await self._link()
        while True:
            try:
                await self._run_until_approved_and_green()
                await self._gate.merge_all()
                return await self._finish("merged")
            except SetFailed as failure:
                self._status.failure = str(failure)
                workflow.logger.info("cross-repo set failed: %s", failure)
            await self._children.stop()
            decision: Decision = (
                "compensate" if input.on_failure == "compensate" else await self._hold()
            )
            if decision == "retry":
                await self._retry()
                continue
            if decision == "abandon":
                return await self._finish("abandoned")
            return await self._compensate()

    def _tag_run(self) -> None:
        """Search attributes: the Web UI lists this run and its children by ``CrossRepo``."""
        trigger = self._input.trigger
        workflow.upsert_search_attributes(
            [
                names.SA_REPO.value_set(trigger.repo.full_name),
                names.SA_ISSUE.value_set(trigger.number),
                names.SA_CROSS_REPO.value_set(self._set.key),
                names.SA_OUTCOME.value_set("running"),
            ]
        )

    # ----- stages ----------------------------------------------------------------------------

    async def _link(self) -> None:
        """One issue per repository: the trigger issue itself, or a linked issue found or made."""
        trigger = self._input.trigger
        info = await self._activities.run(names.GET_ISSUE, GetIssueInput(issue=trigger), IssueInfo)
        for name in self._status.order:
            target = self._set.targets[name]
            if target.repo.full_name.lower() == trigger.repo.full_name.lower():
                ref, url = trigger, info.html_url
            else:
                linked = await self._activities.run(
                    names.ENSURE_LINKED_ISSUE,
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
            self._set.issues[name] = ref
            progress = self._status.repos[name]
            progress.issue_number, progress.issue_url = ref.number, url
            progress.child_workflow_id = ref.workflow_id
        self._status.phase = "running"
        await self._publisher.summary()

    async def _run_until_approved_and_green(self) -> None:
        """Start children as they become startable and poll the forge until every PR is ready."""
        self._status.phase = "running"
        interval = self._input.poll_seconds
        while True:
            seen = self._events  # anything after this (a child ending mid-poll) wakes the wait
            await self._children.start_ready()
            self._children.check()
            await self._gate.poll()
            await self._publisher.publish()
            if self._gate.all_ready():
                break
            if self._children.any_startable():
                continue  # a dependency just became ready: start its dependents now
            self._status.waiting_for = "approval"
            timeout = min(interval, self._gate.grace_left())
            if await self._wait_event(seen, timeout):
                interval = self._input.poll_seconds
            else:
                interval = min(interval * 2, self._input.max_poll_seconds)
        self._status.waiting_for = None

    async def _wait_event(self, seen: int, seconds: float) -> bool:
        """Wait for a child to end or a signal after ``seen``; False when ``seconds`` passed."""
        try:
            await workflow.wait_condition(
                lambda: self._events != seen, timeout=timedelta(seconds=seconds)
            )
        except TimeoutError:
            return False
        return True

    async def _hold(self) -> Decision:
        """Wait for a person's decision: ``compensate``, ``retry`` or ``abandon``."""
        self._status.phase = "held"
        self._status.waiting_for = "decision"
        if workflow.patched(GATING):
            await self._publisher.publish()  # each PR's table shows why the set is held
        await self._publisher.summary()
        await workflow.wait_condition(lambda: self._decision is not None)
        assert self._decision is not None
        (decision, by), self._decision = self._decision, None
        self._status.waiting_for = None
        workflow.logger.info("cross-repo decision %s by %s", decision, by.by or "unknown")
        return decision

    async def _retry(self) -> None:
        """Run the failed and cancelled repositories again; what is ready stays ready. A
        repository whose PR got change requests plans its next run with what they say."""
        if workflow.patched(GATING):
            for name in self._status.order:
                progress = self._status.repos[name]
                if progress.verdict == "changes_requested" and progress.pr_number is not None:
                    feedback = await self._activities.run(
                        names.PULL_FEEDBACK,
                        PullFeedbackInput(pull=self._set.pull(name), writers_only=False),
                        PullFeedback,
                    )
                    self._set.feedback[name] = [report.retry_feedback(feedback)]
        self._status.failure = None
        self._gate.reset()
        self._children.reset_failed()

    async def _compensate(self) -> CrossRepoResult:
        """Undo the set; while a main still carries the change (a revert PR the forge would
        not merge), hold with the summary saying which, and try again on ``compensate``."""
        while await self._compensation.run():
            self._status.failure = "compensation is incomplete: a revert PR is not merged"
            if await self._hold() == "abandon":
                return await self._finish("abandoned")
        return await self._finish("compensated")

    async def _cancelled(self) -> None:
        """Cancelled: every comment and PR section says so, never "running" (best effort)."""
        for progress in self._status.repos.values():
            if progress.stage in ("waiting", "running"):
                progress.stage = "cancelled"
        self._status.phase, self._status.outcome = "done", "cancelled"
        self._status.waiting_for = None
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set("cancelled")])
        try:
            await self._publisher.publish()
            await self._publisher.summary()
        except ActivityError as err:
            workflow.logger.warning("could not report the cancellation: %s", err.cause)

    async def _finish(self, outcome: CrossRepoOutcome) -> CrossRepoResult:
        self._status.phase = "done"
        self._status.outcome = outcome
        self._status.waiting_for = None
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set(outcome)])
        await self._publisher.summary()
        return CrossRepoResult(outcome=outcome, status=self._status)

    # ----- handlers --------------------------------------------------------------------------

    def _wake(self) -> None:
        self._events += 1

    @workflow.query(name="status")
    def status(self) -> CrossRepoStatus:
        return self._status

    @workflow.signal(name="pr-approved")
    def pr_approved(self) -> None:
        """A hint that a review happened: poll the forge now instead of at the next interval."""
        self._wake()

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
