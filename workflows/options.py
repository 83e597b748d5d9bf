"""Timeouts and retry policies for every activity call, in one place.

Forge writes are idempotent (find-or-create), model calls are paid for, test runs are long:
each family gets the budget and retry behaviour that fits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from domain import names

# Failures no retry can fix: the workflow handles them (comment, escalate, fail the stage).
PERMANENT_ERRORS = [
    names.ERR_INVALID_MODEL_OUTPUT,
    names.ERR_UNSAFE_EDIT,
    names.ERR_NOT_FOUND,
    names.ERR_UNAUTHORIZED,
    names.ERR_FORBIDDEN,
    names.ERR_INVALID_REQUEST,
    names.ERR_REPO_ARCHIVED,
    "ModelRequestRejected",
]


@dataclass(frozen=True)
class CallOptions:
    start_to_close: timedelta
    retry: RetryPolicy
    schedule_to_close: timedelta | None = None
    heartbeat: timedelta | None = None

    async def execute(
        self, activity: str, arg: Any, result_type: type | None, activity_id: str | None = None
    ) -> Any:
        """Run one activity (called by name, from workflow code) with these options."""
        return await workflow.execute_activity(
            activity,
            arg,
            result_type=result_type,
            activity_id=activity_id,
            start_to_close_timeout=self.start_to_close,
            schedule_to_close_timeout=self.schedule_to_close,
            heartbeat_timeout=self.heartbeat,
            retry_policy=self.retry,
        )


FORGE = CallOptions(
    start_to_close=timedelta(seconds=30),
    schedule_to_close=timedelta(minutes=30),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
        non_retryable_error_types=PERMANENT_ERRORS,
    ),
)

# Workers heartbeat every activity (workers/heartbeat.py): a dead worker's call is retried
# elsewhere after this long, not after its whole start-to-close timeout.
ACTIVITY_HEARTBEAT = timedelta(seconds=30)

MODEL = CallOptions(
    # One call includes its bounded re-asks; a slow local model may need minutes.
    start_to_close=timedelta(minutes=10),
    heartbeat=ACTIVITY_HEARTBEAT,
    schedule_to_close=timedelta(minutes=60),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
        maximum_attempts=6,
        non_retryable_error_types=PERMANENT_ERRORS,
    ),
)

GIT = CallOptions(
    start_to_close=timedelta(minutes=5),
    heartbeat=ACTIVITY_HEARTBEAT,
    schedule_to_close=timedelta(minutes=30),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=8,
        non_retryable_error_types=PERMANENT_ERRORS,
    ),
)

# Test runs heartbeat; the start-to-close budget is the repository's own timeout plus slack.
TEST_RUN_SLACK = timedelta(seconds=60)
TEST_RUN_HEARTBEAT = timedelta(seconds=30)
TEST_RUN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_attempts=3,
    non_retryable_error_types=PERMANENT_ERRORS,
)
