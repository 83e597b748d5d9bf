"""One review round: deterministic gates first, the model's rubric only when they pass."""

from __future__ import annotations

from domain import names
from domain.change import DiffSummary, TestRun
from domain.model import ReviewChangeInput, ReviewChangeOutput
from domain.review import GateResult, ReviewVerdict
from domain.run import RepoSettings
from domain.workspace import DiffSummaryInput
from workflows.calls import Activities
from workflows.carry import RunContext
from workflows.model_gateway import ModelGateway
from workflows.progress import Progress
from workflows.review_gates import review_gates


async def review_round(
    calls: Activities,
    gateway: ModelGateway,
    progress: Progress,
    run: RunContext,
    test_run: TestRun,
    repo: RepoSettings,
) -> tuple[ReviewVerdict, list[GateResult]]:
    progress.bump("review")
    diff = await calls.run(
        names.DIFF_SUMMARY, DiffSummaryInput(workspace=run.workspace), DiffSummary
    )
    gates = review_gates(diff, test_run, repo)
    failed = [g for g in gates if not g.passed]
    if failed:
        verdict = ReviewVerdict(
            verdict="request_changes",
            summary="Deterministic gates failed: " + ", ".join(g.name for g in failed),
            requested_changes=[f"{g.name}: {g.detail}" for g in failed],
        )
    else:
        reviewed = await gateway.call(
            names.REVIEW_CHANGE,
            ReviewChangeInput(issue=run.issue, plan=run.plan, diff=diff, test_run=test_run),
            ReviewChangeOutput,
            stage="review",
        )
        progress.add_usage(reviewed.usage)
        verdict = reviewed.verdict
    progress.status.review = verdict
    return verdict, gates
