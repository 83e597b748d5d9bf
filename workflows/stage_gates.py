"""Interactive mode: a person approves the run at chosen stages, besides the plan.

``run.gates`` (or a repository's own ``gates``, or the run's own from ``--gates``) names the
stages: ``implement`` (after the tasks, with a preview of the diff), ``verify`` (after the tests
pass), ``pull_request`` (before the PR is opened) and ``merge`` (before Autopilot merges its PR
under ``merge.mode: when-approved``; the monitor stage asks it, ``workflows/monitor.py``).
At each the run posts the diff, sets ``waiting_for`` (the progress comment shows it) and
waits for a decision through the same ``approve`` Update, ``decide`` signal and
``/autopilot approve|reject`` comment commands as the plan gate, with the same validator
rules (approvers, verified approvals, feedback on a rejection). A decision may name
its ``stage``; one naming another stage than the waiting one is refused.

A rejection's feedback goes to the implementer as a change; after ``verify`` and
``pull_request`` the tests run again; then the same gate asks again. At ``merge`` the change is
answered on the PR like a review, and the gate asks again once every merge rule holds anew.
Without gates nothing here runs, so runs without them (and every run recorded before gates
existed) keep their history.
"""

from __future__ import annotations

import re
from typing import Protocol

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from domain import names
from domain.change import DiffSummary, TestRun
from domain.learning import MAX_NOTES, clip
from domain.run import ApprovalDecision, ApprovalPath, GateStage, IssueWorkflowInput
from domain.workspace import DiffSummaryInput
from workflows.approval import ApprovalGate
from workflows.calls import Activities
from workflows.carry import RunContext
from workflows.errors import RunCancelled
from workflows.escalation import Escalation
from workflows.issue_changes import IssueChanges
from workflows.progress import Progress

WAITING_FOR: dict[GateStage, str] = {
    "implement": "approval of the changes",
    "verify": "approval after the tests",
    "pull_request": "approval to open the pull request",
    "merge": "approval to merge the pull request",
}
TITLES: dict[GateStage, str] = {
    "implement": "The tasks are done: approve the changes?",
    "verify": "The tests pass: approve the changes?",
    "pull_request": "Reviewed: open the pull request?",
    "merge": "Every merge rule holds: merge the pull request?",
}
PREVIEW_CHARS = 6000  # of the diff, in the gate's comment


class GatedRun(Protocol):
    """What the gates use of ``IssueWorkflow``."""

    input: IssueWorkflowInput
    progress: Progress
    calls: Activities
    escalation: Escalation
    changes: IssueChanges

    def _context(self) -> RunContext: ...

    async def _verify(self, resumed: bool = False) -> TestRun: ...


class StageGates:
    def __init__(self, run: GatedRun) -> None:
        self._run = run
        repo = run.input.repo_settings.gates
        self.stages: list[GateStage] = repo if repo is not None else run.input.settings.gates
        self._waiting: GateStage | None = None
        self._decision: ApprovalDecision | None = None
        self._asked: dict[GateStage, int] = {}  # per stage: one comment per question

    async def after_implement(self) -> None:
        await self._gate("implement", None)

    async def at(self, stage: GateStage, test_run: TestRun) -> TestRun:
        """The gate after verify or before the PR; the tests' latest run when it is passed."""
        passed = await self._gate(stage, test_run)
        assert passed is not None, "a gate after verify runs the tests after each change"
        return passed

    async def _gate(self, stage: GateStage, test_run: TestRun | None) -> TestRun | None:
        """Stop at ``stage`` when it is a gate, until a person approves; each rejection first
        changes the code with its feedback (and re-runs the tests after implement)."""
        if stage not in self.stages:
            return test_run
        run = self._run
        while True:
            decision = await self._ask(stage)
            if decision.approved:
                return test_run
            async with run.progress.stage("implement"):
                await run.changes.make(run._context(), "review", _feedback(stage, decision))
            if stage != "implement":
                test_run = await run._verify()

    def gates(self, stage: GateStage) -> bool:
        return stage in self.stages

    async def decision(self, stage: GateStage) -> ApprovalDecision:
        """A person's decision at ``stage``, for a caller that acts on it (the merge gate)."""
        return await self._ask(stage)

    # ----- the decision: routed here by the approve Update and the decide signal -----------

    def check(self, plan: ApprovalGate, decision: ApprovalDecision) -> None:
        """The validator of ``approve``: the plan gate's rules, or this gate's."""
        stage = self._waiting
        if stage is None:
            if decision.stage not in (None, "plan"):
                raise ValueError(f"no {decision.stage} gate is waiting")
            plan.check(decision)
            return
        if decision.stage is not None and decision.stage != stage:
            raise ValueError(f"the {stage} gate is waiting, not the {decision.stage} one")
        if self._decision is not None:
            raise ValueError(f"the {stage} gate has its decision")
        plan.check_person(decision)

    async def offer(self, plan: ApprovalGate, decision: ApprovalDecision, via: ApprovalPath) -> str:
        """Take a checked decision for whichever gate is waiting; the Update's answer."""
        stage = self._waiting
        if stage is None:
            await plan.offer(decision, via)
            return "approved" if decision.approved else "rejected; re-planning with the feedback"
        decision = await plan.verified(decision, via)
        try:
            self.check(plan, decision)  # still waiting, after the forge was asked
        except ValueError as refused:
            raise ApplicationError(str(refused), non_retryable=True) from None
        self._decision = decision
        if decision.approved:
            return f"approved at the {stage} gate"
        return f"rejected at the {stage} gate; changing the code with the feedback"

    # ----- building blocks -------------------------------------------------------------------

    async def _ask(self, stage: GateStage) -> ApprovalDecision:
        run = self._run
        asked = self._asked[stage] = self._asked.get(stage, 0) + 1
        diff = await run.calls.run(
            names.DIFF_SUMMARY,
            DiffSummaryInput(workspace=run._context().workspace),
            DiffSummary,
            prefix="gate",
        )
        await run.progress.comment(f"gate:{stage}:{asked}", gate_comment(stage, diff))
        self._waiting, self._decision = stage, None
        await run.progress.waiting_for(WAITING_FOR[stage])
        await workflow.wait_condition(
            lambda: self._decision is not None or run.escalation.cancelled()
        )
        self._waiting = None
        run.progress.status.waiting_for = None
        if run.escalation.cancelled():
            raise RunCancelled()
        decision, self._decision = self._decision, None
        assert decision is not None
        if decision.approved:
            workflow.logger.info("%s gate approved by %s", stage, decision.approver)
        else:  # remembered for the outcome record
            status = run.progress.status
            status.gate_feedback = [*status.gate_feedback, clip(decision.feedback)][-MAX_NOTES:]
        return decision


def _feedback(stage: GateStage, decision: ApprovalDecision) -> str:
    return (
        f"A person reviewing the changes at the {stage} gate ({decision.approver}) asked for "
        f"changes:\n{decision.feedback}"
    )


def gate_comment(stage: GateStage, diff: DiffSummary) -> str:
    shown = diff.diff[:PREVIEW_CHARS]
    cut = diff.truncated or len(diff.diff) > PREVIEW_CHARS
    return "\n".join(
        [
            f"### ✋ {TITLES[stage]}",
            f"{len(diff.files)} files changed, +{diff.additions} -{diff.deletions}"
            + (" (the preview is cut short)" if cut else ""),
            "",
            _fence(shown, "diff"),
            "",
            "Approve with `/autopilot approve`; ask for changes with "
            "`/autopilot reject <what to change>` (or `python -m starters.approve`, or the "
            f'`approve` Update with `"stage": "{stage}"`).',
        ]
    )


def _fence(text: str, info: str) -> str:
    """A code block whose fence is longer than any backtick run inside ``text``."""
    ticks = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{ticks}{info}\n{body}{ticks}"
