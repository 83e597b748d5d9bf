"""BudgetLedgerWorkflow: the global model budget per hour, shared by every run and worker.

One long-running workflow with a well-known id (``domain.budget.LEDGER_WORKFLOW_ID``). Runs
reserve an estimate before each model call and settle the actual cost after it, through
Updates, which Temporal applies one at a time: two runs racing for the last dollars cannot
both get them. The window is the current hour of workflow time; history is bounded by
continue-as-new after a number of operations.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

from domain.budget import (
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


@workflow.defn(name=LEDGER_WORKFLOW)
class BudgetLedgerWorkflow:
    @workflow.init
    def __init__(self, input: LedgerInput) -> None:
        self._state = input.state.model_copy(deep=True)
        self._operations = 0

    @workflow.run
    async def run(self, input: LedgerInput) -> None:
        await workflow.wait_condition(
            lambda: (
                self._operations >= input.max_operations_per_run
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            LedgerInput(state=self._state, max_operations_per_run=input.max_operations_per_run)
        )

    @workflow.update(name=LEDGER_RESERVE)
    def reserve(self, request: ReserveRequest) -> ReserveGrant:
        self._operations += 1
        now = self._roll(workflow.now())
        state = self._state
        if request.reservation_id in state.reservations:  # a retried activity: same answer
            return self._grant(True, request.reservation_id, None)
        if not may_spend(
            state.limit_usd_per_hour, state.spent_usd, state.reserved_usd, request.amount_usd
        ):
            state.refused_calls += 1
            return self._grant(False, request.reservation_id, self._next_window())
        state.reservations[request.reservation_id] = Reservation(
            holder=request.holder, amount_usd=request.amount_usd, reserved_at=now
        )
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
        workflow.logger.info(
            "global budget set to %.4f USD/hour by %s", request.limit_usd_per_hour, request.by
        )
        self._state.limit_usd_per_hour = request.limit_usd_per_hour
        return self._state

    @workflow.query(name=LEDGER_SNAPSHOT)
    def snapshot(self) -> LedgerState:
        return self._state

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
