"""The plan approval gate: who may decide, reminders while nobody does, expiry after."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow

from domain.run import ApprovalDecision, RunSettings
from workflows import render
from workflows.errors import RunCancelled
from workflows.progress import Progress


class ApprovalGate:
    def __init__(
        self, settings: RunSettings, progress: Progress, cancelled: Callable[[], bool]
    ) -> None:
        self._settings = settings
        self._progress = progress
        self._cancelled = cancelled
        self._decision: ApprovalDecision | None = None

    def check(self, decision: ApprovalDecision) -> None:
        """The ``approve`` Update's validator: refused decisions never reach the history."""
        if self._progress.status.waiting_for != "approval" or self._decision is not None:
            raise ValueError("no plan is waiting for approval")
        approvers = self._settings.approvers
        if approvers and decision.approver not in approvers:
            raise ValueError(f"{decision.approver!r} is not an approver for this repository")
        if not decision.approved and not decision.feedback.strip():
            raise ValueError("a rejection needs feedback saying what to change")
        waiting = self._progress.status.plan_version
        if decision.plan_version is not None and decision.plan_version != waiting:
            raise ValueError(
                f"plan version {decision.plan_version} is not the one waiting (version {waiting})"
            )

    def offer(self, decision: ApprovalDecision) -> None:
        self._decision = decision

    async def wait(self, version: int) -> ApprovalDecision | None:
        """The decision on plan ``version``, or None when it expired undecided; a ``cancel``
        ends the wait at once."""
        expiry = self._settings.approval_expiry_seconds
        await self._progress.waiting_for("approval")
        waited = reminders = 0
        while waited < expiry:
            step = min(self._settings.approval_reminder_seconds, expiry - waited)
            try:
                await workflow.wait_condition(
                    lambda: self._decision is not None or self._cancelled(),
                    timeout=timedelta(seconds=step),
                )
            except TimeoutError:
                waited += step
                if waited < expiry:
                    reminders += 1
                    await self._progress.comment(
                        f"reminder:{version}:{reminders}",
                        render.reminder_comment(version, waited, expiry - waited),
                    )
                continue
            if self._cancelled():
                raise RunCancelled()
            decision, self._decision = self._decision, None
            self._progress.status.waiting_for = None
            return decision
        self._progress.status.waiting_for = None
        return None
