"""A raise of the global budget wakes the runs it paused, at once, on the real dev server.

The paused run would look at the ledger again only after ``global_recheck_seconds`` (ten
minutes here); it finishes within seconds because the ledger signals the runs it refused when
its limit goes up, by the ``raise_limit`` Update or by a worker with a newer configuration.
Real time, not the time-skipping server: see ``tests/ledger/conftest.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.model.budget import BudgetActivities
from domain.budget import (
    BudgetLimits,
    BudgetRaise,
    LedgerState,
    ModelRunSettings,
    RaiseLimitRequest,
    ReserveRequest,
)
from domain.names import LEDGER_RAISE_LIMIT, LEDGER_SNAPSHOT
from domain.tiers import ModelRouting, TierModel
from tests.ledger.probe import FakeModel, GatewayProbe, ProbeCall, ProbeInput, ProbeResult
from tests.polling import eventually
from workflows.ledger import BudgetLedgerWorkflow
from workflows.runner import WORKFLOW_RUNNER

pytestmark = pytest.mark.timeout(120)

LIMIT_USD = 1.0
RAISED_USD = 10.0
RECHECK_SECONDS = 600.0  # far longer than the test waits: only a wake resumes the run
WOKEN_WITHIN_SECONDS = 15.0
HOUR_MARGIN_SECONDS = 60  # the ledger's window is the wall-clock hour: do not straddle it
SPEC = TierModel(provider="p", model="m", input_usd_per_mtok=1, output_usd_per_mtok=1)
ROUTING = ModelRouting(tiers={"fast": SPEC, "balanced": SPEC, "advanced": SPEC})


async def paused_on_the_global_budget(
    probe: WorkflowHandle[GatewayProbe, ProbeResult],
) -> None:
    status = await eventually(
        lambda: probe.query(GatewayProbe.status),
        lambda s: s.paused is not None,
        what="the probe pausing on the global budget",
    )
    assert status.paused is not None and status.paused.scope == "global"
    assert status.total.calls == 1  # the first call spent the hour's budget


@pytest.mark.parametrize("raised_by", ["update", "configuration"])
async def test_a_raise_wakes_the_runs_paused_on_the_global_budget(
    dev_server: WorkflowEnvironment, raised_by: str
) -> None:
    seconds_left = 3600 - (datetime.now(UTC).timestamp() % 3600)
    if seconds_left < HOUR_MARGIN_SECONDS:
        await asyncio.sleep(seconds_left + 1)

    client = dev_server.client
    queue = f"wakes-{uuid.uuid4()}"
    ledger_id = f"ledger-{uuid.uuid4()}"
    budget = BudgetActivities(client, queue, LIMIT_USD, ledger_id=ledger_id)
    model = FakeModel(cost_usd=LIMIT_USD)  # one call spends the whole hour
    settings = ModelRunSettings(
        routing=ROUTING,
        budget=BudgetLimits(global_usd_per_hour=LIMIT_USD),
        global_recheck_seconds=RECHECK_SECONDS,
    )
    input = ProbeInput(settings=settings, calls=[ProbeCall(stage="plan")] * 2)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BudgetLedgerWorkflow, GatewayProbe],
        activities=[*model.activities(), budget.reserve, budget.settle],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        ledger = client.get_workflow_handle(ledger_id)
        try:
            probe = await client.start_workflow(
                GatewayProbe.run, input, id=f"probe-{uuid.uuid4()}", task_queue=queue
            )
            await paused_on_the_global_budget(probe)
            with pytest.raises(WorkflowUpdateFailedError) as refused:  # not the run's to raise
                await probe.execute_update(
                    GatewayProbe.raise_budget, BudgetRaise(by="alice", issue_usd=5)
                )
            assert "global_usd_per_hour" in str(getattr(refused.value.cause, "message", ""))

            if raised_by == "update":
                request = RaiseLimitRequest(by="ops", limit_usd_per_hour=RAISED_USD)
                await ledger.execute_update(LEDGER_RAISE_LIMIT, request, result_type=LedgerState)
            else:  # a worker restarted with a higher limit makes its first reservation
                newer = BudgetActivities(client, queue, RAISED_USD, ledger_id=ledger_id)
                ops = ReserveRequest(
                    reservation_id=f"ops-{uuid.uuid4()}", holder="ops", amount_usd=0
                )
                assert (await newer.reserve(ops)).limit_usd == RAISED_USD

            result = await asyncio.wait_for(probe.result(), timeout=WOKEN_WITHIN_SECONDS)
            state = await ledger.query(LEDGER_SNAPSHOT, result_type=LedgerState)
        finally:
            await ledger.terminate("test finished")

    assert result.status.total.calls == 2 and result.status.paused is None
    assert [p.scope if p else None for p in result.pauses] == ["global", None]
    # The older worker's configuration (1.0) did not undo the raise when the run reserved again.
    assert state.limit_usd_per_hour == RAISED_USD and not state.waiting
    assert state.granted_calls == 2 + (raised_by == "configuration")
