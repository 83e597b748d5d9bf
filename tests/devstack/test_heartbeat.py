"""The worker's heartbeat interceptor: a crashed worker's activity is retried within the
heartbeat timeout instead of its whole start-to-close timeout."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from devstack.temporal_server import temporal_cli
from workers import heartbeat
from workers.heartbeat import HeartbeatInterceptor

attempts: list[int] = []


@activity.defn(name="slow_then_fine")
async def slow_then_fine() -> str:
    attempts.append(activity.info().attempt)
    if activity.info().attempt == 1:
        await asyncio.sleep(3)  # longer than the heartbeat timeout: only beats keep it alive
    return "done"


@workflow.defn(name="HeartbeatProbe")
class HeartbeatProbe:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            "slow_then_fine",
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(maximum_attempts=2),
            result_type=str,
        )


async def test_a_slow_activity_stays_alive_only_through_the_interceptors_beats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(heartbeat, "BEAT_SECONDS", 0.2)
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli()
    ) as env:
        for interceptors, expected in (([HeartbeatInterceptor()], [1]), ([], [1, 2])):
            attempts.clear()
            queue = f"hb-{uuid.uuid4()}"
            async with Worker(
                env.client,
                task_queue=queue,
                workflows=[HeartbeatProbe],
                activities=[slow_then_fine],
                interceptors=interceptors,
            ):
                result = await env.client.execute_workflow(
                    HeartbeatProbe.run, id=f"hb-{uuid.uuid4()}", task_queue=queue
                )
            assert result == "done"
            # With beats the first attempt finishes; without, it times out and a retry runs.
            assert attempts == expected
