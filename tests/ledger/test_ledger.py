"""The global budget ledger: grants under concurrency, hourly windows, continue-as-new."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.model.budget import BudgetActivities
from domain.budget import (
    LEDGER_SNAPSHOT,
    BudgetLimits,
    LedgerState,
    ModelRunSettings,
    ReserveRequest,
    SettleRequest,
)
from tests.ledger.probe import FakeModel, GatewayProbe, ProbeCall, ProbeInput, ProbeResult
from tests.ledger.test_gateway import ROUTING
from workflows.ledger import BudgetLedgerWorkflow

QUEUE = "ledger-tests"


def reserve(rid: str, amount: float) -> ReserveRequest:
    return ReserveRequest(reservation_id=rid, holder="test", amount_usd=amount)


async def test_racing_reservations_never_overspend(time_skipping_env: WorkflowEnvironment) -> None:
    env = time_skipping_env
    ledger_id = f"ledger-{uuid.uuid4()}"
    budget = BudgetActivities(env.client, QUEUE, 1.0, ledger_id=ledger_id)
    async with Worker(env.client, task_queue=QUEUE, workflows=[BudgetLedgerWorkflow]):
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
    from domain.budget import LEDGER_WORKFLOW, LedgerInput

    env = time_skipping_env
    ledger_id = f"ledger-{uuid.uuid4()}"
    budget = BudgetActivities(env.client, QUEUE, 10.0, ledger_id=ledger_id)
    async with Worker(env.client, task_queue=QUEUE, workflows=[BudgetLedgerWorkflow]):
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


@pytest.mark.skip(reason="hangs on the time-skipping server (paused runs waiting on timers); open")
async def test_concurrent_runs_share_the_global_budget(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    ledger_id = "autopilot:budget-ledger"
    budget = BudgetActivities(env.client, QUEUE, 1.0, ledger_id=ledger_id)
    model = FakeModel(cost_usd=0.4)
    settings = ModelRunSettings(routing=ROUTING, budget=BudgetLimits(global_usd_per_hour=1.0))
    input = ProbeInput(settings=settings, calls=[ProbeCall(stage="plan")] * 3)
    async with Worker(
        env.client,
        task_queue=QUEUE,
        workflows=[BudgetLedgerWorkflow, GatewayProbe],
        activities=[*model.activities(), budget.reserve, budget.settle],
    ):
        results: list[ProbeResult] = await asyncio.gather(
            *(
                env.client.execute_workflow(
                    GatewayProbe.run, input, id=f"probe-{uuid.uuid4()}", task_queue=QUEUE
                )
                for _ in range(3)
            )
        )
        state = await env.client.get_workflow_handle(ledger_id).query(
            LEDGER_SNAPSHOT, result_type=LedgerState
        )

    assert sum(r.status.total.calls for r in results) == 9
    paused = [p for r in results for p in r.pauses if p is not None]
    assert paused and all(p.scope == "global" for p in paused)
    assert state.refused_calls >= 1 and state.granted_calls == 9
    # Within any one hour: at most the limit plus the one call in flight when it ran out.
    assert state.spent_usd <= 1.0 + 0.4
