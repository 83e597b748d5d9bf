"""``forge.timeout_seconds`` bounds every forge request the worker makes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from activities.forge.errors import GiteaError
from config.settings import load_config
from domain.issue import RepoRef
from workers.main import forge_activities


@pytest.fixture
async def silent_forge() -> AsyncIterator[str]:
    """Accepts connections and reads requests, but never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    for writer in held:
        writer.close()
    server.close()


async def test_the_configured_timeout_reaches_the_workers_forge_client(silent_forge: str) -> None:
    env = {
        "AUTOPILOT__FORGE__URL": silent_forge,
        "AUTOPILOT__FORGE__TIMEOUT_SECONDS": "0.5",
        "AUTOPILOT_FORGE_TOKEN": "t0ken-for-tests",
    }
    config = load_config(env=env)
    acts = forge_activities(config)
    client = acts.client_for(RepoRef(forge_url=silent_forge, owner="acme", name="app"))
    started = time.monotonic()
    try:
        with pytest.raises(GiteaError) as caught:
            await client.get_repo("acme", "app")
    finally:
        await acts.aclose()
    assert time.monotonic() - started < 5, "the 30 s default was used, not the setting"
    assert not caught.value.non_retryable
