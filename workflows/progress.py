"""What a run tells the world as it goes: stages, the status query, labels and comments.

``Progress`` is the one place that moves a run from stage to stage: ``async with
progress.stage("verify"):`` records the timing, sets the ``Stage`` search attribute and the
Web UI's current details, edits the progress comment, and turns a permanent activity failure
inside the stage into ``StageFailed``. It also owns the issue's labels and every comment the
run writes (find-or-create by hidden marker, so a retried call never posts twice).

Entering a stage is a boundary of the deployment's mode (``workflows.mode``): ``read-only`` and
``emergency-stop`` hold the run there; a change of mode is told on the issue (not in
``read-only``, which writes nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio import workflow
from temporalio.exceptions import ActivityError

from domain import names
from domain.forge import CommentRef, LabelSpec, SetIssueLabelsInput, UpsertCommentInput
from domain.issue import IssueRef
from domain.mode import ModeState
from domain.run import IssueResult, IssueStatus, Outcome, Stage, StageTiming
from domain.usage import TokenUsage
from workflows import lessons, metrics, render
from workflows.calls import Activities
from workflows.errors import StageFailed, permanent_message
from workflows.mode import mode_notice

LABELS = [
    LabelSpec(name=names.LABEL_IN_PROGRESS, color="1d76db", description="Autopilot is working"),
    LabelSpec(name=names.LABEL_NEEDS_HUMAN, color="d93f0b", description="Autopilot needs a human"),
    LabelSpec(name=names.LABEL_PR_OPEN, color="0e8a16", description="Autopilot opened a PR"),
    LabelSpec(name=names.LABEL_FAILED, color="b60205", description="Autopilot stopped"),
]
RESOLUTION_LOOPS = frozenset({"verify", "review"})  # Progress.bump counters that are loops
# Before it, a refused label cleanup also skipped the ending's comment.
ENDING_STEPS_APART = "ending-steps-apart"
EXPIRED_COMMENT = "⌛ No decision on the plan in time; this run has ended as *expired*."


class Progress:
    def __init__(
        self, issue: IssueRef, status: IssueStatus, calls: Activities, runs_url: str = ""
    ) -> None:
        self.issue = issue
        self._calls = calls
        self.status = status
        self._runs_url = runs_url  # the Web UI's, to link the run in the progress comment
        self._telling = asyncio.Lock()  # one mode notice at a time, the latest last
        calls.mode.notify = self._mode_changed
        calls.mode.on_hold = self._held
        self._before_hold: str | None = None

    @property
    def status(self) -> IssueStatus:
        return self._status

    @status.setter
    def status(self, status: IssueStatus) -> None:
        """A continued run's status brings the mode it last heard back into the gate."""
        self._status = status
        if status.mode is not None:
            self._calls.mode.state = status.mode

    # ----- stages ----------------------------------------------------------------------------

    @asynccontextmanager
    async def stage(
        self, stage: Stage, *, report: bool = True, enter: bool = True
    ) -> AsyncIterator[None]:
        """One stage of the run; ``enter=False`` carries on a stage a continued run was in."""
        if enter:
            await self.enter(stage, report=report)
        try:
            yield
        except ActivityError as err:
            message = permanent_message(err)
            if message is None:
                raise
            raise StageFailed(self.status.stage, message) from err
        self.end_stage()

    async def enter(self, stage: Stage, report: bool = True) -> None:
        await self._calls.mode.before_stage()
        self.status.stage = stage
        self.status.timings.append(StageTiming(stage=stage, started_at=workflow.now()))
        if stage == "intake":
            metrics.count_run_started(self.issue.repo.full_name)
        metrics.count_stage_entered(stage)
        workflow.upsert_search_attributes([names.SA_STAGE.value_set(stage)])
        workflow.set_current_details(f"Stage: {stage}")
        if report:
            await self.report()

    def end_stage(self) -> None:
        timings = self.status.timings
        if timings and timings[-1].finished_at is None:
            last = timings[-1]
            last.finished_at = workflow.now()
            metrics.record_stage_duration(last.stage, last.started_at, last.finished_at)

    def bump(self, counter: str) -> None:
        self.status.attempts[counter] = self.status.attempts.get(counter, 0) + 1
        if counter in RESOLUTION_LOOPS:
            metrics.count_resolution_attempt(counter, self.status.attempts[counter])

    def add_usage(self, usage: TokenUsage) -> None:
        stage = self.status.stage
        self.status.usage[stage] = self.status.usage.get(stage, TokenUsage()) + usage

    # ----- the issue -------------------------------------------------------------------------

    async def labels(self, add: list[str] | None = None, remove: list[str] | None = None) -> None:
        await self._calls.run(
            names.SET_ISSUE_LABELS,
            SetIssueLabelsInput(issue=self.issue, add=add or [], remove=remove or []),
            list,
        )

    async def comment(self, marker: str, body: str, *, held: bool = True) -> CommentRef:
        return await self._calls.run(
            names.UPSERT_COMMENT,
            UpsertCommentInput(issue=self.issue, marker=marker, body=body),
            CommentRef,
            held=held,
        )

    async def report(self, *, held: bool = True) -> None:
        """Edit the one progress comment in place."""
        await self.comment(
            "progress",
            render.progress_comment(self.status, self.issue.workflow_id, self._runs_url),
            held=held,
        )

    def _held(self, what: str | None) -> None:
        """While the mode holds the run, its status says so (and what it waited for before)."""
        if what is not None:
            self._before_hold, self.status.waiting_for = self.status.waiting_for, what
        else:
            self.status.waiting_for = self._before_hold

    async def _mode_changed(self, before: ModeState, after: ModeState) -> None:
        """Say on the issue that the mode changed (a held run says it even while held)."""
        self.status.mode = after
        notice = mode_notice(before, after)
        if notice is None:
            return
        async with self._telling:
            try:
                await self.comment("mode", notice, held=False)
                await self.report(held=False)
            except ActivityError as err:
                workflow.logger.warning("could not tell the mode on the issue: %s", err.cause)

    async def waiting_for(self, what: str | None) -> None:
        self.status.waiting_for = what
        await self.report()

    # ----- endings ---------------------------------------------------------------------------

    async def conclude(
        self, outcome: Outcome, remove: list[str] | None = None, *, best_effort: bool = False
    ) -> IssueResult:
        """``best_effort``: the run ends anyway (cancelled), so a forge that refuses the last
        words is logged instead of hiding why the run ended."""
        self.end_stage()
        self.status.outcome = outcome
        self.status.stage = "done"
        workflow.upsert_search_attributes(
            [names.SA_STAGE.value_set("done"), names.SA_OUTCOME.value_set(outcome)]
        )
        metrics.count_run_ended(self.issue.repo.full_name, outcome)
        if outcome == "pr_opened":
            metrics.record_attempts_to_resolution(self.status.attempts)
        if best_effort and workflow.patched(ENDING_STEPS_APART):
            await self._say_ending(outcome, remove or [])
        else:
            try:
                if remove:
                    await self.labels(remove=remove)
                if outcome == "expired":
                    await self.comment("expired", EXPIRED_COMMENT)
                await self.report()
            except ActivityError as err:
                if not best_effort:
                    raise
                workflow.logger.warning("could not report the ending on the issue: %s", err.cause)
        if outcome != "running" and not self._calls.mode.minimal:  # learning is optional
            await lessons.record(self._calls, self.issue, self.status, outcome)
        return IssueResult(outcome=outcome, pr_url=self.status.pr_url, status=self.status)

    async def _say_ending(self, outcome: Outcome, remove: list[str]) -> None:
        """Each step on its own: a forge refusing the labels' cleanup still gets the comment,
        which then says which labels are left and why."""
        try:
            if remove:
                await self.labels(remove=remove)
        except ActivityError as err:
            left = ", ".join(f"`{label}`" for label in remove)
            self.status.note = f"the forge refused to remove {left}: {err.cause}"
            workflow.logger.warning("could not remove the labels: %s", err.cause)
        try:
            if outcome == "expired":
                await self.comment("expired", EXPIRED_COMMENT)
            await self.report()
        except ActivityError as err:
            workflow.logger.warning("could not report the ending on the issue: %s", err.cause)

    async def fail(self, stage: str, message: str) -> None:
        self.end_stage()
        self.status.error = f"{stage}: {message}"
        self.status.outcome = "failed"
        self.status.waiting_for = None
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set("failed")])
        metrics.count_run_ended(self.issue.repo.full_name, "failed")
        try:
            await self.comment(f"failed:{stage}", render.failure_comment(stage, message))
            await self.labels(add=[names.LABEL_FAILED], remove=[names.LABEL_IN_PROGRESS])
            await self.report()
        except ActivityError as err:
            # E.g. an archived repository refuses the comment too, or the forge stays down:
            # the run's own failure (and the Web UI) must still say what went wrong first.
            workflow.logger.warning("could not report the failure on the issue: %s", err.cause)
        await lessons.record(self._calls, self.issue, self.status, "failed")
