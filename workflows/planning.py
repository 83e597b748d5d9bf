"""Drafting a plan: the model's answer checked as a task graph, then posted for approval."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

from domain import names
from domain.agent import READ_ONLY_TOOLS, AgentBrief, AgentSummary, RepoMap, RepoMapInput
from domain.estimate import RecordedUsage
from domain.model import DraftPlanInput, DraftPlanOutput
from domain.plan import LENIENT_GRAPH, Plan
from domain.run import IssueWorkflowInput
from workflows import render
from workflows.agent import AgentLoop, Loop
from workflows.calls import Activities
from workflows.dag import validate_dag
from workflows.estimate import estimate_plan
from workflows.intake import Intake
from workflows.lessons import plan_approach, recall
from workflows.model_gateway import ModelGateway
from workflows.progress import Progress

MAX_REPO_FILES_IN_PROMPT = 500


@dataclass(frozen=True)
class PlanContext:
    """What the planner knows beyond the issue: the repository's map, and what it looked up."""

    repo_map: str = ""
    notes: str = ""
    recorded: RecordedUsage | None = None  # the repository's usage per plan task, if any


async def explore(
    calls: Activities,
    gateway: ModelGateway,
    progress: Progress,
    input: IssueWorkflowInput,
    intake: Intake,
) -> PlanContext:
    """The repository's map, then a few read-only turns (view, search) to locate the problem;
    first, the lessons of earlier runs in the repository (and this run's experiment variants)."""
    recorded = await recall(
        calls, progress.status, input.settings, intake.issue, input.issue.repo.full_name
    )
    repo_map = await calls.run(names.REPO_MAP, RepoMapInput(workspace=intake.workspace), RepoMap)
    limits = input.settings.implement
    if limits.plan_turns == 0:
        return PlanContext(repo_map=repo_map.text, recorded=recorded)
    agent = AgentLoop(
        calls,
        gateway,
        progress.add_usage,
        Loop(
            brief=AgentBrief(
                purpose="plan",
                issue=intake.issue,
                repo_map=repo_map.text,
                test_command=input.repo_settings.test_command,
                lessons=progress.status.lessons.get("plan", []),
            ),
            workspace=intake.workspace,
            environment=progress.status.environment,
            tools=READ_ONLY_TOOLS,
            task=None,
            stage="plan",
            change_prefix=f"{workflow.info().first_execution_run_id[:8]}:explore",
            limits=limits.model_copy(update={"max_turns": limits.plan_turns}),
        ),
    )
    state = await agent.run()
    progress.status.loops["plan"] = AgentSummary.of("plan", state)
    return PlanContext(repo_map=repo_map.text, notes=state.summary, recorded=recorded)


async def draft_plan(
    gateway: ModelGateway,
    progress: Progress,
    input: IssueWorkflowInput,
    intake: Intake,
    feedback: list[str],
    context: PlanContext,
    calls: Activities | None = None,
) -> Plan | None:
    """A plan posted for approval, or None after adding its graph's problems to feedback;
    ``calls`` reads the sizes of the plan's files for its cost estimate."""
    raw = await gateway.call(
        names.DRAFT_PLAN,
        DraftPlanInput(
            issue=intake.issue,
            repo_files=intake.files[:MAX_REPO_FILES_IN_PROMPT],
            repo_map=context.repo_map,
            notes=context.notes,
            feedback=feedback,
            lessons=progress.status.lessons.get("plan", []),
            approach=plan_approach(input.settings, progress.status),
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
    estimated = await estimate_plan(
        calls,
        status,
        input,
        intake.issue,
        intake.workspace,
        drafted.plan,
        context.repo_map,
        context.recorded,
    )
    estimate = estimated.markdown() if estimated is not None else None
    body = render.plan_comment(
        drafted.plan, version, input.issue, input.settings.auto_approve, estimate
    )
    await progress.comment(f"plan:{version}", body)
    return drafted.plan
