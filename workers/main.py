"""The Autopilot worker: every workflow and activity on one task queue, configured from config/."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.forge.cross_repo import CrossRepoForgeActivities
from activities.model.factory import budget_activities, build_model_activities
from activities.model.metrics import serve_prometheus
from activities.workspace.activities import WorkspaceActivities
from activities.workspace.revert import RevertActivities
from config.settings import AutopilotConfig, ConfigError, load_config
from workers.heartbeat import HeartbeatInterceptor
from workers.observability import configure_logging
from workflows.cross_repo import CrossRepoWorkflow
from workflows.issue import IssueWorkflow
from workflows.ledger import BudgetLedgerWorkflow
from workflows.runner import WORKFLOW_RUNNER
from workflows.task import TaskWorkflow

INTERCEPTORS = [HeartbeatInterceptor()]
WORKFLOWS = [IssueWorkflow, TaskWorkflow, BudgetLedgerWorkflow, CrossRepoWorkflow]
log = structlog.get_logger("autopilot.worker")


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def forge_token_lookup(config: AutopilotConfig) -> Callable[[str], str | None]:
    """The forge token goes only to the configured forge, never to another host."""
    token = config.forge_token()
    forge = _origin(config.forge.url)
    return lambda url: token if _origin(url) == forge else None


@asynccontextmanager
async def autopilot_activities(
    config: AutopilotConfig, client: Client
) -> AsyncIterator[list[Callable[..., Any]]]:
    """All activity callables, with their pooled clients closed afterwards."""
    token_for = forge_token_lookup(config)
    forge = CrossRepoForgeActivities(lambda url: token_for(url) or "")
    model = build_model_activities(config)  # tiers, breakers, cache, metrics
    workspace = WorkspaceActivities(
        root=config.workspace.root,
        token_for=token_for,
        max_edit_bytes=config.workspace.max_edit_bytes,
        sandbox=config.sandbox,
        environments_root=config.workspace.environments,
    )
    revert = RevertActivities(root=config.workspace.root / "reverts", token_for=token_for)
    try:
        yield [
            forge.get_issue,
            forge.get_repo,
            forge.ensure_labels,
            forge.set_issue_labels,
            forge.upsert_comment,
            forge.open_pull_request,
            forge.ensure_linked_issue,
            forge.pull_verdict,
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
            workspace.run_tools,
            workspace.repo_map,
            workspace.ensure_branch,
            workspace.integrate,
            model.resolve_conflict,
            *budget_activities(client, config),
        ]
    finally:
        await forge.aclose()
        await model.aclose()


async def connect(config: AutopilotConfig) -> Client:
    return await Client.connect(
        config.temporal.address,
        namespace=config.temporal.namespace,
        data_converter=pydantic_data_converter,
    )


@asynccontextmanager
async def running_worker(config: AutopilotConfig, client: Client) -> AsyncIterator[Worker]:
    """Every workflow and activity, polling the configured task queue until the block ends."""
    async with (
        autopilot_activities(config, client) as activities,
        Worker(
            client,
            task_queue=config.temporal.task_queue,
            workflows=WORKFLOWS,
            activities=activities,
            interceptors=INTERCEPTORS,
            workflow_runner=WORKFLOW_RUNNER,
        ) as worker,
    ):
        yield worker


async def run_worker(config: AutopilotConfig, stop: asyncio.Event) -> None:
    client = await connect(config)
    async with running_worker(config, client):
        log.info(
            "worker started",
            task_queue=config.temporal.task_queue,
            temporal=config.temporal.address,
            forge=config.forge.url,
            model=config.model.base_url,
        )
        await stop.wait()
    log.info("worker stopped")


async def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--config", help="config file (default: config/autopilot.yaml)")
    parser.add_argument(
        "--metrics-port", type=int, help="serve Prometheus /metrics here (else model.metrics_port)"
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(path=Path(args.config) if args.config else None)
        token = config.forge_token()
    except ConfigError as problem:
        print(f"autopilot worker: {problem}", file=sys.stderr)
        return 2
    configure_logging(
        config.logging.level,
        config.logging.json_format,
        secrets=[token, *(config.model_api_key(p) or "" for p in config.model.provider_names())],
    )
    metrics_port = args.metrics_port or config.model.metrics_port
    if metrics_port:
        serve_prometheus(metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await run_worker(config, stop)
    except RuntimeError as failure:
        # Client.connect raises RuntimeError when the server cannot be reached.
        print(
            f"autopilot worker: cannot reach Temporal at {config.temporal.address}: {failure}",
            file=sys.stderr,
        )
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
