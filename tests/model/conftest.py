"""Fixtures: the scripted OpenAI stand-in on a free port of 127.0.0.1, and providers aimed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from activities.model.openai_compat import OpenAICompatibleProvider
from tests.model.stub_openai import KEY, StubServer


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    server = StubServer()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.base_url = f"http://{host}:{port}/v1"
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def make_provider(stub: StubServer) -> AsyncIterator[Callable[..., OpenAICompatibleProvider]]:
    """Providers aimed at the stub (with the test key unless told otherwise), closed after."""
    made: list[OpenAICompatibleProvider] = []

    def make(
        base_url: str | None = None, api_key: str | None = KEY, timeout_seconds: float = 5.0
    ) -> OpenAICompatibleProvider:
        provider = OpenAICompatibleProvider(
            base_url or stub.base_url, "stub-model", api_key, timeout_seconds
        )
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()
