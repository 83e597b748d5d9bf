"""The seed's batch executor as a pure plan: topological levels cut into batches of ``width``.

Within a level, tasks go higher priority first then plan order, as ``Plan.in_dependency_order``
did; every batch waits for the whole previous batch, even when a dependency finished early.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.plan import PlanTask


def levels(tasks: Sequence[PlanTask]) -> list[list[str]]:
    """Level 0: no dependencies; level n: the deepest dependency is at level n - 1."""
    by_id = {t.id: t for t in tasks}
    level: dict[str, int] = {}

    def depth(task_id: str) -> int:
        if task_id not in level:
            deps = by_id[task_id].depends_on
            level[task_id] = 1 + max((depth(d) for d in deps), default=-1)
        return level[task_id]

    for task in tasks:
        depth(task.id)
    out: list[list[PlanTask]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for task in tasks:
        out[level[task.id]].append(task)
    return [[t.id for t in sorted(group, key=lambda t: -t.priority)] for group in out]


def batches(tasks: Sequence[PlanTask], width: int) -> list[list[str]]:
    """The batches in execution order: each level cut into chunks of at most ``width``."""
    return [
        group[start : start + width]
        for group in levels(tasks)
        for start in range(0, len(group), width)
    ]
