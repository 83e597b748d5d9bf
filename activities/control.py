"""The control workflow's activity, and the clients' way to read and set the mode.

``broadcast_mode`` lists the running runs (visibility) and signals each the new mode. A run
that ended between the listing and its signal is skipped; one that continued as new gets the
signal in its new run (signals go to the workflow id).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from domain import names
from domain.mode import BroadcastModeInput, ControlInput, ModeState, SetModeRequest


def running_query(input: BroadcastModeInput) -> str:
    kinds = ", ".join(f"'{kind}'" for kind in input.workflow_types)
    query = f"WorkflowType IN ({kinds}) AND ExecutionStatus = 'Running'"
    if input.started_after is not None:
        query += f" AND StartTime > '{input.started_after.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    return query


class ControlActivities:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name=names.BROADCAST_MODE)
    async def broadcast_mode(self, input: BroadcastModeInput) -> int:
        reached = 0
        async for run in self._client.list_workflows(running_query(input)):
            try:
                await self._client.get_workflow_handle(run.id).signal(
                    names.MODE_SIGNAL, input.state
                )
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                continue  # it ended meanwhile
            reached += 1
            activity.heartbeat(reached)
        return reached


RPC_TIMEOUT = timedelta(seconds=10)


async def current_mode(client: Client) -> ModeState:
    """The deployment's mode, from the control workflow's memo (no worker needed); ``normal``
    while no mode was ever set."""
    handle = client.get_workflow_handle(names.CONTROL_WORKFLOW_ID)
    try:
        described = await handle.describe(rpc_timeout=RPC_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return ModeState()
        raise
    state = await described.memo_value(names.CONTROL_MODE_MEMO, None, type_hint=ModeState)
    return state if isinstance(state, ModeState) else ModeState()


async def set_mode(client: Client, task_queue: str, request: SetModeRequest) -> ModeState:
    """Set the mode, starting the control workflow first if it is not running."""
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        names.CONTROL_WORKFLOW,
        ControlInput(),
        id=names.CONTROL_WORKFLOW_ID,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return await client.execute_update_with_start_workflow(
        names.CONTROL_SET_MODE, request, start_workflow_operation=start, result_type=ModeState
    )


async def ensure_control(client: Client, task_queue: str) -> None:
    """Start the control workflow unless it runs (the worker does this when it starts)."""
    await client.start_workflow(
        names.CONTROL_WORKFLOW,
        ControlInput(),
        id=names.CONTROL_WORKFLOW_ID,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
