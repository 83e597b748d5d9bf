"""The exceptions that end a run or a stage, and how activity failures become them."""

from __future__ import annotations

import asyncio

from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    is_cancelled_exception,
)

from workflows import options


class StageFailed(Exception):
    """A stage cannot go on; the run ends with a comment saying why."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message


class RunCancelled(Exception):
    """A person sent ``cancel``: running tasks are cancelled and the run ends as cancelled."""


class SetFailed(Exception):
    """One repository of a cross-repository change failed or was rejected: the set stops."""


def permanent_message(err: ActivityError) -> str | None:
    """The message of a failure no retry can fix (``options.PERMANENT_ERRORS``), else None."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type in options.PERMANENT_ERRORS:
        return cause.message
    return None


def innermost(err: BaseException) -> str:
    """The innermost message of a child or activity failure."""
    while err.__cause__ is not None:
        err = err.__cause__
    if isinstance(err, asyncio.CancelledError):
        return "cancelled"
    return str(err) or type(err).__name__


def failure_of(failure: StageFailed | FailureError, stage: str) -> tuple[str, str]:
    """The stage that failed and why, for the failure comment; ``stage`` is the current one."""
    if isinstance(failure, StageFailed):
        return failure.stage, failure.message
    if isinstance(failure, ActivityError):
        message = permanent_message(failure)
        if message is not None:
            return stage, message
        return stage, f"retries ran out: {innermost(failure)}"
    return stage, innermost(failure)


def was_cancelled(failure: BaseException) -> bool:
    """A call that failed because it was cancelled (the run was), not because of its work."""
    cause = failure.__cause__
    return is_cancelled_exception(failure) or (cause is not None and is_cancelled_exception(cause))
