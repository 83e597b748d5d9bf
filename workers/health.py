"""The worker's health endpoint: ``GET /healthz`` (``temporal.health_port``, ``--health-port``).

200 ``{"status": "serving", ...}`` while the worker polls its task queue and Temporal answers,
and 200 ``"draining"`` once SIGTERM arrived (running activities are finishing, no new work is
taken: a liveness probe must not kill it early). 503 ``"starting"`` before the worker polls, and
503 ``"temporal unreachable"`` when the server does not answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from temporalio.client import Client

HEALTH_PATH = "/healthz"
# A probe must answer well inside an orchestrator's own probe timeout.
TEMPORAL_CHECK_SECONDS = 3.0

State = Literal["starting", "serving", "draining"]


@dataclass
class WorkerHealth:
    """What the endpoint reports; the worker moves ``state`` along as it starts and stops."""

    task_queue: str
    temporal: str
    client: Client | None = None
    state: State = "starting"

    async def answer(self) -> tuple[int, dict[str, object]]:
        body: dict[str, object] = {
            "status": self.state,
            "task_queue": self.task_queue,
            "temporal": self.temporal,
        }
        if self.state != "serving" or self.client is None:
            return (200 if self.state == "draining" else 503), body
        try:
            reachable = await asyncio.wait_for(
                self.client.service_client.check_health(), TEMPORAL_CHECK_SECONDS
            )
        except Exception:  # any failure to answer is "unreachable" to a probe
            reachable = False
        if not reachable:
            body["status"] = "temporal unreachable"
            return 503, body
        return 200, body


async def _handle(request: web.Request) -> web.Response:
    health: WorkerHealth = request.app[HEALTH_KEY]
    status, body = await health.answer()
    return web.json_response(body, status=status)


HEALTH_KEY = web.AppKey("health", WorkerHealth)


@asynccontextmanager
async def serving_health(health: WorkerHealth, host: str, port: int) -> AsyncIterator[None]:
    """Serve ``GET /healthz`` on ``host:port`` until the block ends; OSError if it cannot bind."""
    app = web.Application()
    app[HEALTH_KEY] = health
    app.router.add_get(HEALTH_PATH, _handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield
    finally:
        await runner.cleanup()
