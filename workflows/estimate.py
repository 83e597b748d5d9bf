"""The plan's cost estimate: from the repository's recorded usage per plan task when its
earlier runs recorded some (recalled with the lessons), else from the sizes of the files it
names (read on the issue branch) and the implementer's edit format; kept in the status so the
PR shows it beside the actual."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from domain import names
from domain.agent import FileSizes, FileSizesInput
from domain.estimate import (
    CostEstimate,
    EstimateInput,
    RecordedUsage,
    estimate_plan_cost,
)
from domain.issue import IssueInfo
from domain.plan import Plan
from domain.run import IssueStatus, IssueWorkflowInput
from domain.workspace import WorkspaceRef
from workflows.calls import Activities

# Before it, the estimate assumed whole-file answers and read no file sizes.
ESTIMATE_FROM_SIZES = "estimate-from-sizes"
# Before it, no recall brought recorded usage, and no estimate was made from it.
ESTIMATE_FROM_RECORDS = "estimate-from-records"
MAX_SIZED_FILES = 200  # FileSizesInput's limit; a plan naming more is estimated without them


async def estimate_plan(
    calls: Activities | None,
    status: IssueStatus,
    input: IssueWorkflowInput,
    issue: IssueInfo,
    workspace: WorkspaceRef,
    plan: Plan,
    repo_map: str,
    recorded: RecordedUsage | None = None,
) -> CostEstimate | None:
    """The estimate of ``plan`` (None for an untiered run), kept in ``status``."""
    if input.model is None:
        return None
    if recorded is not None and not workflow.patched(ESTIMATE_FROM_RECORDS):
        recorded = None
    basis = EstimateInput(
        issue_chars=len(issue.title) + len(issue.body), map_chars=len(repo_map), recorded=recorded
    )
    if calls is not None and workflow.patched(ESTIMATE_FROM_SIZES):
        basis.file_chars = await _sizes(calls, workspace, plan)
    status.cost_estimate = estimate_plan_cost(plan, input.model.routing, basis)
    return status.cost_estimate


async def _sizes(calls: Activities, workspace: WorkspaceRef, plan: Plan) -> dict[str, int]:
    paths = sorted({path for task in plan.tasks for path in task.files})
    if not paths or len(paths) > MAX_SIZED_FILES:
        return {}
    try:
        found = await calls.run(
            names.FILE_SIZES,
            FileSizesInput(workspace=workspace, paths=paths),
            FileSizes,
            summary="sizes of the plan's files, for the cost estimate",
        )
    except ActivityError as err:
        # An estimate is advice: without sizes it counts every file as new.
        workflow.logger.warning("estimating without file sizes: %s", err.cause)
        return {}
    return found.sizes
