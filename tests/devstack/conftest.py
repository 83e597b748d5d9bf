"""Fixtures for the dev stack: free ports, a shared dev server, and logging state restored."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
import structlog
from temporalio import activity, workflow

from devstack.temporal_server import DevServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
async def dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    """One real dev server for tests that only need somewhere to run workflows."""
    server = DevServer(tmp_path_factory.mktemp("temporal"), port=free_port(), ui_port=free_port())
    await server.ensure_running()
    yield server
    await server.stop()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the next test."""
    root = logging.getLogger()
    level = root.level
    on_message = (
        activity.logger.activity_info_on_message,
        workflow.logger.workflow_info_on_message,
    )
    yield
    for handler in list(root.handlers):
        if handler.get_name() == "autopilot":
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()
    activity.logger.activity_info_on_message, workflow.logger.workflow_info_on_message = on_message
