"""A run's side of learning: recall lessons (and the recorded usage the plan's estimate starts
from) and assign experiment variants when planning starts; write the outcome record when the
run ends.

Both are best-effort. A recall that fails plans without lessons; a record that fails is logged,
and the run ends exactly as it would have (its outcome, its failure, its search attributes).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from domain import names
from domain.estimate import RecordedUsage, actual_after_approval
from domain.issue import IssueInfo, IssueRef
from domain.learning import (
    MAX_NOTES,
    LessonPurpose,
    OutcomeRecord,
    RecallInput,
    RecallOutput,
    RecordedOutcome,
    assign_variant,
    clip,
    failure_lines,
    relevant,
)
from domain.review import ReviewVerdict
from domain.run import IssueStatus, RunSettings
from domain.usage import TokenUsage
from workflows.calls import Activities

# Runs before these recalled nothing and recorded nothing.
RECALL_LESSONS = "recall-lessons"
RECORD_OUTCOMES = "record-outcomes"
PURPOSES: tuple[LessonPurpose, ...] = ("plan", "implement", "review")


async def recall(
    calls: Activities, status: IssueStatus, settings: RunSettings, issue: IssueInfo, repo: str
) -> RecordedUsage | None:
    """Assign this run's experiment variants, and put the lessons relevant to each kind of
    prompt into ``status.lessons`` (carried by continue-as-new with the status); the
    repository's recorded usage per plan task, for the plan's estimate."""
    if not workflow.patched(RECALL_LESSONS):
        return None
    for experiment in settings.experiments:
        if experiment.enabled:
            variants = [v.name for v in experiment.variants]
            chosen = assign_variant(repo, issue.number, experiment.name, variants)
            status.variants[experiment.name] = chosen
    if not settings.lessons.enabled:
        return None
    try:
        recalled = await calls.run(
            names.RECALL_LESSONS, RecallInput(repo=repo), RecallOutput, prefix="learning"
        )
    except ActivityError as err:
        workflow.logger.warning("planning without lessons; recall failed: %s", err.cause)
        return None
    context = f"{issue.title}\n{issue.body}"
    budget = settings.lessons.token_budget
    for purpose in PURPOSES:
        texts = relevant(recalled.lessons, purpose, context, budget)
        if texts:
            status.lessons[purpose] = texts
    return recalled.recorded


def plan_approach(settings: RunSettings, status: IssueStatus) -> str:
    """The planning instructions of the variants this run was assigned."""
    parts = []
    for experiment in settings.experiments:
        chosen = status.variants.get(experiment.name)
        for variant in experiment.variants:
            if variant.name == chosen and variant.plan_prompt.strip():
                parts.append(variant.plan_prompt.strip())
    return "\n\n".join(parts)


# ----- what the run noticed on the way ---------------------------------------------------------


def note_test_failures(status: IssueStatus, output: str) -> None:
    lines = [line for line in failure_lines(output) if line not in status.test_failures]
    status.test_failures = [*status.test_failures, *lines][-MAX_NOTES:]


def note_objections(status: IssueStatus, verdict: ReviewVerdict | None) -> None:
    if verdict is None or verdict.verdict == "approve":
        return
    new = [clip(c) for c in verdict.requested_changes if clip(c) not in status.objections]
    status.objections = [*status.objections, *new][-MAX_NOTES:]


# ----- the ending ------------------------------------------------------------------------------


def outcome_record(issue: IssueRef, status: IssueStatus, outcome: RecordedOutcome) -> OutcomeRecord:
    info = workflow.info()
    model = status.model
    review = status.review
    return OutcomeRecord(
        repo=issue.repo.full_name,
        issue=issue.number,
        workflow_id=info.workflow_id,
        run_id=info.first_execution_run_id,
        ended_at=workflow.now(),
        outcome=outcome,
        error=clip(status.error) if status.error else None,
        plan_tasks=len(status.tasks),
        plan_versions=status.plan_version,
        tiers=dict(model.tiers) if model is not None else {},
        usage=model.total if model is not None else status.total_usage,
        usage_after_approval=_after_approval(status),
        attempts=dict(status.attempts),
        agent_turns={name: loop.turns for name, loop in status.loops.items()},
        gates_failed=_failed_gates(review),
        rubric={score.criterion: score.score for score in review.rubric} if review else {},
        objections=list(status.objections),
        rejections=_rejections(status),
        test_failures=list(status.test_failures),
        variants=dict(status.variants),
        merged={"merged": True, "pr_closed": False}.get(outcome),
    )


def _after_approval(status: IssueStatus) -> TokenUsage | None:
    """What the approved plan's tasks used (answers to reviews on the PR too): the basis of
    later runs' estimates; None when no task ran or the run had no model gateway."""
    if status.model is None or not status.tasks:
        return None
    return actual_after_approval(status.model.total, status.model.usage_by_stage.get("plan"))


def _rejections(status: IssueStatus) -> list[str]:
    """What people said rejecting a plan, then at the stage gates."""
    plans = [clip(d.feedback) for d in status.decisions if not d.approved]
    return [*plans, *status.gate_feedback][-MAX_NOTES:]


def _failed_gates(review: ReviewVerdict | None) -> list[str]:
    prefix = "Deterministic gates failed: "
    if review is None or not review.summary.startswith(prefix):
        return []
    return [name.strip() for name in review.summary[len(prefix) :].split(",")]


async def record(
    calls: Activities, issue: IssueRef, status: IssueStatus, outcome: RecordedOutcome
) -> None:
    """Write the run's outcome record; never raises, so the ending stays the run's own."""
    if not workflow.patched(RECORD_OUTCOMES):
        return
    try:
        await calls.run(
            names.RECORD_OUTCOME,
            outcome_record(issue, status, outcome),
            None,
            prefix="learning",
            summary="record the run's outcome",
        )
    except ActivityError as err:
        workflow.logger.warning("the outcome record was not written: %s", err.cause)
