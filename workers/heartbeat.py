"""Every activity heartbeats while it runs, so a worker that dies is noticed in seconds.

Without a heartbeat, Temporal learns of a crashed worker only when the activity's whole
start-to-close timeout (minutes for a model call or a git push) has passed. With it, the
heartbeat timeout set by the workflows (``workflows/options.py``) is enough, and another
worker retries the call. The SDK throttles the beats, so beating often is cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

BEAT_SECONDS = 5.0


class _Beating(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        if not asyncio.iscoroutinefunction(input.fn):
            return await super().execute_activity(input)
        beats = asyncio.create_task(_beat())
        try:
            return await super().execute_activity(input)
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats


async def _beat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(BEAT_SECONDS)


class HeartbeatInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Beating(next)
