"""Offline, zero-overhead schedules and the numbers the benchmark reports.

The ideal makespan of an executor is its own schedule with every task taking exactly its
duration and no orchestration cost; the difference to a measured makespan is overhead.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from benchmarks.batches import batches
from benchmarks.models import BenchDag
from workflows.dag import (
    DagScheduler,
    Weight,
    effort_weight,
    remaining_critical_path,
    unit_weight,
)

Executor = Literal["scheduler", "batch"]
EXECUTORS: tuple[Executor, ...] = ("scheduler", "batch")
GOAL_MEDIAN_RATIO = 1.05


def simulate_scheduler(dag: BenchDag, width: int, weight: Weight = unit_weight) -> float:
    """Makespan in units of ``DagScheduler`` driving the DAG, tasks lasting their durations."""
    scheduler = DagScheduler(dag.tasks, width, weight)
    now = 0.0
    running: list[tuple[float, int, str]] = []
    sequence = 0
    while not scheduler.finished():
        for task_id in scheduler.next_to_start():
            scheduler.started(task_id)
            sequence += 1
            heapq.heappush(running, (now + dag.durations[task_id], sequence, task_id))
        now, _, task_id = heapq.heappop(running)
        scheduler.completed(task_id)
        while running and running[0][0] == now:  # simultaneous ends free their slots together
            scheduler.completed(heapq.heappop(running)[2])
    return now


def simulate_batches(dag: BenchDag, width: int) -> float:
    """Makespan in units of the batch executor: each batch lasts as long as its longest task."""
    return float(sum(max(dag.durations[t] for t in batch) for batch in batches(dag.tasks, width)))


def lower_bound(dag: BenchDag, width: int) -> float:
    """No schedule beats the critical path, nor the total work spread over every slot."""
    tail = remaining_critical_path(dag.tasks, lambda t: float(dag.durations[t.id]))
    return max(max(tail.values()), sum(dag.durations.values()) / width)


class ExecutorRun(BaseModel):
    ideal_units: float
    measured_ms: float | None = None


class DagRun(BaseModel):
    """One DAG at one width: its bound, and each executor's ideal and measured makespan."""

    dag: str
    tasks: int
    max_parallel: int
    bound_units: float
    runs: dict[Executor, ExecutorRun]

    def ratio(self, executor: Executor, unit_ms: float) -> float:
        """Measured makespan over the lower bound (the ideal one when nothing was measured)."""
        run = self.runs[executor]
        if run.measured_ms is None:
            return run.ideal_units / self.bound_units
        return run.measured_ms / (self.bound_units * unit_ms)

    def overhead_ms_per_task(self, executor: Executor, unit_ms: float) -> float | None:
        run = self.runs[executor]
        if run.measured_ms is None:
            return None
        return (run.measured_ms - run.ideal_units * unit_ms) / self.tasks


def plan_run(dag: BenchDag, width: int) -> DagRun:
    return DagRun(
        dag=dag.name,
        tasks=len(dag.tasks),
        max_parallel=width,
        bound_units=lower_bound(dag, width),
        runs={
            "scheduler": ExecutorRun(ideal_units=simulate_scheduler(dag, width, effort_weight)),
            "batch": ExecutorRun(ideal_units=simulate_batches(dag, width)),
        },
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "p90": round(percentile(values, 0.9), 4)}


def summarize(runs: Sequence[DagRun], unit_ms: float) -> dict[str, object]:
    """Per width: both executors side by side, their ratio, overhead, and the goal check."""
    out: dict[str, object] = {}
    for width in sorted({r.max_parallel for r in runs}):
        group = [r for r in runs if r.max_parallel == width]
        side: dict[str, object] = {}
        for executor in EXECUTORS:
            overheads = [r.overhead_ms_per_task(executor, unit_ms) for r in group]
            measured = [o for o in overheads if o is not None]
            side[executor] = {
                "ratio_to_bound": _stats([r.ratio(executor, unit_ms) for r in group]),
                "ideal_ratio_to_bound": _stats(
                    [r.runs[executor].ideal_units / r.bound_units for r in group]
                ),
                "overhead_ms_per_task": _stats(measured) if measured else None,
            }
        batch_over_scheduler = [
            r.ratio("batch", unit_ms) / r.ratio("scheduler", unit_ms) for r in group
        ]
        scheduler_median = statistics.median(r.ratio("scheduler", unit_ms) for r in group)
        out[f"max_parallel_{width}"] = {
            "max_parallel": width,
            "dags": len(group),
            "tasks": sum(r.tasks for r in group),
            **side,
            "batch_over_scheduler": _stats(batch_over_scheduler),
            "goal_median_ratio": GOAL_MEDIAN_RATIO,
            "goal_met": scheduler_median <= GOAL_MEDIAN_RATIO,
        }
    return out


def _duration_weight(dag: BenchDag) -> Weight:
    return lambda task: float(dag.durations[task.id])


def weighting_study(dags: Sequence[BenchDag], widths: Sequence[int]) -> dict[str, object]:
    """Offline only: how much knowing durations (instead of counting tasks) would help."""
    out: dict[str, object] = {}
    for width in widths:
        unit = [simulate_scheduler(d, width) / lower_bound(d, width) for d in dags]
        known = [
            simulate_scheduler(d, width, _duration_weight(d)) / lower_bound(d, width) for d in dags
        ]
        out[f"max_parallel_{width}"] = {
            "unit_weights": _stats(unit),
            "duration_weights": _stats(known),
        }
    return out
