"""Starts a worker whose Temporal runtime forwards core logs, in a process of its own.

Rust's logging subscriber is global to a process: the first runtime that forwards core logs
keeps them. The test runs this probe as a fresh interpreter so no earlier test's runtime can
take the lines. It writes the JSON log to stderr and stops once a core line came through.
"""

from __future__ import annotations

import asyncio
import os
import sys

from temporalio import activity
from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.worker import Worker

from tests.dev_server import running_dev_server
from workers.observability import configure_logging
from workers.telemetry import core_logging

QUEUE = "core-logs"
HOLD_SECONDS = 2.5  # core hands its lines over in batches


@activity.defn
async def idle() -> None:
    """A worker needs something to poll for."""


async def main() -> None:
    configure_logging("INFO")
    # The worker's own configuration, at INFO so that starting a worker says something.
    runtime = Runtime(telemetry=TelemetryConfig(logging=core_logging("INFO")))
    async with running_dev_server() as env:
        target = env.client.service_client.config.target_host
        client = await Client.connect(target, runtime=runtime)
        async with Worker(client, task_queue=QUEUE, activities=[idle]):
            await asyncio.sleep(HOLD_SECONDS)


if __name__ == "__main__":
    asyncio.run(main())
    sys.stderr.flush()
    os._exit(0)  # the Rust bridge can abort at interpreter exit after all work succeeded
