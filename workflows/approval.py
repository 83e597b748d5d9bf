"""The plan approval gate: who may decide, reminders while nobody does, expiry after.

A decision names its approver and how it came: the ``approve`` Update (the approve CLI, whose
``--as`` is self-declared), the ``decide`` signal, or a ``/autopilot`` comment command. A
comment command is checked on the forge before it counts: the comment must be on this issue,
written by the approver and say the decision. A repository with ``verified_approvals`` takes
only those. Each decision is recorded in the status, so the issue and the PR show it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from domain import names
from domain.forge import FindCommentInput, IssueComment
from domain.run import ApprovalDecision, ApprovalPath, DecisionRecord, RunSettings
from workflows import render
from workflows.calls import Activities
from workflows.errors import RunCancelled
from workflows.progress import Progress

AUTO_APPROVER = "auto-approve"
REFUSALS_ANSWERED = "refusals-answered"  # before it, a refused decide signal was only logged


class ApprovalGate:
    def __init__(
        self,
        settings: RunSettings,
        progress: Progress,
        cancelled: Callable[[], bool],
        calls: Activities | None = None,
    ) -> None:
        self._settings = settings
        self._progress = progress
        self._cancelled = cancelled
        self._calls = calls
        self._decision: ApprovalDecision | None = None
        self._refusals = 0

    def check(self, decision: ApprovalDecision) -> None:
        """The ``approve`` Update's validator: refused decisions never reach the history."""
        if self._progress.status.waiting_for != "approval" or self._decision is not None:
            raise ValueError("no plan is waiting for approval")
        self.check_person(decision)
        waiting = self._progress.status.plan_version
        if decision.plan_version is not None and decision.plan_version != waiting:
            raise ValueError(
                f"plan version {decision.plan_version} is not the one waiting (version {waiting})"
            )

    def check_person(self, decision: ApprovalDecision) -> None:
        """Who may decide, how, and that a rejection says why: the rules of every gate."""
        approvers = self._settings.approvers
        if approvers and decision.approver not in approvers:
            raise ValueError(f"{decision.approver!r} is not an approver for this repository")
        if self._settings.verified_approvals and decision.via != "comment":
            raise ValueError(
                "this repository takes only decisions the forge verifies: comment "
                "`/autopilot approve` or `/autopilot reject <feedback>` on the issue"
            )
        if decision.via == "comment" and decision.comment_id is None:
            raise ValueError("a comment command needs the id of its comment")
        if not decision.approved and not decision.feedback.strip():
            raise ValueError("a rejection needs feedback saying what to change")

    async def answer_refusal(self, decision: ApprovalDecision, reason: str) -> None:
        """A signal cannot answer its sender: a refused ``decide`` is answered on the issue."""
        workflow.logger.warning("ignored decision: %s", reason)
        if not workflow.patched(REFUSALS_ANSWERED):
            return
        self._refusals += 1
        body = render.refused_decision(decision.approver, reason)
        await self._progress.comment(f"refused-decision:{self._refusals}", body)

    async def offer(self, decision: ApprovalDecision, via: ApprovalPath) -> None:
        """Take a checked decision that came by ``via`` (a comment command says so itself, and
        is verified on the forge first); an ApplicationError says why it does not count."""
        decision = await self.verified(decision, via)
        if decision.via == "comment":
            try:
                self.check(decision)  # still waiting, and nobody decided meanwhile
            except ValueError as refused:
                raise ApplicationError(str(refused), non_retryable=True) from None
        self._decision = decision

    async def verified(self, decision: ApprovalDecision, via: ApprovalPath) -> ApprovalDecision:
        """``decision`` with the path it came by; a comment command checked on the forge."""
        if decision.via is None:
            decision = decision.model_copy(update={"via": via})
        if decision.via == "comment":
            await self._verify(decision)
        return decision

    async def _verify(self, decision: ApprovalDecision) -> None:
        assert self._calls is not None and decision.comment_id is not None
        comment = await self._calls.run(
            names.FIND_COMMENT,
            FindCommentInput(issue=self._progress.issue, comment_id=decision.comment_id),
            IssueComment,
            prefix="approval",
        )
        problem = comment_problem(comment, decision)
        if problem is not None:
            workflow.logger.warning("unverified decision: %s", problem)
            raise ApplicationError(f"not verified on the forge: {problem}", non_retryable=True)

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
            assert decision is not None
            self._progress.status.waiting_for = None
            record(self._progress, version, decision)
            return decision
        self._progress.status.waiting_for = None
        return None


def auto_approval(progress: Progress, version: int) -> ApprovalDecision:
    """``run.auto_approve``: the plan is approved by configuration, and the issue says so."""
    decision = ApprovalDecision(approver=AUTO_APPROVER, approved=True)
    progress.status.decisions.append(
        DecisionRecord(
            plan_version=version,
            approver=AUTO_APPROVER,
            approved=True,
            via="auto-approve",
            verified=False,
            at=workflow.now(),
        )
    )
    return decision


def record(progress: Progress, version: int, decision: ApprovalDecision) -> None:
    progress.status.decisions.append(
        DecisionRecord(
            plan_version=version,
            approver=decision.approver,
            approved=decision.approved,
            via=decision.via or "update",
            verified=decision.via == "comment",
            at=workflow.now(),
            feedback=decision.feedback,
        )
    )


def comment_problem(comment: IssueComment | None, decision: ApprovalDecision) -> str | None:
    """Why the comment does not carry this decision by this person; None when it does."""
    if comment is None:
        return f"comment {decision.comment_id} is not on this issue"
    if comment.author != decision.approver:
        return f"comment {comment.id} was written by {comment.author}, not {decision.approver}"
    verb = "approve" if decision.approved else "reject"
    # As the webhook reads commands: the comment starts with it.
    said = re.match(rf"\s*/autopilot[ \t]+{verb}(?P<rest>\s[\s\S]*)?$", comment.body, re.I)
    if said is None:
        return f"comment {comment.id} does not start with `/autopilot {verb}`"
    if (said.group("rest") or "").strip() != decision.feedback.strip():
        return f"comment {comment.id} says other feedback than the decision"
    return None
