"""The background schedules on the real dev server: they exist (and are updated, not doubled)
after a worker's start-up step; the monitor finds a run left waiting and a run that ended
without saying why, and says so on their issues; an open breaker switches to minimal."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.control import ControlActivities, current_mode, set_mode
from activities.forge.client import GiteaClient
from activities.model.breaker import CircuitBreaker
from activities.operations import DAY_SECONDS, OperationsActivities
from config.settings import AutopilotConfig, load_config
from devstack.forge.testing import push_files, running_forge, seed_repo
from domain import names
from domain.forge import CommentRef, UpsertCommentInput
from domain.learning import LearningInput, LearningState, OutcomeRecord, learning_workflow_id
from domain.mode import SetModeRequest
from domain.operations import (
    CostReportWorkflowInput,
    MaintenanceInput,
    MaintenanceReport,
    StuckRunsInput,
    StuckRunsReport,
)
from domain.run import IssueStatus
from domain.usage import TokenUsage
from tests.dev_server import running_dev_server
from tests.e2e.histories import save_history
from tests.polling import eventually
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_modes import issue_input
from workers.main import run_worker
from workers.schedules import ensure_schedules, minimal_on_open_breakers
from workflows.control import ControlWorkflow
from workflows.issue import IssueWorkflow
from workflows.learning import RepoLearningWorkflow
from workflows.operations import CostReportWorkflow, MaintenanceWorkflow, StuckRunsWorkflow
from workflows.runner import WORKFLOW_RUNNER
from workflows.task import TaskWorkflow

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

OPS_QUEUE = "ops"


def config(**settings: object) -> AutopilotConfig:
    """``operations.*`` by key; other settings by their whole variable name."""
    env = {"AUTOPILOT_FORGE_TOKEN": "t", "AUTOPILOT__TEMPORAL__TASK_QUEUE": OPS_QUEUE}
    for key, value in settings.items():
        name = key if key.startswith("AUTOPILOT") else f"AUTOPILOT__OPERATIONS__{key.upper()}"
        env[name] = str(value)
    return load_config(env=env)


async def schedule_ids(client: Client) -> list[str]:
    return [s.id async for s in await client.list_schedules()]


class IssueComments:
    """The forge's comments, by issue and marker."""

    def __init__(self) -> None:
        self.bodies: dict[tuple[int, str], str] = {}

    @activity.defn(name=names.UPSERT_COMMENT)
    async def upsert_comment(self, input: UpsertCommentInput) -> CommentRef:
        created = (input.issue.number, input.marker) not in self.bodies
        self.bodies[(input.issue.number, input.marker)] = input.body
        return CommentRef(id=len(self.bodies), html_url="http://x", created=created)


@asynccontextmanager
async def dev_server() -> AsyncIterator[Client]:
    async with running_dev_server() as env:
        yield env.client


async def test_schedules_exist_after_a_worker_starts_and_a_second_start_updates_them(
    tmp_path: Path,
) -> None:
    async with dev_server() as client:
        settings = config(
            AUTOPILOT__TEMPORAL__ADDRESS=client.service_client.config.target_host,
            AUTOPILOT__WORKSPACE__ROOT=str(tmp_path / "workspaces"),
            AUTOPILOT__WORKSPACE__ENVIRONMENTS=str(tmp_path / "environments"),
        )
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(settings, stop))
        made = await eventually(
            lambda: schedule_ids(client), lambda ids: len(ids) == 3, what="the schedules"
        )
        stop.set()
        await worker
        again = await ensure_schedules(client, config(monitor_every_minutes=5))
        assert sorted(made) == sorted(again)
        assert again == [
            names.STUCK_RUNS_SCHEDULE_ID,
            names.MAINTENANCE_SCHEDULE_ID,
            names.COST_REPORT_SCHEDULE_ID,
        ]
        monitor = await client.get_schedule_handle(names.STUCK_RUNS_SCHEDULE_ID).describe()
        assert monitor.schedule.spec.intervals[0].every == timedelta(minutes=5)
        assert sorted(await schedule_ids(client)) == sorted(made)
        control = await client.get_workflow_handle(names.CONTROL_WORKFLOW_ID).describe()
        assert control.workflow_type == names.CONTROL_WORKFLOW


async def test_the_monitor_reports_a_run_left_waiting_and_one_that_ended_silently() -> None:
    comments = IssueComments()
    async with dev_server() as client, AsyncExitStack() as stack:
        ops = OperationsActivities(client, [], forge=lambda: None, disk=[])  # type: ignore[arg-type,return-value]
        served: list[tuple[str, list[type], list[Callable[..., Any]]]] = [
            ("issues", [IssueWorkflow, TaskWorkflow], FakeWorld().activities()),
            (OPS_QUEUE, [StuckRunsWorkflow], [comments.upsert_comment, ops.find_stuck_runs]),
        ]
        for queue, workflows, activities in served:
            await stack.enter_async_context(
                Worker(
                    client,
                    task_queue=queue,
                    workflows=workflows,
                    activities=activities,
                    workflow_runner=WORKFLOW_RUNNER,
                )
            )
        waiting = await client.start_workflow(
            IssueWorkflow.run, issue_input(11), id="waiting", task_queue="issues"
        )
        await eventually(
            lambda: waiting.query(IssueWorkflow.status),
            lambda s: isinstance(s, IssueStatus) and s.waiting_for == "approval",
        )
        gone = await client.start_workflow(
            IssueWorkflow.run, issue_input(12), id="gone", task_queue="issues"
        )
        await eventually(
            lambda: gone.query(IssueWorkflow.status),
            lambda s: s.stage != "intake",
            what="a started run",
        )
        await gone.terminate("the worker's host was lost")
        await asyncio.sleep(1.1)  # the waiting run has now waited longer than the threshold

        report_id: list[str] = []

        async def monitor() -> StuckRunsReport:
            report_id.append(f"monitor-{time.monotonic_ns()}")
            return await client.execute_workflow(
                StuckRunsWorkflow.run,
                StuckRunsInput(forge_url="http://forge.test", stuck_after_seconds=1),
                id=report_id[-1],
                task_queue=OPS_QUEUE,
            )

        report = await eventually(monitor, lambda r: len(r.stuck) == 2, what="both runs")
        await save_history(client, report_id[-1], "reported")
    found = {s.workflow_id: s for s in report.stuck}
    assert found["waiting"].reason == "waiting" and found["waiting"].issue == 11
    assert found["waiting"].detail == "waiting for approval"
    assert found["gone"].reason == "failed_silently" and found["gone"].repo == "o/r"
    assert comments.bodies[(11, "stuck")].startswith("🩺 Autopilot's monitor: this issue's run is")
    assert "ended without reporting why" in comments.bodies[(12, "stuck")]


async def test_a_breaker_open_past_its_threshold_switches_the_deployment_to_minimal() -> None:
    now = [1000.0]
    breaker = CircuitBreaker("default", failure_threshold=1, clock=lambda: now[0])
    breaker.record_failure()
    async with (
        dev_server() as client,
        Worker(
            client,
            task_queue=OPS_QUEUE,
            workflows=[ControlWorkflow],
            activities=[ControlActivities(client).broadcast_mode],
            workflow_runner=WORKFLOW_RUNNER,
        ),
        minimal_on_open_breakers(
            client,
            config(breaker_minimal_after_seconds=300),
            breakers=lambda: {"default": breaker},
            every=0.05,
        ),
    ):
        now[0] += 299  # re-openings keep counting from the first
        breaker.record_failure()
        await asyncio.sleep(0.3)
        assert (await current_mode(client)).mode == "normal"
        now[0] += 2
        state = await eventually(lambda: current_mode(client), lambda m: m.mode == "minimal")
    assert state.set_by == "breaker:default"
    assert state.reason == "model provider default unavailable for 301s"


async def test_maintenance_prunes_only_what_was_not_used_for_the_given_days(
    tmp_path: Path,
) -> None:
    workspaces, environments = tmp_path / "workspaces", tmp_path / "environments"
    for root, name, age_days in (
        (workspaces, "old", 20),
        (workspaces, "fresh", 1),
        (environments, "stale-env", 30),
    ):
        folder = root / name / ".git"
        folder.mkdir(parents=True)
        (folder / "index").write_bytes(b"x" * 100)
        stamp = time.time() - age_days * DAY_SECONDS
        for path in (folder / "index", folder, folder.parent):
            os.utime(path, (stamp, stamp))
    ops = OperationsActivities(None, [], forge=lambda: None, disk=[workspaces, environments])  # type: ignore[arg-type,return-value]
    report = await ActivityEnvironment().run(ops.prune_disk, MaintenanceInput(prune_after_days=14))
    assert (report.workspaces_pruned, report.environments_pruned) == (1, 1)
    assert report.bytes_freed == 200
    assert sorted(p.name for p in workspaces.iterdir()) == ["fresh"]
    assert list(environments.iterdir()) == []


async def maintenance(client: Client, workflow_id: str) -> MaintenanceReport:
    return await client.execute_workflow(
        MaintenanceWorkflow.run,
        MaintenanceInput(prune_after_days=14),
        id=workflow_id,
        task_queue=OPS_QUEUE,
    )


async def test_maintenance_deletes_the_branches_of_merged_and_closed_pulls_only(
    tmp_path: Path,
) -> None:
    with running_forge(tmp_path / "forge") as forge:
        seed_repo(forge, forge.admin, "app", {"README.md": "app\n"})
        for n, branch in enumerate(
            ["autopilot/issue-1", "autopilot/issue-2", "autopilot/issue-3", "feature-x"], 1
        ):
            push_files(forge, forge.admin, "app", branch, {f"f{n}.txt": "x\n"}, base="main")
            forge.api(
                "POST",
                f"/repos/{forge.admin}/app/pulls",
                {"head": branch, "base": "main", "title": f"change {n}"},
            )
        push_files(forge, forge.admin, "app", "autopilot/issue-4", {"g.txt": "x\n"}, base="main")
        forge.api("POST", f"/repos/{forge.admin}/app/pulls/1/merge", {"Do": "merge"})
        for closed in (2, 4):
            forge.api("PATCH", f"/repos/{forge.admin}/app/pulls/{closed}", {"state": "closed"})
        async with dev_server() as client:
            ops = OperationsActivities(
                client,
                [f"{forge.admin}/app"],
                forge=lambda: GiteaClient(forge.base_url, forge.token),
                disk=[tmp_path / "workspaces"],
            )
            async with Worker(
                client,
                task_queue=OPS_QUEUE,
                workflows=[MaintenanceWorkflow, ControlWorkflow],
                activities=[
                    ops.delete_done_branches,
                    ops.prune_disk,
                    ControlActivities(client).broadcast_mode,
                ],
                workflow_runner=WORKFLOW_RUNNER,
            ):
                await set_mode(client, OPS_QUEUE, SetModeRequest(mode="read-only", by="oncall"))
                held = await maintenance(client, "maintenance-read-only")
                assert held.branches_kept_for_mode and held.branches_deleted == []
                await set_mode(client, OPS_QUEUE, SetModeRequest(mode="normal", by="oncall"))
                report = await maintenance(client, "maintenance")
                await save_history(client, "maintenance", "branches_deleted")
        left = {b["name"] for b in forge.api("GET", f"/repos/{forge.admin}/app/branches")}
    repo = f"{forge.admin}/app"
    assert report.branches_deleted == [f"{repo}:autopilot/issue-1", f"{repo}:autopilot/issue-2"]
    assert not report.branches_kept_for_mode
    # Open PR, no PR, not Autopilot's: kept.
    assert left == {"main", "autopilot/issue-3", "autopilot/issue-4", "feature-x"}


async def test_the_cost_report_sums_each_repository_s_day_on_the_configured_issue() -> None:
    comments = IssueComments()
    now = datetime.now(UTC)

    def record(issue: int, cost: float, hours_ago: float) -> OutcomeRecord:
        return OutcomeRecord(
            repo="o/r",
            issue=issue,
            workflow_id=f"run-{issue}",
            run_id=f"r{issue}",
            ended_at=now - timedelta(hours=hours_ago),
            outcome="pr_opened",
            usage=TokenUsage(cost_usd=cost),
        )

    state = LearningState(
        repo="o/r", records=[record(1, 0.5, 30), record(2, 0.25, 3), record(3, 0.125, 1)]
    )
    async with dev_server() as client:
        ops = OperationsActivities(client, ["o/r", "o/quiet"], forge=lambda: None, disk=[])  # type: ignore[arg-type,return-value]
        async with Worker(
            client,
            task_queue=OPS_QUEUE,
            workflows=[CostReportWorkflow, RepoLearningWorkflow],
            activities=[ops.cost_report, comments.upsert_comment],
            workflow_runner=WORKFLOW_RUNNER,
        ):
            await client.start_workflow(
                RepoLearningWorkflow.run,
                LearningInput(state=state),
                id=learning_workflow_id("o/r"),
                task_queue=OPS_QUEUE,
            )
            report = await client.execute_workflow(
                CostReportWorkflow.run,
                CostReportWorkflowInput(forge_url="http://forge.test", report_issue="o/ops#9"),
                id="cost-report",
                task_queue=OPS_QUEUE,
            )
            await save_history(client, "cost-report", "posted")
    assert [(r.repo, r.runs, r.cost_usd) for r in report.repos] == [
        ("o/r", 2, 0.375),
        ("o/quiet", 0, 0.0),
    ]
    ((issue, marker), body) = next(iter(comments.bodies.items()))
    assert issue == 9 and marker == f"cost-report:{report.since:%Y-%m-%d}"
    assert "| o/r | 2 | 0.3750 |" in body and "| **total** | 2 | 0.3750 |" in body
