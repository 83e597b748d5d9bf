"""Timeouts and retry policies of every activity, in one table.

Forge writes are idempotent (find-or-create), model calls are paid for, test runs are long:
each family gets the budget and retry behaviour that fits it. ``TABLE`` names the options of
every activity; ``workflows.calls.Activities`` looks them up, so no call site picks its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from domain import names
from domain.capacity import MEMO_ACTIVITY_QUEUES, activity_kind
from workflows.mode import ModeGate

# Before it, a cancelled run ended at once, while a forge write it had started could still land.
WRITES_FINISH_ON_CANCEL = "writes-finish-on-cancel"

# Failures no retry can fix: the workflow handles them (comment, escalate, fail the stage).
PERMANENT_ERRORS = [
    names.ERR_INVALID_MODEL_OUTPUT,
    names.ERR_UNSAFE_EDIT,
    names.ERR_NOT_FOUND,
    names.ERR_UNAUTHORIZED,
    names.ERR_FORBIDDEN,
    names.ERR_INVALID_REQUEST,
    names.ERR_REPO_ARCHIVED,
    names.ERR_MODEL_REQUEST_REJECTED,
    names.ERR_SANDBOX_UNAVAILABLE,
]


@dataclass(frozen=True)
class CallOptions:
    start_to_close: timedelta
    retry: RetryPolicy
    schedule_to_close: timedelta | None = None
    heartbeat: timedelta | None = None
    # A write to the forge that is in flight when its run is cancelled is waited for: the run
    # ends after it, so its ending (and a set's compensation) sees what the write did.
    finish_on_cancel: bool = False

    def with_budget(self, *seconds: int) -> CallOptions:
        """The same policy for a call that may itself run for ``seconds`` (a test run, and
        the environment build it may need first)."""
        return replace(self, start_to_close=timedelta(seconds=sum(seconds)) + TEST_RUN_SLACK)

    async def execute(
        self,
        activity: str,
        arg: Any,
        result_type: type | None,
        activity_id: str | None = None,
        summary: str | None = None,
        *,
        held: bool = True,
    ) -> Any:
        """Run one activity (called by name, from workflow code) with these options. It is an
        activity boundary of the deployment's mode (``workflows.mode``): a run the mode holds
        waits here first, unless ``held=False`` (its own notice that it is held)."""
        gate = ModeGate.current() if held else None
        if gate is not None:
            await gate.before_activity(activity)
        finishing = self.finish_on_cancel and workflow.patched(WRITES_FINISH_ON_CANCEL)
        call = self._arguments(activity, result_type, activity_id, summary, finishing)
        if finishing:
            return await _finishing_on_cancel(workflow.start_activity(activity, arg, **call))
        return await workflow.execute_activity(activity, arg, **call)

    def _arguments(
        self,
        activity: str,
        result_type: type | None,
        activity_id: str | None,
        summary: str | None,
        finishing: bool,
    ) -> dict[str, Any]:
        return {
            "result_type": result_type,
            "activity_id": activity_id,
            "start_to_close_timeout": self.start_to_close,
            "schedule_to_close_timeout": self.schedule_to_close,
            "heartbeat_timeout": self.heartbeat,
            "retry_policy": self.retry,
            "cancellation_type": (
                workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
                if finishing
                else workflow.ActivityCancellationType.TRY_CANCEL
            ),
            "summary": summary,
            "task_queue": queue_for(activity),
        }


async def _finishing_on_cancel(handle: workflow.ActivityHandle[Any]) -> Any:
    """A cancellation of the run waits until the write has ended, then goes on as the
    cancellation it is (awaited plainly, the SDK would return the write's result instead)."""
    try:
        return await asyncio.shield(handle)
    except asyncio.CancelledError:
        handle.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await handle
        raise


def queue_for(activity: str) -> str | None:
    """The task queue of the activity's kind from the run's memo (``domain.capacity``);
    None: the workflow's own queue."""
    kind = activity_kind(activity)
    if kind is None:
        return None
    queues = workflow.memo_value(MEMO_ACTIVITY_QUEUES, default=None)
    return queues.get(kind) if isinstance(queues, dict) else None


# Workers heartbeat every activity (workers/heartbeat.py): a dead worker's call is retried
# elsewhere after this long, not after its whole start-to-close timeout.
ACTIVITY_HEARTBEAT = timedelta(seconds=30)
# Test runs: the start-to-close budget is the repository's own timeout plus this slack.
TEST_RUN_SLACK = timedelta(seconds=60)

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
FORGE_WRITE = replace(FORGE, finish_on_cancel=True)


def _model(
    schedule_to_close: timedelta, max_interval: timedelta, attempts: int, permanent: list[str]
) -> CallOptions:
    # One call includes its bounded re-asks; a slow local model may need minutes.
    return CallOptions(
        start_to_close=timedelta(minutes=10),
        heartbeat=ACTIVITY_HEARTBEAT,
        schedule_to_close=schedule_to_close,
        retry=RetryPolicy(
            initial_interval=timedelta(seconds=2),
            backoff_coefficient=2.0,
            maximum_interval=max_interval,
            maximum_attempts=attempts,
            non_retryable_error_types=permanent,
        ),
    )


MODEL = _model(timedelta(minutes=60), timedelta(minutes=2), 6, PERMANENT_ERRORS)
# With tiers, a provider that is down moves the call to the tier's backup (model_gateway.py);
# the primary gets fewer attempts than a lone provider would, since a backup is waiting.
_FAILOVER_PERMANENT = [*PERMANENT_ERRORS, names.ERR_PROVIDER_UNAVAILABLE]
MODEL_PRIMARY = _model(timedelta(minutes=30), timedelta(minutes=1), 4, _FAILOVER_PERMANENT)
MODEL_BACKUP = _model(timedelta(minutes=60), timedelta(minutes=2), 6, _FAILOVER_PERMANENT)

LEDGER = CallOptions(
    start_to_close=timedelta(seconds=30),
    schedule_to_close=timedelta(minutes=10),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
    ),
)

# Learning is best-effort: a record or recall that cannot get through soon is given up (the
# run goes on without it), never waited on for long.
LEARNING = CallOptions(
    start_to_close=timedelta(seconds=30),
    schedule_to_close=timedelta(minutes=2),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=20),
        maximum_attempts=5,
        non_retryable_error_types=PERMANENT_ERRORS,
    ),
)

# The recall stands in the way of planning: given up within seconds when the repository's
# learning workflow does not answer (no worker polls its queue, say); the plan goes on without.
RECALL = CallOptions(
    start_to_close=timedelta(seconds=10),
    schedule_to_close=timedelta(seconds=25),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_attempts=2,
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
GIT_PUSH = replace(GIT, finish_on_cancel=True)


# Pushing a mode to every running run: a listing and a signal each, heartbeating as it goes.
CONTROL = CallOptions(
    start_to_close=timedelta(minutes=10),
    heartbeat=ACTIVITY_HEARTBEAT,
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=30),
        non_retryable_error_types=PERMANENT_ERRORS,
    ),
)


# The background schedules' calls: listings and tidying, heartbeating; a failed round is
# retried a few times and otherwise left to the next round of the schedule.
OPERATIONS = CallOptions(
    start_to_close=timedelta(minutes=30),
    heartbeat=ACTIVITY_HEARTBEAT,
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=5),
        maximum_interval=timedelta(minutes=1),
        maximum_attempts=3,
        non_retryable_error_types=PERMANENT_ERRORS,
    ),
)


# Long calls outlive a few worker crashes (each noticed by its heartbeat); spent, they ask a person.
LONG_CALL_ATTEMPTS = 5


def _test_run(heartbeat_seconds: int, first_retry_seconds: int) -> CallOptions:
    """Test runs heartbeat; ``with_budget`` sets start-to-close from the repository's timeout."""
    return CallOptions(
        start_to_close=TEST_RUN_SLACK,
        heartbeat=timedelta(seconds=heartbeat_seconds),
        retry=RetryPolicy(
            initial_interval=timedelta(seconds=first_retry_seconds),
            maximum_attempts=LONG_CALL_ATTEMPTS,
            non_retryable_error_types=PERMANENT_ERRORS,
        ),
    )


TEST_RUN = _test_run(heartbeat_seconds=30, first_retry_seconds=2)
# A task's test run is noticed dead sooner: the task is short and its parent is waiting.
TASK_TEST_RUN = _test_run(heartbeat_seconds=10, first_retry_seconds=1)
# Building a repository's environment: ``with_budget`` sets start-to-close from its setup
# timeout. A failing setup command is a result, not an error; errors are git or the sandbox.
SETUP = _test_run(heartbeat_seconds=30, first_retry_seconds=2)
# One turn's tool calls: edits, searches and commands in the sandbox (``with_budget`` adds the
# run tool's timeout, and an environment build it may need first).
TOOLS = _test_run(heartbeat_seconds=30, first_retry_seconds=1)
# Integrating a conflict resolution runs the tests inside the call: test budget, git retries.
INTEGRATE = CallOptions(
    start_to_close=TEST_RUN_SLACK, heartbeat=TEST_RUN.heartbeat, retry=GIT.retry
)

# The options of every activity. A call may only lengthen start-to-close (``with_budget``).
TABLE: dict[str, CallOptions] = {
    names.GET_ISSUE: FORGE,
    names.GET_REPO: FORGE,
    names.ENSURE_LABELS: FORGE_WRITE,
    names.SET_ISSUE_LABELS: FORGE_WRITE,
    names.UPSERT_COMMENT: FORGE_WRITE,
    names.FIND_COMMENT: FORGE,
    names.OPEN_PULL_REQUEST: FORGE_WRITE,
    names.ENSURE_LINKED_ISSUE: FORGE_WRITE,
    names.PULL_VERDICT: FORGE,
    names.PULL_FEEDBACK: FORGE,
    names.UPDATE_PULL_SECTION: FORGE_WRITE,
    names.MERGE_PULL: FORGE_WRITE,
    names.CLOSE_PULL: FORGE_WRITE,
    names.DELETE_BRANCH: FORGE_WRITE,
    names.DRAFT_PLAN: MODEL,
    names.DRAFT_EDITS: MODEL,
    names.REVIEW_CHANGE: MODEL,
    names.RESOLVE_CONFLICT: MODEL,
    names.AGENT_TURN: MODEL,
    names.BUDGET_RESERVE: LEDGER,
    names.BUDGET_SETTLE: LEDGER,
    names.RECORD_OUTCOME: LEARNING,
    names.RECALL_LESSONS: RECALL,
    names.PREPARE_WORKSPACE: GIT,
    names.READ_FILES: GIT,
    names.APPLY_EDITS: GIT,
    names.DIFF_SUMMARY: GIT,
    names.SCAN_CHANGE: GIT,
    names.ENSURE_BRANCH: GIT_PUSH,
    names.REVERT_MERGE: GIT_PUSH,
    names.REPO_MAP: GIT,
    names.FILE_SIZES: GIT,
    names.RUN_TOOLS: TOOLS,
    names.RUN_TESTS: TEST_RUN,
    names.PREPARE_ENVIRONMENT: SETUP,
    names.INTEGRATE: INTEGRATE,
    names.BROADCAST_MODE: CONTROL,
    names.FIND_STUCK_RUNS: OPERATIONS,
    names.DELETE_DONE_BRANCHES: OPERATIONS,
    names.PRUNE_DISK: OPERATIONS,
    names.COST_REPORT: OPERATIONS,
}


def for_activity(activity: str) -> CallOptions:
    try:
        return TABLE[activity]
    except KeyError:
        raise KeyError(f"no call options for activity {activity!r} in workflows.options") from None
