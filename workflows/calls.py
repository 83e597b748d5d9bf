"""The one way workflow code runs an activity: options from the table, a readable activity id.

Activity ids read ``<stage>-<n>`` (``verify-7``, ``task-3``), so the Web UI and every activity
log line say which part of the run a call belongs to. ``n`` counts every call of the workflow.
Each call is an activity boundary of the deployment's mode (``workflows.mode``, checked in
``CallOptions.execute``): a run held by ``emergency-stop`` (or, for forge writes,
``read-only``) waits before the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from workflows import options
from workflows.mode import ModeGate

T = TypeVar("T")


class Activities:
    def __init__(self, prefix: Callable[[], str], count: int = 0) -> None:
        self._prefix = prefix
        self.count = count  # carried across continue-as-new so ids stay unique
        self.mode = ModeGate.for_this_workflow()

    async def run(
        self,
        activity: str,
        arg: Any,
        result_type: type[T] | None,
        *,
        prefix: str | None = None,
        call: options.CallOptions | None = None,
        summary: str | None = None,
        held: bool = True,
    ) -> T:
        """``call`` overrides the table, for calls whose budget depends on the repository;
        ``held=False`` only for the run's own notice that the mode holds it."""
        self.count += 1
        opts = call or options.for_activity(activity)
        activity_id = f"{prefix or self._prefix()}-{self.count}"
        result: T = await opts.execute(activity, arg, result_type, activity_id, summary, held=held)
        return result
