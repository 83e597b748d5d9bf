"""The global budget ledger: grants under concurrency, hourly windows, continue-as-new.

Runs racing for the global budget through the gateway: tests/e2e/test_global_budget.py.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.model.budget import BudgetActivities
from domain.budget import LedgerState, RaiseLimitRequest, ReserveRequest, SettleRequest
from domain.names import LEDGER_RAISE_LIMIT, LEDGER_SNAPSHOT
from workflows.ledger import BudgetLedgerWorkflow
from workflows.runner import WORKFLOW_RUNNER

QUEUE = "ledger-tests"


def reserve(rid: str, amount: float) -> ReserveRequest:
    return ReserveRequest(reservation_id=rid, holder="test", amount_usd=amount)


async def test_racing_reservations_never_overspend(time_skipping_env: WorkflowEnvironment) -> None:
    env = time_skipping_env
    ledger_id = f"ledger-{uuid.uuid4()}"
    budget = BudgetActivities(env.client, QUEUE, 1.0, ledger_id=ledger_id)
    async with Worker(
        env.client,
        task_queue=QUEUE,
        workflows=[BudgetLedgerWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        grants = await asyncio.gather(*(budget.reserve(reserve(f"r{i}", 0.3)) for i in range(10)))
        won = [g.reservation_id for g in grants if g.granted]
        assert len(won) == 3  # 0.9 of 1.0 reserved; a fourth would not fit beside them
        assert all(g.retry_at is not None for g in grants if not g.granted)
        again = await budget.reserve(reserve(won[0], 0.3))  # a retried activity
        assert again.granted

        for rid in won:
            await budget.settle(SettleRequest(reservation_id=rid, actual_usd=0.3))
            await budget.settle(SettleRequest(reservation_id=rid, actual_usd=0.3))  # idempotent
        last = await budget.reserve(reserve("last", 0.3))
        assert last.granted  # alone and something left: the one call allowed to overrun
        await budget.settle(SettleRequest(reservation_id="last", actual_usd=0.3))
        assert not (await budget.reserve(reserve("over", 0.01))).granted

        state = await env.client.get_workflow_handle(ledger_id).query(
            LEDGER_SNAPSHOT, result_type=LedgerState
        )
        assert state.spent_usd == 1.2 and not state.reservations

        await env.sleep(timedelta(hours=1))
        assert (await budget.reserve(reserve("next-hour", 0.3))).granted


async def test_ledger_continues_as_new_and_keeps_its_books(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    from domain.budget import LedgerInput
    from domain.names import LEDGER_WORKFLOW

    env = time_skipping_env
    ledger_id = f"ledger-{uuid.uuid4()}"
    budget = BudgetActivities(env.client, QUEUE, 10.0, ledger_id=ledger_id)
    async with Worker(
        env.client,
        task_queue=QUEUE,
        workflows=[BudgetLedgerWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        first = await env.client.start_workflow(
            LEDGER_WORKFLOW,
            LedgerInput(state=LedgerState(limit_usd_per_hour=10.0), max_operations_per_run=4),
            id=ledger_id,
            task_queue=QUEUE,
        )
        for i in range(6):
            await budget.reserve(reserve(f"r{i}", 1.0))
            await budget.settle(SettleRequest(reservation_id=f"r{i}", actual_usd=1.0))
        handle = env.client.get_workflow_handle(ledger_id)
        state = await handle.query(LEDGER_SNAPSHOT, result_type=LedgerState)
        described = await handle.describe()

    assert state.spent_usd == 6.0 and state.granted_calls == 6
    assert described.run_id != first.first_execution_run_id


async def test_the_latest_configuration_sets_the_limit_and_a_raise_survives_an_unchanged_one(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    ledger_id = f"ledger-{uuid.uuid4()}"
    loaded = datetime(2026, 1, 1, tzinfo=UTC)

    def worker(limit: float, minutes: int) -> BudgetActivities:
        """A worker whose configuration (``limit``) was loaded ``minutes`` after ``loaded``."""
        at = loaded + timedelta(minutes=minutes)
        return BudgetActivities(env.client, QUEUE, limit, ledger_id=ledger_id, configured_at=at)

    async with Worker(
        env.client,
        task_queue=QUEUE,
        workflows=[BudgetLedgerWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        first = await worker(1.0, 0).reserve(reserve("r1", 0.6))
        assert first.granted and first.limit_usd == 1.0
        # The ledger exists; a worker restarted with a lower limit lowers it at once. What was
        # granted stays granted; nothing more fits until the hour's spending is under it.
        lowered = await worker(0.5, 10).reserve(reserve("r2", 0.1))
        assert not lowered.granted and lowered.limit_usd == 0.5 and lowered.retry_at is not None
        await worker(0.5, 10).settle(SettleRequest(reservation_id="r1", actual_usd=0.6))
        assert not (await worker(0.5, 10).reserve(reserve("r3", 0.1))).granted
        # A worker still on the older configuration (a rolling deploy) does not undo it.
        stale = await worker(1.0, 0).reserve(reserve("r4", 0.1))
        assert not stale.granted and stale.limit_usd == 0.5

        handle = env.client.get_workflow_handle(ledger_id)
        raised = RaiseLimitRequest(by="ops", limit_usd_per_hour=3.0)
        await handle.execute_update(LEDGER_RAISE_LIMIT, raised, result_type=LedgerState)
        # The same configuration, reloaded later (a restart), leaves the raise alone...
        again = await worker(0.5, 20).reserve(reserve("r5", 0.1))
        assert again.granted and again.limit_usd == 3.0
        # ...a changed configuration replaces it, the latest one winning.
        changed = await worker(2.0, 30).reserve(reserve("r6", 0.1))
        assert changed.granted and changed.limit_usd == 2.0
        state = await handle.query(LEDGER_SNAPSHOT, result_type=LedgerState)

    assert state.configured_usd_per_hour == 2.0
    assert state.configured_at == loaded + timedelta(minutes=30)
    assert state.refused_calls == 3 and not state.waiting  # granted since: nobody to wake
