"""One review round: deterministic gates first, the reviewer panel only when they pass.

The panel's reviewers (``review.reviewers``) answer in parallel, each on its own tier with its
own focus; the quorum rule (``domain.review.decide``) decides, never the order of the answers.
Without configured reviewers one general reviewer answers, as before the panel existed.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from domain import names
from domain.change import DiffSummary, TestRun
from domain.model import ReviewChangeInput, ReviewChangeOutput
from domain.review import (
    ChangeScan,
    GateResult,
    Reviewer,
    ReviewerVerdict,
    ReviewPanel,
    ReviewSettings,
    ReviewVerdict,
    ScanChangeInput,
    decide,
)
from domain.run import IssueWorkflowInput
from domain.workspace import DiffSummaryInput
from workflows import metrics
from workflows.calls import Activities
from workflows.carry import RunContext
from workflows.model_gateway import ModelGateway
from workflows.progress import Progress
from workflows.review_gates import review_gates

# Runs recorded before these existed replay without them (no scan; one reviewer).
SCAN_PATCH = "review-scan"
QUORUM_PATCH = "review-quorum"


async def review_round(
    calls: Activities,
    gateway: ModelGateway,
    progress: Progress,
    run: RunContext,
    test_run: TestRun,
    input: IssueWorkflowInput,
) -> tuple[ReviewVerdict, list[GateResult]]:
    progress.bump("review")
    diff = await calls.run(
        names.DIFF_SUMMARY, DiffSummaryInput(workspace=run.workspace), DiffSummary
    )
    scan = None
    if workflow.patched(SCAN_PATCH):
        scan = await calls.run(
            names.SCAN_CHANGE, ScanChangeInput(workspace=run.workspace), ChangeScan
        )
    gates = review_gates(diff, test_run, input.repo_settings, scan)
    failed = [g for g in gates if not g.passed]
    if failed:
        verdict = ReviewVerdict(
            verdict="request_changes",
            summary="Deterministic gates failed: " + ", ".join(g.name for g in failed),
            requested_changes=[f"{g.name}: {g.detail}" for g in failed],
        )
        progress.status.review_panel = None
    elif calls.mode.minimal:
        verdict = ReviewVerdict(
            verdict="approve",
            summary=f"The model's review was skipped: mode {calls.mode.state.describe()}.",
        )
    else:
        request = ReviewChangeInput(
            issue=run.issue,
            plan=run.plan,
            diff=diff,
            test_run=test_run,
            lessons=progress.status.lessons.get("review", []),
        )
        verdict = await panel_verdict(gateway, progress, request, input.settings.review)
    progress.status.review = verdict
    metrics.record_review(verdict, gates)
    return verdict, gates


async def panel_verdict(
    gateway: ModelGateway,
    progress: Progress,
    request: ReviewChangeInput,
    settings: ReviewSettings,
    human_approvals: int = 0,
) -> ReviewVerdict:
    """The panel's verdict on ``request``; ``human_approvals`` (a pull request's approving
    reviews on the forge) count toward the quorum. The panel lands in the status."""
    if not settings.reviewers or not workflow.patched(QUORUM_PATCH):
        alone = await _review(gateway, progress, request, Reviewer())
        panel = ReviewPanel(quorum=1, reviewers=[alone], human_approvals=human_approvals)
        progress.status.review_panel = panel
        # The lone general reviewer's own verdict, as before the panel existed, unless a
        # person's approval outvotes its request for changes.
        outvoted = alone.verdict.verdict != "approve" and panel.approved
        return decide(panel) if outvoted else alone.verdict
    answers = await asyncio.gather(
        *(_review(gateway, progress, request, r) for r in settings.panel),
        return_exceptions=True,
    )
    # Every reviewer has finished before a failure is raised: none is left running unheard.
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    panel = ReviewPanel(
        quorum=settings.required,
        reviewers=[a for a in answers if isinstance(a, ReviewerVerdict)],
        human_approvals=human_approvals,
    )
    progress.status.review_panel = panel
    if not panel.approved:
        metrics.count_quorum_failure()
    return decide(panel)


async def _review(
    gateway: ModelGateway, progress: Progress, request: ReviewChangeInput, reviewer: Reviewer
) -> ReviewerVerdict:
    reviewed = await gateway.call(
        names.REVIEW_CHANGE,
        request.model_copy(update={"focus": reviewer.focus}),
        ReviewChangeOutput,
        stage="review",
        tier=reviewer.tier,
    )
    progress.add_usage(reviewed.usage)
    return ReviewerVerdict(
        reviewer=reviewer.label,
        focus=reviewer.focus,
        tier=reviewed.tier,
        model=reviewed.model,
        verdict=reviewed.verdict,
    )
