"""What a run tells the world as it goes: stages, the status query, labels and comments.

``Progress`` is the one place that moves a run from stage to stage: ``async with
progress.stage("verify"):`` records the timing, sets the ``Stage`` search attribute and the
Web UI's current details, edits the progress comment, and turns a permanent activity failure
inside the stage into ``StageFailed``. It also owns the issue's labels and every comment the
run writes (find-or-create by hidden marker, so a retried call never posts twice).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio import workflow
from temporalio.exceptions import ActivityError

from domain import names
from domain.forge import CommentRef, LabelSpec, SetIssueLabelsInput, UpsertCommentInput
from domain.issue import IssueRef
from domain.run import IssueResult, IssueStatus, Outcome, Stage, StageTiming
from domain.usage import TokenUsage
from workflows import render
from workflows.calls import Activities
from workflows.errors import StageFailed, permanent_message

LABELS = [
    LabelSpec(name=names.LABEL_IN_PROGRESS, color="1d76db", description="Autopilot is working"),
    LabelSpec(name=names.LABEL_NEEDS_HUMAN, color="d93f0b", description="Autopilot needs a human"),
    LabelSpec(name=names.LABEL_PR_OPEN, color="0e8a16", description="Autopilot opened a PR"),
    LabelSpec(name=names.LABEL_FAILED, color="b60205", description="Autopilot stopped"),
]
RUNS_ENDED = "autopilot_runs_ended"
EXPIRED_COMMENT = "⌛ No decision on the plan in time; this run has ended as *expired*."


class Progress:
    def __init__(self, issue: IssueRef, status: IssueStatus, calls: Activities) -> None:
        self.issue = issue
        self.status = status
        self._calls = calls

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
        self.status.stage = stage
        self.status.timings.append(StageTiming(stage=stage, started_at=workflow.now()))
        workflow.upsert_search_attributes([names.SA_STAGE.value_set(stage)])
        workflow.set_current_details(f"Stage: {stage}")
        if report:
            await self.report()

    def end_stage(self) -> None:
        timings = self.status.timings
        if timings and timings[-1].finished_at is None:
            timings[-1].finished_at = workflow.now()

    def bump(self, counter: str) -> None:
        self.status.attempts[counter] = self.status.attempts.get(counter, 0) + 1

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

    async def comment(self, marker: str, body: str) -> CommentRef:
        return await self._calls.run(
            names.UPSERT_COMMENT,
            UpsertCommentInput(issue=self.issue, marker=marker, body=body),
            CommentRef,
        )

    async def report(self) -> None:
        """Edit the one progress comment in place."""
        await self.comment("progress", render.progress_comment(self.status, self.issue.workflow_id))

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
        _count_ending(self.issue, outcome)
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
        return IssueResult(outcome=outcome, pr_url=self.status.pr_url, status=self.status)

    async def fail(self, stage: str, message: str) -> None:
        self.end_stage()
        self.status.error = f"{stage}: {message}"
        self.status.outcome = "failed"
        self.status.waiting_for = None
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set("failed")])
        _count_ending(self.issue, "failed")
        try:
            await self.comment(f"failed:{stage}", render.failure_comment(stage, message))
            await self.labels(add=[names.LABEL_FAILED], remove=[names.LABEL_IN_PROGRESS])
            await self.report()
        except ActivityError as err:
            # E.g. an archived repository refuses the comment too, or the forge stays down:
            # the run's own failure (and the Web UI) must still say what went wrong first.
            workflow.logger.warning("could not report the failure on the issue: %s", err.cause)


def _count_ending(issue: IssueRef, outcome: str) -> None:
    """``autopilot_runs_ended``: through the SDK's workflow meter, so replays do not count twice."""
    counter = workflow.metric_meter().create_counter(
        RUNS_ENDED, "Issue runs that ended, by outcome and repository"
    )
    counter.add(1, {"outcome": outcome, "repo": issue.repo.full_name})
