"""BudgetLedgerWorkflow: the global model budget per hour, shared by every run and worker.

One long-running workflow with a well-known id (``domain.budget.LEDGER_WORKFLOW_ID``). Runs
reserve an estimate before each model call and settle the actual cost after it, through
Updates, which Temporal applies one at a time: two runs racing for the last dollars cannot
both get them. The window is the current hour of workflow time; history is bounded by
continue-as-new after a number of operations.

The limit follows the configuration: every reservation carries the limit of the worker that
sends it and when that worker loaded its configuration, and the latest configuration wins (an
older worker's, during a rolling deploy, does not undo it). A changed configured value replaces
the limit, also one raised by the ``raise_limit`` Update; an unchanged one leaves such a raise
alone. A lowered limit applies from the next reservation: calls already granted finish and are
settled, and runs are refused (they pause) until the hour's spending fits under it, usually
at the next hour. A higher limit, from the Update or the configuration, signals every run
refused since its last grant (``BUDGET_AVAILABLE_SIGNAL``), so it asks again at once instead of
at its next recheck. (Behind the ``WAKE_ON_RAISE`` patch: a ledger run that raised its limit
under older code keeps to the rechecks until it continues as new.)
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import FailureError

from domain.budget import (
    BUDGET_AVAILABLE_SIGNAL,
    RESERVATION_TTL,
    WINDOW,
    LedgerInput,
    LedgerState,
    RaiseLimitRequest,
    Reservation,
    ReserveGrant,
    ReserveRequest,
    SettleRequest,
    hour_window,
    may_spend,
)
from domain.names import (
    LEDGER_RAISE_LIMIT,
    LEDGER_RESERVE,
    LEDGER_SETTLE,
    LEDGER_SNAPSHOT,
    LEDGER_WORKFLOW,
)

MAX_SETTLED_IDS = 500  # settle is idempotent for the most recent ids
MAX_WAITING = 500  # runs remembered as refused, to wake on a raise (the oldest are dropped)
# Runs recorded before it were never signalled on a raise; they looked again on a timer.
WAKE_ON_RAISE = "ledger-wakes-refused-runs"


@workflow.defn(name=LEDGER_WORKFLOW)
class BudgetLedgerWorkflow:
    @workflow.init
    def __init__(self, input: LedgerInput) -> None:
        self._state = input.state.model_copy(deep=True)
        self._operations = 0
        self._signalling: set[asyncio.Task[None]] = set()

    @workflow.run
    async def run(self, input: LedgerInput) -> None:
        await workflow.wait_condition(
            lambda: (
                self._operations >= input.max_operations_per_run
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._signalling
        )
        workflow.continue_as_new(
            LedgerInput(state=self._state, max_operations_per_run=input.max_operations_per_run)
        )

    @workflow.update(name=LEDGER_RESERVE)
    def reserve(self, request: ReserveRequest) -> ReserveGrant:
        self._operations += 1
        now = self._roll(workflow.now())
        self._follow_configuration(request)
        state = self._state
        if request.reservation_id in state.reservations:  # a retried activity: same answer
            return self._grant(True, request.reservation_id, None)
        if not may_spend(
            state.limit_usd_per_hour, state.spent_usd, state.reserved_usd, request.amount_usd
        ):
            state.refused_calls += 1
            state.waiting.pop(request.holder, None)  # re-inserted: the newest last
            state.waiting[request.holder] = now
            if len(state.waiting) > MAX_WAITING:
                state.waiting.pop(next(iter(state.waiting)))
            return self._grant(False, request.reservation_id, self._next_window())
        state.reservations[request.reservation_id] = Reservation(
            holder=request.holder, amount_usd=request.amount_usd, reserved_at=now
        )
        state.waiting.pop(request.holder, None)
        state.granted_calls += 1
        return self._grant(True, request.reservation_id, None)

    @workflow.update(name=LEDGER_SETTLE)
    def settle(self, request: SettleRequest) -> LedgerState:
        self._operations += 1
        self._roll(workflow.now())
        state = self._state
        if request.reservation_id in state.settled:
            return state
        state.reservations.pop(request.reservation_id, None)
        state.spent_usd = round(state.spent_usd + request.actual_usd, 6)
        state.settled = [*state.settled, request.reservation_id][-MAX_SETTLED_IDS:]
        return state

    @workflow.update(name=LEDGER_RAISE_LIMIT)
    def raise_limit(self, request: RaiseLimitRequest) -> LedgerState:
        self._operations += 1
        self._roll(workflow.now())
        self._set_limit(request.limit_usd_per_hour, f"by {request.by}")
        return self._state

    @workflow.query(name=LEDGER_SNAPSHOT)
    def snapshot(self) -> LedgerState:
        return self._state

    def _follow_configuration(self, request: ReserveRequest) -> None:
        """The latest configuration wins; a changed configured limit replaces the limit."""
        limit, at, state = request.limit_usd_per_hour, request.configured_at, self._state
        if limit is None or at is None:
            return  # an older worker: its limit only started the ledger
        if state.configured_at is not None and at <= state.configured_at:
            return  # the same configuration again, or an older one
        changed = limit != state.configured_usd_per_hour
        state.configured_usd_per_hour, state.configured_at = limit, at
        if changed:
            self._set_limit(limit, f"by the configuration loaded at {at:%Y-%m-%d %H:%M:%S}")

    def _set_limit(self, limit: float, how: str) -> None:
        """Apply a new limit; a higher one wakes the runs refused since their last grant."""
        state = self._state
        raised = limit > state.limit_usd_per_hour
        if limit != state.limit_usd_per_hour:
            workflow.logger.info("global budget set to %.4f USD/hour %s", limit, how)
        state.limit_usd_per_hour = limit
        if raised and state.waiting and workflow.patched(WAKE_ON_RAISE):
            for holder in state.waiting:
                task = asyncio.create_task(self._wake(holder))
                self._signalling.add(task)
                task.add_done_callback(self._signalling.discard)
            state.waiting = {}

    async def _wake(self, holder: str) -> None:
        try:
            await workflow.get_external_workflow_handle(holder).signal(BUDGET_AVAILABLE_SIGNAL)
        except FailureError as err:  # finished meanwhile: nothing to wake
            workflow.logger.info("could not wake %s: %s", holder, err)

    def _roll(self, now: datetime) -> datetime:
        """Start a new window at the hour; drop reservations whose runs never settled."""
        window = hour_window(now)
        state = self._state
        if state.window_start != window:
            state.window_start = window
            state.spent_usd = 0.0
        state.reservations = {
            rid: r for rid, r in state.reservations.items() if now - r.reserved_at < RESERVATION_TTL
        }
        return now

    def _next_window(self) -> datetime:
        assert self._state.window_start is not None
        return self._state.window_start + WINDOW

    def _grant(self, granted: bool, reservation_id: str, retry_at: datetime | None) -> ReserveGrant:
        state = self._state
        return ReserveGrant(
            granted=granted,
            reservation_id=reservation_id,
            limit_usd=state.limit_usd_per_hour,
            spent_usd=state.spent_usd,
            reserved_usd=state.reserved_usd,
            retry_at=retry_at,
        )
