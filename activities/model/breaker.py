"""A circuit breaker per provider, kept in the worker process (never in workflow code).

Closed: calls go through and consecutive transient failures are counted. After
``failure_threshold`` of them it opens: calls fail fast with the non-retryable
``ProviderUnavailable``, so the workflow moves the call to the backup provider instead of
waiting out retries. After ``cooldown_seconds`` it half-opens: one trial call decides whether
it closes again or re-opens for another cooldown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from temporalio.exceptions import ApplicationError

from activities.model.provider import (
    ModelProvider,
    ProviderAnswer,
    StructuredRequest,
    ToolAnswer,
    ToolProvider,
    ToolRequest,
)
from domain.names import ERR_MODEL_REQUEST_REJECTED, ERR_MODEL_UNAVAILABLE, ERR_PROVIDER_UNAVAILABLE

A = TypeVar("A")

BreakerState = Literal["closed", "open", "half_open"]
DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_COOLDOWN_SECONDS = 30.0
log = logging.getLogger("autopilot.model.breaker")


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._down_since: float | None = None  # first opening since it last closed
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._cooldown:
            return "half_open"
        return "open"

    def open_for(self) -> float:
        """Seconds since it opened, re-openings included; 0 while closed."""
        return 0.0 if self._down_since is None else self._clock() - self._down_since

    def before_call(self) -> None:
        """Raise ProviderUnavailable unless a call may go out now."""
        state = self.state
        if state == "closed":
            return
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return
        assert self._opened_at is not None
        wait = max(0.0, self._cooldown - (self._clock() - self._opened_at))
        raise ApplicationError(
            f"provider {self.name!r} is unavailable: {self._failures} consecutive failures; "
            f"next trial in {wait:.0f}s",
            type=ERR_PROVIDER_UNAVAILABLE,
            non_retryable=True,
        )

    def record_success(self) -> None:
        if self._opened_at is not None:
            log.info("circuit of provider %s closed", self.name)
        self._failures = 0
        self._opened_at = None
        self._down_since = None
        self._trial_running = False

    def record_failure(self) -> None:
        self._failures += 1
        trial_failed = self._trial_running
        self._trial_running = False
        if trial_failed or (self._opened_at is None and self._failures >= self._threshold):
            self._opened_at = self._clock()
            if self._down_since is None:
                self._down_since = self._opened_at
            log.warning(
                "circuit of provider %s opened after %d failures", self.name, self._failures
            )

    def release_trial(self) -> None:
        """A trial that ended without telling anything (a rejected request) frees the slot."""
        self._trial_running = False


class BreakerProvider:
    """A provider behind its breaker: transient failures count, rejections do not."""

    def __init__(self, inner: ModelProvider, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker

    async def complete(self, request: StructuredRequest) -> ProviderAnswer:
        return await self._guarded(lambda: self.inner.complete(request))

    async def converse(self, request: ToolRequest) -> ToolAnswer:
        inner = self.inner
        if not isinstance(inner, ToolProvider):
            raise no_tool_calls(self.breaker.name)
        return await self._guarded(lambda: inner.converse(request))

    async def _guarded(self, call: Callable[[], Awaitable[A]]) -> A:
        self.breaker.before_call()
        try:
            answer = await call()
        except ApplicationError as err:
            if err.type == ERR_MODEL_UNAVAILABLE:
                self.breaker.record_failure()
            else:
                self.breaker.release_trial()
            raise
        except BaseException:
            self.breaker.release_trial()
            raise
        self.breaker.record_success()
        return answer


def no_tool_calls(provider: str) -> ApplicationError:
    """A provider client that cannot make tool calls: permanent, no retry can change it."""
    return ApplicationError(
        f"provider {provider!r} does not support tool calls",
        type=ERR_MODEL_REQUEST_REJECTED,
        non_retryable=True,
    )
