"""Gauges a worker reads from the world rather than from its own work.

``autopilot_runs_in_flight{stage}`` and ``autopilot_task_queue_backlog{task_type}`` come from
Temporal (visibility counts, task queue stats), so they are right across worker restarts and
however runs move between workers; every worker reports the same numbers (use ``max`` across
workers). ``autopilot_disk_used_ratio{volume}`` is the filesystem of workspaces/environments.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import get_args

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from config.settings import AutopilotConfig
from domain import metrics as names
from domain.names import ISSUE_WORKFLOW, SA_STAGE
from domain.run import Stage
from workers import telemetry

METER_NAME = "autopilot.worker.gauges"
POLL_SECONDS = 15.0
STAGES: tuple[str, ...] = get_args(Stage)
TASK_TYPES = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}
log = logging.getLogger("autopilot.telemetry")


def existing_parent(path: Path) -> Path:
    """The path, or its nearest existing ancestor (a fresh worker has no workspaces yet)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_used_ratio(path: Path) -> float:
    usage = shutil.disk_usage(existing_parent(path))
    return usage.used / usage.total if usage.total else 0.0


class WorldGauges:
    def __init__(self, client: Client, task_queue: str, volumes: dict[str, Path]) -> None:
        self._client = client
        self._task_queue = task_queue
        self._volumes = volumes
        self._in_flight: dict[str, int] = {}
        self._backlog: dict[str, int] = {}
        meter = metrics.get_meter(METER_NAME)
        meter.create_observable_gauge(
            names.RUNS_IN_FLIGHT,
            callbacks=[lambda _: self._observe(self._in_flight, "stage")],
            description="Issue runs running now, by stage (from Temporal visibility)",
        )
        meter.create_observable_gauge(
            names.TASK_QUEUE_BACKLOG,
            callbacks=[lambda _: self._observe(self._backlog, "task_type")],
            description="Tasks waiting for a worker on Autopilot's task queue",
        )
        meter.create_observable_gauge(
            names.DISK_USED,
            callbacks=[self._observe_disk],
            description="Used share of the filesystem holding workspaces or environments",
        )

    @staticmethod
    def _observe(values: dict[str, int], label: str) -> Iterable[Observation]:
        return [Observation(count, {label: key}) for key, count in dict(values).items()]

    def _observe_disk(self, _: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(disk_used_ratio(path), {"volume": volume})
            for volume, path in self._volumes.items()
        ]

    async def poll_once(self) -> None:
        for stage in STAGES:
            query = (
                f'WorkflowType="{ISSUE_WORKFLOW}" AND ExecutionStatus="Running" '
                f'AND {SA_STAGE.name}="{stage}"'
            )
            self._in_flight[stage] = (await self._client.count_workflows(query)).count
        for task_type, kind in TASK_TYPES.items():
            response = await self._client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self._client.namespace,
                    task_queue=TaskQueue(name=self._task_queue),
                    task_queue_type=kind,
                    report_stats=True,
                )
            )
            self._backlog[task_type] = response.stats.approximate_backlog_count

    async def poll(self, interval: float = POLL_SECONDS) -> None:
        while True:
            try:
                await self.poll_once()
            except RPCError as failure:  # Temporal away for a while: keep the last numbers
                log.warning("could not read run counts from Temporal: %s", failure)
            await asyncio.sleep(interval)


@asynccontextmanager
async def world_gauges(
    client: Client, task_queue: str, volumes: dict[str, Path], interval: float = POLL_SECONDS
) -> AsyncIterator[WorldGauges]:
    gauges = WorldGauges(client, task_queue, volumes)
    task = asyncio.create_task(gauges.poll(interval))
    try:
        yield gauges
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def worker_gauges(config: AutopilotConfig, client: Client) -> AsyncIterator[None]:
    """The gauges above while the worker runs, when it serves metrics at all."""
    if not telemetry.metrics_served():
        yield
        return
    volumes = {"workspaces": config.workspace.root, "environments": config.workspace.environments}
    async with world_gauges(client, config.temporal.task_queue, volumes):
        yield
