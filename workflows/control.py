"""ControlWorkflow: the deployment's one mode (``domain.mode``), set by an Update.

One per namespace (``names.CONTROL_WORKFLOW_ID``), running for ever with continue-as-new.
``set_mode`` records the mode, who set it and when; the workflow then pushes it to every
running IssueWorkflow, TaskWorkflow and CrossRepoWorkflow (``control.broadcast_mode``), and
until the next change every few seconds to the runs started since (a run ignores a state it
already has), so no run misses the mode however it was started. ``mode`` answers the current
state; the memo holds it too, for clients that must not depend on a worker answering a query.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from domain import names
from domain.mode import BroadcastModeInput, ControlInput, ModeState, SetModeRequest
from workflows.calls import Activities

# After a push, runs started since are pushed the mode this often (a cross-repository set's
# runs, runs started by hand), listing from this long before the last listing.
PUSH_NEW_RUNS_EVERY = timedelta(seconds=10)
VISIBILITY_LAG = timedelta(seconds=30)
# Mode changes kept in one history before continuing as new.
CHANGES_PER_RUN = 200


@workflow.defn(name=names.CONTROL_WORKFLOW)
class ControlWorkflow:
    @workflow.init
    def __init__(self, input: ControlInput) -> None:
        self._state = input.state
        self._unsent = input.unsent
        self._changes = 0
        self._calls = Activities(lambda: "broadcast")

    @workflow.run
    async def run(self, input: ControlInput) -> None:
        while not self._time_to_continue():
            await workflow.wait_condition(lambda: self._unsent or self._time_to_continue())
            if self._unsent:
                await self._push()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(ControlInput(state=self._state, unsent=self._unsent))

    def _time_to_continue(self) -> bool:
        return self._changes >= CHANGES_PER_RUN or workflow.info().is_continue_as_new_suggested()

    async def _push(self) -> None:
        """Push the mode to every running run, then, until the next change, to the runs that
        started since (the second listing only, for ``normal``: runs start in it anyway)."""
        self._unsent = False
        state, since = self._state, None
        while True:
            listed_at = workflow.now()
            reached = await self._calls.run(
                names.BROADCAST_MODE, BroadcastModeInput(state=state, started_after=since), int
            )
            workflow.logger.info("mode %s pushed to %d runs", state.mode, reached)
            if (state.mode == "normal" and since is not None) or self._time_to_continue():
                self._unsent = self._unsent or state.mode != "normal"  # the next run goes on
                return
            try:
                await workflow.wait_condition(lambda: self._unsent, timeout=PUSH_NEW_RUNS_EVERY)
                return  # a newer mode: pushed from the start
            except TimeoutError:
                since = listed_at - VISIBILITY_LAG

    @workflow.update(name=names.CONTROL_SET_MODE)
    def set_mode(self, request: SetModeRequest) -> ModeState:
        self._state = ModeState(
            mode=request.mode, set_by=request.by, set_at=workflow.now(), reason=request.reason
        )
        self._changes += 1
        self._unsent = True
        # Readable without a worker (``describe``): starters check it before every start.
        workflow.upsert_memo({names.CONTROL_MODE_MEMO: self._state})
        return self._state

    @set_mode.validator
    def _check(self, request: SetModeRequest) -> None:
        if not request.by.strip():
            raise ValueError("say who sets the mode (by)")

    @workflow.query(name=names.CONTROL_MODE_QUERY)
    def mode(self) -> ModeState:
        return self._state
