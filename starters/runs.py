"""Looking at runs: one run's status, and runs listed by repository, stage and outcome.

``status`` asks the run itself (the ``status`` query) while it runs, and reads the result of a
finished one, so it needs no worker once a run has ended. ``list`` uses visibility (the ``Repo``,
``Stage`` and ``Outcome`` search attributes), which may lag a second behind the runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from domain import names
from domain.issue import IssueRef
from domain.run import IssueResult, IssueStatus
from starters.common import StarterError, latest_run

# A running run answers the status query through a worker; without one, say so quickly.
QUERY_TIMEOUT = timedelta(seconds=10)


@dataclass
class RunSummary:
    """What ``autopilot status`` and ``autopilot list`` show for one run."""

    workflow_id: str
    run_id: str
    status: str  # Temporal's: running, completed, failed, ...
    repo: str | None = None
    issue: int | None = None
    stage: str | None = None
    outcome: str | None = None
    started: str | None = None
    waiting_for: str | None = None
    attempts: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    model_calls: int | None = None
    pr_url: str | None = None
    error: str | None = None
    note: str | None = None  # why some fields are missing

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {})}


def _summary(execution: WorkflowExecution) -> RunSummary:
    attributes = execution.typed_search_attributes
    status = execution.status.name.lower() if execution.status else "unknown"
    return RunSummary(
        workflow_id=execution.id,
        run_id=execution.run_id,
        status=status,
        repo=attributes.get(names.SA_REPO),
        issue=attributes.get(names.SA_ISSUE),
        stage=attributes.get(names.SA_STAGE),
        outcome=attributes.get(names.SA_OUTCOME),
        started=execution.start_time.isoformat(timespec="seconds"),
    )


def _fill(summary: RunSummary, status: IssueStatus) -> RunSummary:
    summary.stage, summary.outcome = status.stage, status.outcome
    summary.waiting_for = status.waiting_for
    summary.attempts = dict(status.attempts)
    usage = status.model.total if status.model else status.total_usage
    summary.cost_usd, summary.model_calls = usage.cost_usd, usage.calls
    summary.pr_url, summary.error = status.pr_url, status.error
    return summary


async def run_status(client: Client, issue: IssueRef) -> RunSummary:
    """The newest run for ``issue``; StarterError when there never was one."""
    described = await latest_run(client, issue.workflow_id)
    if described is None:
        raise StarterError(f"no run for issue #{issue.number} in {issue.repo.full_name}")
    summary = _summary(described)
    handle = client.get_workflow_handle(
        issue.workflow_id, run_id=described.run_id, result_type=IssueResult
    )
    if described.status == WorkflowExecutionStatus.COMPLETED:
        result = await handle.result(follow_runs=False)
        return _fill(summary, result.status)
    if described.status != WorkflowExecutionStatus.RUNNING:
        try:
            await handle.result(follow_runs=False)
        except WorkflowFailureError as failure:
            summary.error = str(failure.cause or failure)
        return summary
    try:
        status = await handle.query("status", result_type=IssueStatus, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError) as failure:
        timed_out = isinstance(failure, RPCError) and failure.status in (
            RPCStatusCode.DEADLINE_EXCEEDED,
            RPCStatusCode.CANCELLED,
        )
        summary.note = (
            "no worker answered the status query; showing the search attributes"
            if timed_out
            else f"status query failed: {failure}"
        )
        return summary
    return _fill(summary, status)


def list_query(repo: str | None, stage: str | None, outcome: str | None, running: bool) -> str:
    """A visibility query for issue runs; values are quoted, so a filter cannot inject one."""
    clauses = [f"WorkflowType = {_quoted(names.ISSUE_WORKFLOW)}"]
    for key, value in ((names.SA_REPO, repo), (names.SA_STAGE, stage), (names.SA_OUTCOME, outcome)):
        if value:
            clauses.append(f"{key.name} = {_quoted(value)}")
    if running:
        clauses.append("ExecutionStatus = 'Running'")
    return " AND ".join(clauses)


def _quoted(value: str) -> str:
    if "'" in value or "\\" in value:
        raise StarterError(f"filter values may not contain quotes or backslashes: {value!r}")
    return f"'{value}'"


async def list_runs(client: Client, query: str, limit: int) -> list[RunSummary]:
    try:
        return [_summary(run) async for run in client.list_workflows(query, limit=limit)]
    except RPCError as failure:
        raise StarterError(f"cannot list runs: {failure.message}") from None


def status_lines(summary: RunSummary) -> list[str]:
    """``autopilot status`` for a terminal: one fact a line."""
    lines = [f"run       {summary.workflow_id} ({summary.status})"]
    if summary.repo:
        lines.append(f"issue     {summary.repo}#{summary.issue}")
    lines.append(f"stage     {summary.stage or '?'}   outcome {summary.outcome or '?'}")
    if summary.waiting_for:
        lines.append(f"waiting   for {summary.waiting_for}")
    if summary.attempts:
        lines.append(
            "attempts  " + ", ".join(f"{k} {v}" for k, v in sorted(summary.attempts.items()))
        )
    if summary.cost_usd is not None:
        lines.append(f"cost      ${summary.cost_usd:.4f} ({summary.model_calls} model calls)")
    if summary.pr_url:
        lines.append(f"pr        {summary.pr_url}")
    if summary.error:
        lines.append(f"error     {summary.error}")
    if summary.note:
        lines.append(f"note      {summary.note}")
    return lines


def table_lines(runs: list[RunSummary]) -> list[str]:
    """``autopilot list`` for a terminal: a column each for issue, stage, outcome, status."""
    if not runs:
        return ["no runs match"]
    rows = [("ISSUE", "STAGE", "OUTCOME", "STATUS", "STARTED")]
    for run in runs:
        issue = f"{run.repo}#{run.issue}" if run.repo else run.workflow_id
        started = (run.started or "").replace("+00:00", "Z")
        rows.append((issue, run.stage or "-", run.outcome or "-", run.status, started))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    ]
