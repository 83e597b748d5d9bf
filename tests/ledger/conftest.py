"""The time-skipping server fixture, shared with the workflow tests, and the real dev server.

Runs paused on the global budget wait on a timer while the ledger, a workflow that never
completes, keeps the time-skipping server from skipping; those tests use the dev server.
"""

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.dev_server import running_dev_server
from tests.workflows.conftest import time_skipping_env

__all__ = ["dev_server", "time_skipping_env"]


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    async with running_dev_server() as env:
        yield env
