"""The one way workflow code runs an activity: options from the table, a readable activity id.

Activity ids read ``<stage>-<n>`` (``verify-7``, ``task-3``), so the Web UI and every activity
log line say which part of the run a call belongs to. ``n`` counts every call of the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from workflows import options

T = TypeVar("T")


class Activities:
    def __init__(self, prefix: Callable[[], str], count: int = 0) -> None:
        self._prefix = prefix
        self.count = count  # carried across continue-as-new so ids stay unique

    async def run(
        self,
        activity: str,
        arg: Any,
        result_type: type[T] | None,
        *,
        prefix: str | None = None,
        call: options.CallOptions | None = None,
        summary: str | None = None,
    ) -> T:
        """``call`` overrides the table, for calls whose budget depends on the repository."""
        self.count += 1
        opts = call or options.for_activity(activity)
        activity_id = f"{prefix or self._prefix()}-{self.count}"
        result: T = await opts.execute(activity, arg, result_type, activity_id, summary)
        return result
