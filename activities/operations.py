"""The background schedules' activities: find stuck runs, tidy up, sum the day's cost.

Runs are found through visibility (search attributes ``Repo``, ``Issue``, ``Outcome``) and
their own ``status`` query; branches through the forge; workspaces on this worker's disk.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from activities.control import current_mode
from activities.forge.client import GiteaClient
from activities.learning import learning_state
from domain import names
from domain.operations import (
    RETRYING_ATTEMPTS,
    CostReport,
    CostReportInput,
    MaintenanceInput,
    MaintenanceReport,
    RepoCost,
    StuckRun,
    StuckRunsInput,
    StuckRunsReport,
)
from domain.run import IssueStatus

BRANCH_PREFIX = "autopilot/"  # every branch Autopilot pushes starts so
QUERY_TIMEOUT = timedelta(seconds=10)
# Silent failures are looked for among runs closed this recently.
SILENT_FAILURE_WINDOW = timedelta(days=1)
DAY_SECONDS = 86_400


class OperationsActivities:
    def __init__(
        self,
        client: Client,
        repos: list[str],
        forge: Callable[[], GiteaClient],
        disk: list[Path],
    ) -> None:
        self._client = client
        self._repos = repos  # owner/name of every configured repository
        self._forge = forge
        self._disk = disk  # the workspace and environment roots of this worker

    # ----- the monitor -----------------------------------------------------------------------

    @activity.defn(name=names.FIND_STUCK_RUNS)
    async def find_stuck_runs(self, input: StuckRunsInput) -> StuckRunsReport:
        report = StuckRunsReport(mode=await current_mode(self._client))
        now = datetime.now(UTC)
        threshold = timedelta(seconds=input.stuck_after_seconds)
        running = f"WorkflowType = '{names.ISSUE_WORKFLOW}' AND ExecutionStatus = 'Running'"
        async for run in self._client.list_workflows(running):
            report.checked += 1
            stuck = await self._stuck(run, now, threshold)
            if stuck is not None:
                report.stuck.append(stuck)
            activity.heartbeat(report.checked)
        since = (now - SILENT_FAILURE_WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ")
        silent = (
            f"WorkflowType = '{names.ISSUE_WORKFLOW}' AND ExecutionStatus IN "
            f"('Failed', 'TimedOut', 'Terminated') AND {names.SA_OUTCOME.name} = 'running' "
            f"AND CloseTime > '{since}'"
        )
        async for run in self._client.list_workflows(silent):
            report.checked += 1
            report.stuck.append(
                _found(run, "failed_silently", f"it {run.status.name.lower()}", run.close_time)
                if run.status
                else _found(run, "failed_silently", "it closed", run.close_time)
            )
        return report

    async def _stuck(
        self, run: WorkflowExecution, now: datetime, threshold: timedelta
    ) -> StuckRun | None:
        handle = self._client.get_workflow_handle(run.id, run_id=run.run_id)
        try:
            described = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
            for pending in described.raw_description.pending_activities:
                if pending.attempt >= RETRYING_ATTEMPTS:
                    failure = pending.last_failure.message or "no message"
                    detail = f"{pending.activity_type.name} failed {pending.attempt - 1} times"
                    return _found(run, "retrying", f"{detail}; last: {failure}")
            status = await handle.query(
                names.ISSUE_STATUS_QUERY, result_type=IssueStatus, rpc_timeout=QUERY_TIMEOUT
            )
        except RPCError as err:
            activity.logger.warning("could not look at %s: %s", run.id, err.message)
            return None
        if not status.timings:
            return None
        since = status.timings[-1].started_at
        if now - since < threshold:
            return None
        if status.waiting_for:
            return _found(run, "waiting", f"waiting for {status.waiting_for}", since)
        return _found(run, "no_progress", f"still in stage {status.stage}", since)

    # ----- maintenance -----------------------------------------------------------------------

    @activity.defn(name=names.DELETE_DONE_BRANCHES)
    async def delete_done_branches(self, input: MaintenanceInput) -> MaintenanceReport:
        """Autopilot branches whose PRs were merged or closed (none open from them)."""
        if not (await current_mode(self._client)).allows_activity(names.DELETE_BRANCH):
            return MaintenanceReport(branches_kept_for_mode=True)
        report = MaintenanceReport()
        async with self._forge() as forge:
            for full_name in self._repos:
                owner, repo = full_name.split("/", 1)
                branches = {b.name for b in await forge.list_branches(owner, repo)}
                ours = {b for b in branches if b.startswith(BRANCH_PREFIX)}
                if not ours:
                    continue
                open_heads = {p.head.ref for p in await forge.list_pulls(owner, repo)}
                done = {p.head.ref for p in await forge.list_pulls(owner, repo, state="closed")}
                for branch in sorted((ours & done) - open_heads):
                    if await forge.delete_branch(owner, repo, branch):
                        report.branches_deleted.append(f"{full_name}:{branch}")
                    activity.heartbeat(branch)
        return report

    @activity.defn(name=names.PRUNE_DISK)
    async def prune_disk(self, input: MaintenanceInput) -> MaintenanceReport:
        """Workspaces and cached environments this worker has not used for the given days."""
        cutoff = time.time() - input.prune_after_days * DAY_SECONDS
        report = MaintenanceReport()
        for index, root in enumerate(self._disk):
            for entry in sorted(root.iterdir()) if root.is_dir() else []:
                if not entry.is_dir() or _last_used(entry) >= cutoff:
                    continue
                report.bytes_freed += await asyncio.to_thread(_remove, entry)
                if index == 0:
                    report.workspaces_pruned += 1
                else:
                    report.environments_pruned += 1
                activity.heartbeat(entry.name)
        return report

    # ----- the cost report -------------------------------------------------------------------

    @activity.defn(name=names.COST_REPORT)
    async def cost_report(self, input: CostReportInput) -> CostReport:
        """Per repository: runs that ended in the period and what their model calls cost."""
        since = datetime.now(UTC) - timedelta(hours=input.hours)
        report = CostReport(since=since, mode=await current_mode(self._client))
        for repo in self._repos:
            state = await learning_state(self._client, repo)
            records = [r for r in state.records if r.ended_at >= since] if state else []
            cost = round(sum(r.usage.cost_usd for r in records), 6)
            report.repos.append(RepoCost(repo=repo, runs=len(records), cost_usd=cost))
        return report


def _found(
    run: WorkflowExecution, reason: str, detail: str, since: datetime | None = None
) -> StuckRun:
    attributes = run.typed_search_attributes
    return StuckRun.model_validate(
        {
            "workflow_id": run.id,
            "repo": attributes.get(names.SA_REPO) or "",
            "issue": attributes.get(names.SA_ISSUE) or 0,
            "reason": reason,
            "detail": detail,
            "since": since,
        }
    )


def _last_used(path: Path) -> float:
    """A checkout's git files change whenever it is used; the directory itself may not."""
    probes = [path, path / ".git", path / ".git" / "index", path / ".git" / "HEAD"]
    return max(p.stat().st_mtime for p in probes if p.exists())


def _remove(path: Path) -> int:
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    shutil.rmtree(path, ignore_errors=True)
    return size
