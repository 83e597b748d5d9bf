from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.dev_server import running_dev_server


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server: Updates with validators, signal-with-start, continue-as-new."""
    async with running_dev_server() as env:
        yield env
