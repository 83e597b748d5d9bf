"""The Autopilot worker: every workflow and activity on one task queue, configured from config/."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.control import ControlActivities
from activities.forge.client import GiteaClient
from activities.forge.cross_repo import CrossRepoForgeActivities
from activities.learning import LearningActivities
from activities.model.factory import budget_activities, build_model_activities
from activities.operations import OperationsActivities
from activities.workspace.activities import WorkspaceActivities
from activities.workspace.revert import RevertActivities
from config.settings import AutopilotConfig, ConfigError, load_config
from config.temporal import TemporalConnectError, temporal_connection
from workers.activity_metrics import ActivityMetricsInterceptor
from workers.capacity import kind_workers
from workers.gauges import worker_gauges
from workers.health import WorkerHealth, serving_health
from workers.heartbeat import HeartbeatInterceptor
from workers.observability import configure_logging
from workers.schedules import at_worker_start, minimal_on_open_breakers
from workers.telemetry import TelemetryError, worker_interceptors, worker_telemetry
from workflows.control import ControlWorkflow
from workflows.cross_repo import CrossRepoWorkflow
from workflows.issue import IssueWorkflow
from workflows.learning import RepoLearningWorkflow
from workflows.ledger import BudgetLedgerWorkflow
from workflows.operations import CostReportWorkflow, MaintenanceWorkflow, StuckRunsWorkflow
from workflows.runner import WORKFLOW_RUNNER
from workflows.task import TaskWorkflow

INTERCEPTORS = [HeartbeatInterceptor(), ActivityMetricsInterceptor()]
WORKFLOWS = [
    IssueWorkflow,
    TaskWorkflow,
    BudgetLedgerWorkflow,
    CrossRepoWorkflow,
    RepoLearningWorkflow,
    ControlWorkflow,
    StuckRunsWorkflow,
    MaintenanceWorkflow,
    CostReportWorkflow,
]
log = structlog.get_logger("autopilot.worker")


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def forge_token_lookup(config: AutopilotConfig) -> Callable[[str], str | None]:
    """The forge token goes only to the configured forge, never to another host."""
    token = config.forge_token()
    forge = _origin(config.forge.url)
    return lambda url: token if _origin(url) == forge else None


def forge_activities(config: AutopilotConfig) -> CrossRepoForgeActivities:
    """Forge activities whose clients use the configured token and HTTP timeout."""
    token_for = forge_token_lookup(config)
    return CrossRepoForgeActivities(
        lambda url: token_for(url) or "",
        client_factory=partial(GiteaClient, timeout=config.forge.timeout_seconds),
    )


def operations_activities(config: AutopilotConfig, client: Client) -> list[Callable[..., Any]]:
    """The background schedules' activities (``activities.operations``)."""
    ops = OperationsActivities(
        client,
        repos=[r.repo for r in config.repositories],
        forge=lambda: GiteaClient(
            config.forge.url, config.forge_token(), timeout=config.forge.timeout_seconds
        ),
        disk=[config.workspace.root, config.workspace.environments],
    )
    return [ops.find_stuck_runs, ops.delete_done_branches, ops.prune_disk, ops.cost_report]


@asynccontextmanager
async def autopilot_activities(
    config: AutopilotConfig, client: Client
) -> AsyncIterator[list[Callable[..., Any]]]:
    """All activity callables, with their pooled clients closed afterwards."""
    token_for = forge_token_lookup(config)
    forge = forge_activities(config)
    model = build_model_activities(config)  # tiers, breakers, cache, metrics
    workspace = WorkspaceActivities(
        root=config.workspace.root,
        token_for=token_for,
        max_edit_bytes=config.workspace.max_edit_bytes,
        sandbox=config.sandbox,
        environments_root=config.workspace.environments,
    )
    revert = RevertActivities(root=config.workspace.root / "reverts", token_for=token_for)
    learning = LearningActivities(client, config.temporal.task_queue)
    try:
        yield [
            forge.get_issue,
            forge.get_repo,
            forge.ensure_labels,
            forge.set_issue_labels,
            forge.upsert_comment,
            forge.find_comment,
            forge.open_pull_request,
            forge.ensure_linked_issue,
            forge.pull_verdict,
            forge.pull_feedback,
            forge.update_pull_section,
            forge.merge_pull,
            forge.close_pull,
            forge.delete_branch,
            revert.revert_merge,
            model.draft_plan,
            model.agent_turn,
            model.draft_edits,
            model.review_change,
            workspace.prepare,
            workspace.read_files,
            workspace.apply_edits,
            workspace.prepare_environment,
            workspace.run_tests,
            workspace.diff_summary,
            workspace.scan_change,
            workspace.run_tools,
            workspace.repo_map,
            workspace.file_sizes,
            workspace.ensure_branch,
            workspace.integrate,
            model.resolve_conflict,
            *budget_activities(client, config),
            learning.record_outcome,
            learning.recall_lessons,
            ControlActivities(client).broadcast_mode,
            *operations_activities(config, client),
        ]
    finally:
        await forge.aclose()
        await model.aclose()


async def connect(config: AutopilotConfig) -> Client:
    """A client for the configured Temporal (TLS, API key); TemporalConnectError in one line."""
    return await temporal_connection(config).connect()


@asynccontextmanager
async def running_worker(
    config: AutopilotConfig, client: Client, *, graceful_shutdown: timedelta = timedelta(0)
) -> AsyncIterator[Worker]:
    """Every workflow and activity, polling the configured task queue until the block ends.

    Leaving the block cancels running activities after ``graceful_shutdown``: at once for
    in-process use (tests, embedding); the worker process passes
    ``temporal.graceful_shutdown_seconds`` so a deploy lets them finish.
    """
    interceptors = [*INTERCEPTORS, *worker_interceptors()]
    async with (
        autopilot_activities(config, client) as activities,
        # Every activity here too, for runs that carry no activity queues (domain.capacity).
        Worker(
            client,
            task_queue=config.temporal.task_queue,
            workflows=WORKFLOWS,
            activities=activities,
            interceptors=interceptors,
            workflow_runner=WORKFLOW_RUNNER,
            graceful_shutdown_timeout=graceful_shutdown,
            max_concurrent_activities=config.capacity.max_activities,
        ) as worker,
        kind_workers(client, config, activities, interceptors, graceful_shutdown),
    ):
        yield worker


async def run_worker(
    config: AutopilotConfig, stop: asyncio.Event, health_port: int | None = None
) -> None:
    connection = temporal_connection(config)
    client = await connection.connect()
    health = WorkerHealth(config.temporal.task_queue, connection.describe(), client)
    async with AsyncExitStack() as stack:
        port = health_port or config.temporal.health_port
        if port:
            await stack.enter_async_context(serving_health(health, "0.0.0.0", port))
        await stack.enter_async_context(worker_gauges(config, client))
        # SIGTERM lets running activities (a test run, a model call) finish first; only after
        # this long are they cancelled (and retried by another worker).
        graceful = timedelta(seconds=config.temporal.graceful_shutdown_seconds)
        async with running_worker(config, client, graceful_shutdown=graceful):
            await at_worker_start(client, config)
            await stack.enter_async_context(minimal_on_open_breakers(client, config))
            health.state = "serving"
            log.info(
                "worker started",
                task_queue=config.temporal.task_queue,
                temporal=connection.describe(),
                forge=config.forge.url,
                model=config.model.base_url,
                health_port=port,
            )
            await stop.wait()
            health.state = "draining"
            log.info(
                "worker stopping",
                graceful_shutdown_seconds=config.temporal.graceful_shutdown_seconds,
            )
    log.info("worker stopped")


async def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--config", help="config file (default: config/autopilot.yaml)")
    parser.add_argument(
        "--metrics-port", type=int, help="serve /metrics here (else telemetry.metrics_port)"
    )
    parser.add_argument(
        "--health-port", type=int, help="serve GET /healthz here (else temporal.health_port)"
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(path=Path(args.config) if args.config else None)
        token = config.forge_token()
        temporal_key = temporal_connection(config).api_key or ""
    except ConfigError as problem:
        print(f"autopilot worker: {problem}", file=sys.stderr)
        return 2
    configure_logging(
        config.logging.level,
        config.logging.json_format,
        secrets=[
            token,
            temporal_key,
            *(config.model_api_key(p) or "" for p in config.model.provider_names()),
        ],
    )
    metrics_port = args.metrics_port or config.telemetry.metrics_port or config.model.metrics_port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with worker_telemetry(config.telemetry, metrics_port):
            await run_worker(config, stop, args.health_port)
    except (ConfigError, TemporalConnectError, TelemetryError) as problem:
        print(f"autopilot worker: {problem}", file=sys.stderr)
        return 2
    except OSError as failure:  # the health port is taken
        print(f"autopilot worker: cannot serve health: {failure.strerror}", file=sys.stderr)
        return 2
    return 0


def main() -> None:
    code = asyncio.run(_main(sys.argv[1:]))
    sys.stdout.flush()
    sys.stderr.flush()
    # temporalio's Rust bridge can abort at interpreter exit; report our own status instead.
    os._exit(code)


if __name__ == "__main__":
    main()
