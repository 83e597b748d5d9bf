"""Asking a person: the ``needs-human`` label, a comment saying what failed, and the wait for
``resume``, ``skip-task`` or ``cancel``."""

from __future__ import annotations

from temporalio import workflow

from domain import names
from domain.run import ResumeRequest
from domain.task import SKIPPABLE_TASK_STATES, CancelRequest, SkipTaskRequest
from workflows import metrics, render
from workflows.errors import RunCancelled
from workflows.progress import Progress


class Escalation:
    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self.count = 0
        self.cancel_request: CancelRequest | None = None
        self._resume: ResumeRequest | None = None
        self._skips: list[str] = []

    async def ask(
        self, reason: str, details: str, *, tasks_failed: bool = False
    ) -> ResumeRequest | None:
        """Label needs-human, say what failed, and wait; raises ``RunCancelled`` on cancel."""
        progress, issue = self._progress, self._progress.issue
        self.count += 1
        metrics.count_escalation(progress.status.stage)
        await progress.labels(add=[names.LABEL_NEEDS_HUMAN])
        body = render.escalation_comment(reason, details, issue)
        if tasks_failed:
            body += "\n\n" + render.task_escalation_help(issue)
        await progress.comment(f"needs-human:{self.count}", body)
        # Only now is anyone told, so only now does the run accept a resume.
        await progress.waiting_for("resume")
        await workflow.wait_condition(
            lambda: self._resume is not None or bool(self._skips) or self.cancelled()
        )
        if self.cancelled():
            raise RunCancelled()
        resumed, self._resume = self._resume, None
        progress.status.waiting_for = None
        await progress.labels(remove=[names.LABEL_NEEDS_HUMAN])
        await progress.report()
        return resumed

    def cancelled(self) -> bool:
        return self.cancel_request is not None

    def take_skips(self) -> list[str]:
        skips, self._skips = self._skips, []
        return skips

    # ----- what the workflow's signals deliver -----------------------------------------------

    def resume(self, request: ResumeRequest) -> None:
        if self._progress.status.waiting_for == "resume":
            self._resume = request

    def skip(self, request: SkipTaskRequest) -> None:
        """Only a task that failed or is blocked; applied when the run asks a person."""
        state = self._progress.status.tasks.get(request.task_id)
        if state is None:
            workflow.logger.warning("ignored skip-task %r: no such task", request.task_id)
            return
        if state.state not in SKIPPABLE_TASK_STATES:
            workflow.logger.warning("ignored skip-task %r: it is %s", request.task_id, state.state)
            return
        self._skips.append(request.task_id)

    def cancel(self, request: CancelRequest) -> None:
        self.cancel_request = request
