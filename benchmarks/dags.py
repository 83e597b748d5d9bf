"""Seeded random DAGs shaped like plans: edges only from earlier to later tasks."""

from __future__ import annotations

import random

from benchmarks.models import BenchDag
from domain.plan import PlanTask

MIN_TASKS = 8
MAX_TASKS = 40
MIN_UNITS = 1
MAX_UNITS = 10
# Per-DAG edge probability range: sparse graphs are wide, dense ones are nearly chains.
MIN_EDGE_PROBABILITY = 0.05
MAX_EDGE_PROBABILITY = 0.25
MAX_PRIORITY = 2


def random_dag(
    seed: int, index: int, min_tasks: int = MIN_TASKS, max_tasks: int = MAX_TASKS
) -> BenchDag:
    """DAG number ``index`` of the family ``seed``: the same arguments give the same DAG."""
    rng = random.Random(seed * 100_003 + index)
    size = rng.randint(min_tasks, max_tasks)
    edge_probability = rng.uniform(MIN_EDGE_PROBABILITY, MAX_EDGE_PROBABILITY)
    ids = [f"t{i}" for i in range(size)]
    tasks = [
        PlanTask(
            id=ids[i],
            title=f"task {i}",
            description=f"benchmark task {i}",
            acceptance_criteria=["slept"],
            depends_on=[ids[j] for j in range(i) if rng.random() < edge_probability],
            priority=rng.randint(0, MAX_PRIORITY),
        )
        for i in range(size)
    ]
    durations = {t.id: rng.randint(MIN_UNITS, MAX_UNITS) for t in tasks}
    # The planner's effort estimate of each task (see PlanTask.effort); here it is exact.
    tasks = [t.model_copy(update={"effort": durations[t.id]}) for t in tasks]
    return BenchDag(name=f"dag-{seed}-{index}", tasks=tasks, durations=durations)


def random_dags(
    seed: int, count: int, min_tasks: int = MIN_TASKS, max_tasks: int = MAX_TASKS
) -> list[BenchDag]:
    return [random_dag(seed, i, min_tasks, max_tasks) for i in range(count)]
