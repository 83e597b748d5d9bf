"""Drafting a plan: the model's answer checked as a task graph, then posted for approval."""

from __future__ import annotations

from temporalio import workflow

from domain import names
from domain.model import DraftPlanInput, DraftPlanOutput
from domain.plan import LENIENT_GRAPH, Plan
from domain.run import IssueWorkflowInput
from domain.tiers import estimate_plan_cost
from workflows import render
from workflows.dag import validate_dag
from workflows.intake import Intake
from workflows.model_gateway import ModelGateway
from workflows.progress import Progress

MAX_REPO_FILES_IN_PROMPT = 500


async def draft_plan(
    gateway: ModelGateway,
    progress: Progress,
    input: IssueWorkflowInput,
    intake: Intake,
    feedback: list[str],
) -> Plan | None:
    """A plan posted for approval, or None after adding its graph's problems to feedback."""
    raw = await gateway.call(
        names.DRAFT_PLAN,
        DraftPlanInput(
            issue=intake.issue,
            repo_files=intake.files[:MAX_REPO_FILES_IN_PROMPT],
            feedback=feedback,
        ),
        dict,  # type: ignore[type-var]
        stage="plan",
    )
    # Decoded leniently so that a broken task graph becomes planner feedback, not a
    # workflow task that fails on decoding forever.
    drafted = DraftPlanOutput.model_validate(raw, context=LENIENT_GRAPH)
    progress.add_usage(drafted.usage)
    status = progress.status
    status.plan_version += 1
    status.attempts["plan"] = version = status.plan_version
    problems = validate_dag(drafted.plan.tasks)
    if problems:
        feedback.append("The task graph is not a DAG: " + "; ".join(p.message for p in problems))
        workflow.logger.info("plan %d has an invalid task graph", version)
        return None
    model = input.model
    estimate = estimate_plan_cost(drafted.plan, model.routing).markdown() if model else None
    body = render.plan_comment(
        drafted.plan, version, input.issue, input.settings.auto_approve, estimate
    )
    await progress.comment(f"plan:{version}", body)
    return drafted.plan
