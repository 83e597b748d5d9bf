"""Which activities count against which per-worker limit, and the task queues that enforce it.

Test runs and environment builds ("heavy") and model calls each have their own task queue,
``<task queue>-heavy`` and ``<task queue>-model``; a worker polls each with its own maximum
(``capacity.*``), so a hundred runs in flight cannot start a hundred test runs on one machine.
A run learns the queues from its memo (``MEMO_ACTIVITY_QUEUES``, set by the starters and
passed on to its tasks); a run without it (started before, or by hand) calls everything on
the workflow's own queue, which every worker also serves.
"""

from __future__ import annotations

from typing import Literal

from domain import names

ActivityKind = Literal["heavy", "model"]
MEMO_ACTIVITY_QUEUES = "autopilot.activity_queues"
HEAVY_ACTIVITIES = frozenset({names.RUN_TESTS, names.PREPARE_ENVIRONMENT})
MODEL_ACTIVITIES = frozenset(
    {
        names.DRAFT_PLAN,
        names.DRAFT_EDITS,
        names.REVIEW_CHANGE,
        names.RESOLVE_CONFLICT,
        names.AGENT_TURN,
    }
)


def activity_kind(activity: str) -> ActivityKind | None:
    if activity in HEAVY_ACTIVITIES:
        return "heavy"
    if activity in MODEL_ACTIVITIES:
        return "model"
    return None


def activity_queues(task_queue: str) -> dict[str, str]:
    """The memo a run carries: kind -> the task queue of that kind."""
    return {"heavy": f"{task_queue}-heavy", "model": f"{task_queue}-model"}
