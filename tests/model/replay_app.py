"""The replay model server in this process, on a free loopback port, for one scenario text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from devstack.model_server.app import create_app
from devstack.model_server.scenario import load_scenario


@asynccontextmanager
async def serving(scenario: str, directory: Path) -> AsyncIterator[str]:
    """The server's ``/v1`` base URL while the block runs."""
    path = directory / "scenario.yaml"
    path.write_text(scenario)
    runner = web.AppRunner(create_app(load_scenario(path)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        await runner.cleanup()
