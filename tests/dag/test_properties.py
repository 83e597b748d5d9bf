"""Random DAGs, random completion order: dependencies and the bound always hold."""

from __future__ import annotations

import random

import pytest

from domain.plan import PlanTask
from tests.dag.helpers import random_dag
from workflows.dag import DagScheduler, DagState

SEEDS = range(60)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_runs_respect_dependencies_and_bound_and_finish(seed: int) -> None:
    rng = random.Random(seed)
    tasks = random_dag(rng, rng.randint(1, 40), rng.choice([0.0, 0.1, 0.3, 0.7]))
    deps = {t.id: set(t.depends_on) for t in tasks}
    width = rng.randint(1, 6)
    s = DagScheduler(tasks, max_parallel=width)
    settled: set[str] = set()
    failed: set[str] = set()
    steps = 0
    while not s.finished():
        steps += 1
        assert steps <= 4 * len(tasks), "scheduler did not make progress"
        if rng.random() < 0.2 and len(s.snapshot().running) > 0:  # continue-as-new mid-run
            s = DagScheduler.restore(tasks, width, DagState.model_validate(s.snapshot()))
        for task_id in s.next_to_start():
            assert deps[task_id] <= settled, f"{task_id} started before its dependencies"
            s.started(task_id)
        assert 0 < len(s.running) <= width
        done = rng.choice(s.running)
        roll = rng.random()
        if roll < 0.1:
            s.failed(done, "boom")
            failed.add(done)
        elif roll < 0.15:
            s.skipped(done)
            settled.add(done)
        else:
            s.completed(done)
            settled.add(done)
    # Finished: every task either ran to an end or sits downstream of a failure.
    ended = set(s.completed_ids) | set(s.skipped_ids) | set(s.failed_ids)
    assert ended | set(s.blocked) == {t.id for t in tasks}
    assert set(s.failed_ids) == failed
    for blocked_id in s.blocked:
        assert _upstream(blocked_id, deps) & failed


def _upstream(task_id: str, deps: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    frontier = list(deps[task_id])
    while frontier:
        node = frontier.pop()
        if node not in seen:
            seen.add(node)
            frontier.extend(deps[node])
    return seen


@pytest.mark.parametrize("seed", range(20))
def test_critical_path_dominates_every_dependent(seed: int) -> None:
    rng = random.Random(1000 + seed)
    tasks = random_dag(rng, rng.randint(2, 30), 0.25)
    weights = {t.id: float(rng.randint(1, 10)) for t in tasks}
    s = DagScheduler(tasks, max_parallel=3, weight=lambda t: weights[t.id])
    assert s.critical_path == _longest_chains(tasks, weights)


def _longest_chains(tasks: list[PlanTask], weights: dict[str, float]) -> dict[str, float]:
    """Brute force: the heaviest path starting at each task, by recursion over dependents."""
    dependents = {t.id: [u.id for u in tasks if t.id in u.depends_on] for t in tasks}

    def longest(task_id: str) -> float:
        return weights[task_id] + max((longest(d) for d in dependents[task_id]), default=0.0)

    return {t.id: longest(t.id) for t in tasks}
