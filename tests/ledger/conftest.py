"""The time-skipping server fixture, shared with the workflow tests, and the real dev server.

Runs paused on the global budget wait on a timer while the ledger, a workflow that never
completes, keeps the time-skipping server from skipping; those tests use the dev server.
"""

from collections.abc import AsyncIterator

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from devstack.forge.testing import free_port
from devstack.temporal_server import temporal_cli
from domain.names import SEARCH_ATTRIBUTES
from tests.workflows.conftest import time_skipping_env

__all__ = ["dev_server", "time_skipping_env"]


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
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
