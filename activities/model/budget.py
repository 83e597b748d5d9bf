"""Activities that speak to the global BudgetLedgerWorkflow: ``budget.reserve``, ``budget.settle``.

Workflows cannot send Updates to other workflows, so the gateway asks through these. The
ledger is started on first use (its well-known id makes a second start a no-op). Every
reservation carries this worker's configured limit and when the configuration was loaded, so
the ledger follows the latest configuration (see ``workflows/ledger.py``).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.budget import LedgerInput, LedgerState, ReserveGrant, ReserveRequest, SettleRequest
from domain.names import (
    BUDGET_RESERVE,
    BUDGET_SETTLE,
    LEDGER_RESERVE,
    LEDGER_SETTLE,
    LEDGER_WORKFLOW,
    LEDGER_WORKFLOW_ID,
)


class BudgetActivities:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        limit_usd_per_hour: float,
        ledger_id: str = LEDGER_WORKFLOW_ID,
        configured_at: datetime | None = None,
    ) -> None:
        """``configured_at``: when the configuration holding the limit was loaded (now)."""
        self._client = client
        self._task_queue = task_queue
        self._limit = limit_usd_per_hour
        self._ledger_id = ledger_id
        self._configured_at = configured_at or datetime.now(UTC)

    @activity.defn(name=BUDGET_RESERVE)
    async def reserve(self, request: ReserveRequest) -> ReserveGrant:
        # The worker's configuration, not the one the run started with: it may be days old.
        request = request.model_copy(
            update={"limit_usd_per_hour": self._limit, "configured_at": self._configured_at}
        )
        handle = await self._ledger(self._limit)
        return await handle.execute_update(LEDGER_RESERVE, request, result_type=ReserveGrant)

    @activity.defn(name=BUDGET_SETTLE)
    async def settle(self, request: SettleRequest) -> None:
        handle = await self._ledger(self._limit)
        await handle.execute_update(LEDGER_SETTLE, request, result_type=LedgerState)

    async def _ledger(self, limit: float) -> WorkflowHandle[object, object]:
        with contextlib.suppress(WorkflowAlreadyStartedError):  # usually already running
            await self._client.start_workflow(
                LEDGER_WORKFLOW,
                LedgerInput(state=LedgerState(limit_usd_per_hour=limit)),
                id=self._ledger_id,
                task_queue=self._task_queue,
            )
        return self._client.get_workflow_handle(self._ledger_id)
