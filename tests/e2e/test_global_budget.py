"""The global hourly budget on the real dev server: runs racing for its last dollars.

Several gateway probes start at once against one ledger. The ledger's Updates are applied one
at a time, so the hour is never overspent by more than the one call in flight when it ran out;
the losers pause (they do not fail), show a global pause in their status, and finish once a
person raises the limit. Real time, not the time-skipping server: a paused run waits on a timer
while the ledger, a workflow that never completes, keeps the time-skipping server from skipping.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.model.budget import BudgetActivities
from domain.budget import BudgetLimits, LedgerState, ModelRunSettings, RaiseLimitRequest
from domain.model import DraftPlanInput
from domain.names import LEDGER_RAISE_LIMIT, LEDGER_SNAPSHOT
from domain.tiers import ModelRouting, TierModel, estimate_call_usd
from tests.e2e.histories import save_history
from tests.ledger.probe import ISSUE, FakeModel, GatewayProbe, ProbeCall, ProbeInput, ProbeResult
from workflows.ledger import BudgetLedgerWorkflow
from workflows.model_gateway import DEFAULT_MAX_OUTPUT_TOKENS
from workflows.runner import WORKFLOW_RUNNER

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

LIMIT_USD = 1.0
RAISED_USD = 10.0
PROBES = 4
CALLS_PER_PROBE = 2  # 8 calls; about 5 fit in the hour
RECHECK_SECONDS = 1.0  # instead of 5 minutes: how soon a paused run sees the raise
# Priced so that one call's estimate is about a fifth of the limit.
SPEC = TierModel(provider="p", model="m", input_usd_per_mtok=40, output_usd_per_mtok=40)
ROUTING = ModelRouting(tiers={"fast": SPEC, "balanced": SPEC, "advanced": SPEC})
# What the gateway reserves per probe call; the fake model charges exactly that, the most an
# honest estimate allows, so the bound below is tight.
CALL_USD = estimate_call_usd(
    SPEC, len(DraftPlanInput(issue=ISSUE).model_dump_json()), DEFAULT_MAX_OUTPUT_TOKENS
)
HOUR_MARGIN_SECONDS = 20  # the ledger's window is the wall-clock hour: do not straddle it


async def ledger_state(client: Client, ledger_id: str) -> LedgerState:
    handle = client.get_workflow_handle(ledger_id)
    state: LedgerState = await handle.query(LEDGER_SNAPSHOT, result_type=LedgerState)
    return state


async def settled_for_the_hour(
    client: Client, ledger_id: str, probes: list[WorkflowHandle[GatewayProbe, ProbeResult]]
) -> tuple[LedgerState, dict[str, WorkflowExecutionStatus | None]]:
    """Wait until the budget is used up, nothing is in flight and every probe is done or paused."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        try:
            state = await ledger_state(client, ledger_id)
        except RPCError:  # not started yet: the ledger starts with the first reservation
            continue
        if state.reservations or state.spent_usd < LIMIT_USD:
            continue
        statuses = {p.id: (await p.describe()).status for p in probes}
        paused = {
            p.id: (await p.query(GatewayProbe.status)).paused
            for p in probes
            if statuses[p.id] == WorkflowExecutionStatus.RUNNING
        }
        if all(pause is not None for pause in paused.values()):
            return state, statuses
    raise AssertionError("the probes never settled into done-or-paused")


async def test_racing_runs_share_the_global_budget_and_pause_until_it_is_raised(
    temporal: WorkflowEnvironment,
) -> None:
    seconds_left = 3600 - (datetime.now(UTC).timestamp() % 3600)
    if seconds_left < HOUR_MARGIN_SECONDS:
        await asyncio.sleep(seconds_left + 1)

    client = temporal.client
    queue = f"global-budget-{uuid.uuid4()}"
    ledger_id = f"ledger-{uuid.uuid4()}"
    budget = BudgetActivities(client, queue, LIMIT_USD, ledger_id=ledger_id)
    model = FakeModel(cost_usd=CALL_USD)
    settings = ModelRunSettings(
        routing=ROUTING,
        budget=BudgetLimits(global_usd_per_hour=LIMIT_USD),
        global_recheck_seconds=RECHECK_SECONDS,
    )
    input = ProbeInput(settings=settings, calls=[ProbeCall(stage="plan")] * CALLS_PER_PROBE)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BudgetLedgerWorkflow, GatewayProbe],
        activities=[*model.activities(), budget.reserve, budget.settle],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        try:
            probes = await asyncio.gather(
                *(
                    client.start_workflow(
                        GatewayProbe.run, input, id=f"probe-{uuid.uuid4()}", task_queue=queue
                    )
                    for _ in range(PROBES)
                )
            )
            state, statuses = await settled_for_the_hour(client, ledger_id, probes)

            # At most the limit plus the one call in flight when it ran out.
            assert LIMIT_USD <= state.spent_usd <= LIMIT_USD + CALL_USD + 1e-9
            assert state.granted_calls == len(model.seen) < PROBES * CALLS_PER_PROBE
            assert state.refused_calls >= 1
            losers = [p for p in probes if statuses[p.id] == WorkflowExecutionStatus.RUNNING]
            assert losers, "every probe finished: nobody raced for the last dollars"
            for loser in losers:  # paused, not failed, and saying why
                pause = (await loser.query(GatewayProbe.status)).paused
                assert pause is not None and pause.scope == "global"
                assert pause.limit_usd == LIMIT_USD and 0 < pause.spent_usd <= state.spent_usd

            raise_limit = RaiseLimitRequest(by="ops", limit_usd_per_hour=RAISED_USD)
            ledger = client.get_workflow_handle(ledger_id)
            await ledger.execute_update(LEDGER_RAISE_LIMIT, raise_limit, result_type=LedgerState)
            results = await asyncio.wait_for(
                asyncio.gather(*(p.result() for p in probes)), timeout=15
            )
            final = await ledger_state(client, ledger_id)
            await save_history(client, ledger_id, "raced_and_raised", settle=True)
        finally:
            await client.get_workflow_handle(ledger_id).terminate("test finished")

    assert [r.status.total.calls for r in results] == [CALLS_PER_PROBE] * PROBES
    assert final.granted_calls == PROBES * CALLS_PER_PROBE and not final.reservations
    assert final.spent_usd == pytest.approx(PROBES * CALLS_PER_PROBE * CALL_USD)
    for probe, result in zip(probes, results, strict=True):
        scopes = [p.scope if p else None for p in result.pauses]
        assert result.status.paused is None
        if probe in losers:  # announced once, and resumed once the ledger granted again
            assert scopes == ["global", None]
        else:
            assert scopes == []
