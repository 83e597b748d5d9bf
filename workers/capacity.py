"""Per-kind concurrency of a worker: test runs and environment builds, and model calls, each
on their own task queue with their own maximum (``capacity.*``, ``domain.capacity``).

The server queues what exceeds a maximum (schedule-to-start, not start-to-close: a test run
waiting for a slot does not eat its own timeout), and another worker with a free slot takes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from config.settings import AutopilotConfig
from domain.capacity import activity_kind, activity_queues


def _name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__temporal_activity_definition").name)


@asynccontextmanager
async def kind_workers(
    client: Client,
    config: AutopilotConfig,
    activities: Sequence[Callable[..., Any]],
    interceptors: Sequence[Interceptor],
    graceful_shutdown: timedelta,
) -> AsyncIterator[list[Worker]]:
    """One worker per kind, polling ``<task queue>-<kind>`` with that kind's maximum."""
    limits = {
        "heavy": config.capacity.max_heavy_activities,
        "model": config.capacity.max_model_activities,
    }
    queues = activity_queues(config.temporal.task_queue)
    async with AsyncExitStack() as stack:
        workers = []
        for kind, limit in limits.items():
            own = [fn for fn in activities if activity_kind(_name(fn)) == kind]
            worker = Worker(
                client,
                task_queue=queues[kind],
                activities=own,
                interceptors=interceptors,
                max_concurrent_activities=limit,
                graceful_shutdown_timeout=graceful_shutdown,
            )
            workers.append(await stack.enter_async_context(worker))
        yield workers
