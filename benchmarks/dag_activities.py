"""The benchmark's only activity: a task that takes its scaled duration and does nothing."""

from __future__ import annotations

import asyncio

from temporalio import activity

from benchmarks.models import RunTaskInput

SLEEP_ACTIVITY = "bench_sleep_task"


@activity.defn(name=SLEEP_ACTIVITY)
async def sleep_task(input: RunTaskInput) -> None:
    await asyncio.sleep(input.units * input.unit_ms / 1000)
