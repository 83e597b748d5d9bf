"""The background schedules' workflows (``workers.schedules`` starts them on a timetable).

StuckRunsWorkflow finds runs that wait too long, keep retrying, make no progress or ended
without saying why, and says so on each one's issue (one comment per issue, edited) and in a
metric. MaintenanceWorkflow deletes Autopilot's branches of merged or closed PRs and prunes
old workspaces and environments. CostReportWorkflow sums each repository's cost of the day.
None writes to the forge while the deployment's mode allows no forge write (``domain.mode``).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from domain import names
from domain.forge import CommentRef, UpsertCommentInput
from domain.issue import IssueRef, RepoRef
from domain.operations import (
    REPO_COST_METRIC,
    STUCK_RUNS_METRIC,
    CostReport,
    CostReportInput,
    CostReportWorkflowInput,
    MaintenanceInput,
    MaintenanceReport,
    StuckRunsInput,
    StuckRunsReport,
)
from workflows.calls import Activities

STUCK_MARKER = "stuck"


def _issue(forge_url: str, repo: str, number: int) -> IssueRef:
    owner, name = repo.split("/", 1)
    return IssueRef(repo=RepoRef(forge_url=forge_url, owner=owner, name=name), number=number)


async def _comment(calls: Activities, issue: IssueRef, marker: str, body: str) -> None:
    """A report that cannot be posted is logged: the next round posts it again."""
    try:
        await calls.run(
            names.UPSERT_COMMENT,
            UpsertCommentInput(issue=issue, marker=marker, body=body),
            CommentRef,
        )
    except ActivityError as err:
        workflow.logger.warning("could not comment on %s: %s", issue.workflow_id, err.cause)


@workflow.defn(name=names.STUCK_RUNS_WORKFLOW)
class StuckRunsWorkflow:
    @workflow.run
    async def run(self, input: StuckRunsInput) -> StuckRunsReport:
        calls = Activities(lambda: "monitor")
        report = await calls.run(names.FIND_STUCK_RUNS, input, StuckRunsReport)
        counter = workflow.metric_meter().create_counter(
            STUCK_RUNS_METRIC, "Runs the monitor found stuck, by reason"
        )
        for stuck in report.stuck:
            counter.add(1, {"reason": stuck.reason, "repo": stuck.repo})
            workflow.logger.warning(
                "stuck run %s (%s): %s", stuck.workflow_id, stuck.reason, stuck.detail
            )
            if stuck.repo and stuck.issue and report.mode.allows_activity(names.UPSERT_COMMENT):
                issue = _issue(input.forge_url, stuck.repo, stuck.issue)
                await _comment(calls, issue, STUCK_MARKER, stuck.comment())
        return report


@workflow.defn(name=names.MAINTENANCE_WORKFLOW)
class MaintenanceWorkflow:
    @workflow.run
    async def run(self, input: MaintenanceInput) -> MaintenanceReport:
        calls = Activities(lambda: "maintenance")
        branches = await calls.run(names.DELETE_DONE_BRANCHES, input, MaintenanceReport)
        disk = await calls.run(names.PRUNE_DISK, input, MaintenanceReport)
        report = disk.model_copy(
            update={
                "branches_deleted": branches.branches_deleted,
                "branches_kept_for_mode": branches.branches_kept_for_mode,
            }
        )
        workflow.logger.info(
            "maintenance: %d branches deleted, %d workspaces and %d environments pruned",
            len(report.branches_deleted),
            report.workspaces_pruned,
            report.environments_pruned,
        )
        return report


@workflow.defn(name=names.COST_REPORT_WORKFLOW)
class CostReportWorkflow:
    @workflow.run
    async def run(self, input: CostReportWorkflowInput) -> CostReport:
        calls = Activities(lambda: "cost")
        report = await calls.run(names.COST_REPORT, CostReportInput(hours=input.hours), CostReport)
        gauge = workflow.metric_meter().create_gauge_float(
            REPO_COST_METRIC, "Model cost of the runs that ended in the last report's period"
        )
        for repo in report.repos:
            gauge.set(repo.cost_usd, {"repo": repo.repo})
            workflow.logger.info(
                "cost report: %s %d runs %.4f USD", repo.repo, repo.runs, repo.cost_usd
            )
        if input.report_issue and report.mode.allows_activity(names.UPSERT_COMMENT):
            full_name, number = input.report_issue.split("#", 1)
            issue = _issue(input.forge_url, full_name, int(number))
            marker = f"cost-report:{report.since:%Y-%m-%d}"
            await _comment(calls, issue, marker, report.markdown())
        return report
