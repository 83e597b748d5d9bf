"""A run's view of the deployment's mode (``domain.mode``) and where it holds for it.

Every IssueWorkflow and TaskWorkflow has one ``ModeGate`` (made by ``workflows.calls``), fed by
the ``mode`` signal the control workflow sends on every change. The run asks it at its
boundaries: before each activity (``emergency-stop`` holds everything, ``read-only`` holds
forge writes), at each stage (``read-only`` and ``emergency-stop`` hold) and at each turn of
the implementer. A boundary that allows awaits nothing, so runs in ``normal`` mode issue the
same commands as before the gate existed and saved histories replay unchanged; a held run
continues exactly where it stopped when the mode allows again.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable

from temporalio import workflow

from domain import names
from domain.mode import GOVERNED, ModeState

HELD = "Held"  # how the current details of a held run begin

# Each workflow run's gate, for ``options.CallOptions.execute`` (model calls go through the
# gateway, not ``Activities``); an entry goes with its run's ``Activities``.
_GATES: weakref.WeakValueDictionary[str, ModeGate] = weakref.WeakValueDictionary()

Notify = Callable[[ModeState, ModeState], Awaitable[None]]
OnHold = Callable[[str | None], None]  # what the run waits for while held; None when released


class ModeGate:
    def __init__(self, state: ModeState | None = None) -> None:
        self.state = state or ModeState()
        self.notify: Notify | None = None  # the issue run reports changes on its issue
        self.on_hold: OnHold | None = None  # the issue run shows it in its status

    @classmethod
    def for_this_workflow(cls) -> ModeGate:
        """The gate, listening for the ``mode`` signal in the governed workflow types."""
        gate = cls()
        _GATES[workflow.info().run_id] = gate
        if workflow.info().workflow_type in GOVERNED:
            workflow.set_signal_handler(names.MODE_SIGNAL, gate.changed)
        return gate

    @staticmethod
    def current() -> ModeGate | None:
        """This run's gate (None in a workflow that makes no ``Activities``)."""
        return _GATES.get(workflow.info().run_id)

    async def changed(self, state: ModeState) -> None:
        """The control workflow pushes each change (maybe twice): only news are acted on."""
        if state == self.state or (
            self.state.set_at is not None
            and state.set_at is not None
            and state.set_at < self.state.set_at
        ):
            return
        before, self.state = self.state, state
        workflow.logger.info("mode is now %s", state.describe())
        if self.notify is not None:
            await self.notify(before, state)

    @property
    def minimal(self) -> bool:
        return self.state.mode == "minimal"

    async def before_activity(self, activity: str) -> None:
        if not self.state.allows_activity(activity):
            await self._hold(lambda: self.state.allows_activity(activity))

    async def before_stage(self) -> None:
        if not self.state.allows_stage():
            await self._hold(lambda: self.state.allows_stage())

    async def before_new_run(self) -> None:
        """Before a new workflow run takes over part of the work (a task started as a child,
        a task continuing as new): it would not hear the mode until its next change, so none
        starts while the mode holds runs or forge writes."""
        if not self.state.allows_stage():
            await self._hold(lambda: self.state.allows_stage())

    async def before_turn(self) -> None:
        if not self.state.allows_turn():
            await self._hold(lambda: self.state.allows_turn())

    async def _hold(self, allowed: Callable[[], bool]) -> None:
        """Wait until ``allowed``; the Web UI's current details (and the issue run's status)
        say so meanwhile."""
        details = workflow.get_current_details()
        workflow.set_current_details(f"{HELD}: mode {self.state.describe()}")
        if self.on_hold is not None:
            self.on_hold(f"mode {self.state.mode}")
        # Not in a ``finally``: a run cancelled or evicted while held has nothing to restore.
        await workflow.wait_condition(allowed)
        workflow.set_current_details(details)
        if self.on_hold is not None:
            self.on_hold(None)


NOTICES = {
    "minimal": "🟡 Autopilot is in **minimal** mode: {who}. The model's review and optional "
    "stages are skipped until the mode returns to normal.",
    "emergency-stop": "⏸️ **Emergency stop**: {who}. This run pauses at its next step and "
    "continues exactly there when the mode returns to normal.",
    "normal": "▶️ Autopilot is back to **normal** mode: {who}. This run carries on.",
}
TOLD = frozenset({"minimal", "emergency-stop"})  # modes a run tells on its issue


def mode_notice(before: ModeState, after: ModeState) -> str | None:
    """The issue comment for a change of mode; None when there is nothing to say (or, in
    ``read-only``, nothing may be written)."""
    if after.mode == "read-only" or (after.mode == "normal" and before.mode not in TOLD):
        return None
    who = f"set by {after.set_by}" if after.set_by else "set"
    if after.reason:
        who += f" ({after.reason})"
    return NOTICES[after.mode].format(who=who)
