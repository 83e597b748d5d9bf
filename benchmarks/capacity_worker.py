"""The benchmarked worker, in a process of its own so its memory is measured alone.

``python -m benchmarks.capacity_worker ADDRESS QUEUE MODEL_SECONDS`` serves IssueWorkflow and
TaskWorkflow on QUEUE with the production sandbox and per-kind workers (``workers.capacity``),
activities faked at the true boundary (forge, model, workspace), each model call taking
MODEL_SECONDS. It prints ``ready`` once polling and runs until terminated.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from config.settings import load_config
from domain.capacity import activity_kind
from tests.workflows.fakes import FakeWorld
from workers.capacity import kind_workers
from workflows.issue import IssueWorkflow
from workflows.runner import WORKFLOW_RUNNER
from workflows.task import TaskWorkflow


def slowed(fake: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    """The fake with a model's latency when it stands for a model call."""
    name = str(getattr(fake, "__temporal_activity_definition").name)
    if activity_kind(name) != "model":
        return fake

    @functools.wraps(fake, updated=())
    async def answer_later(input: Any) -> Any:
        await asyncio.sleep(seconds)
        return await fake(input)

    return activity.defn(name=name)(answer_later)


async def serve(address: str, queue: str, model_seconds: float) -> None:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    config = load_config(
        env={"AUTOPILOT_FORGE_TOKEN": "unused", "AUTOPILOT__TEMPORAL__TASK_QUEUE": queue}
    )
    activities = [slowed(a, model_seconds) for a in FakeWorld().activities()]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with (
        Worker(
            client,
            task_queue=queue,
            workflows=[IssueWorkflow, TaskWorkflow],
            activities=activities,
            workflow_runner=WORKFLOW_RUNNER,
            max_concurrent_activities=config.capacity.max_activities,
        ),
        kind_workers(client, config, activities, [], timedelta(0)),
    ):
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], float(sys.argv[3])))
    sys.stdout.flush()
    os._exit(0)  # temporalio's Rust bridge may abort during a normal interpreter exit
