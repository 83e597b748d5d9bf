"""Small plans for scheduler tests, and seeded random DAGs."""

from __future__ import annotations

import random
from collections.abc import Sequence

from domain.plan import PlanTask


def task(task_id: str, depends_on: Sequence[str] = (), priority: int = 0) -> PlanTask:
    return PlanTask(
        id=task_id,
        title=task_id,
        description=f"do {task_id}",
        acceptance_criteria=["done"],
        depends_on=list(depends_on),
        priority=priority,
    )


def random_dag(rng: random.Random, size: int, edge_probability: float) -> list[PlanTask]:
    """Edges only from earlier to later tasks, so the graph is acyclic by construction."""
    ids = [f"t{i}" for i in range(size)]
    return [
        task(
            ids[i],
            [ids[j] for j in range(i) if rng.random() < edge_probability],
            priority=rng.randint(0, 3),
        )
        for i in range(size)
    ]
