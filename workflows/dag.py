"""Scheduling a plan's tasks as a dependency DAG: validation, critical path, and a scheduler.

Pure and deterministic (no I/O, no clock, no randomness), so a workflow can drive it directly and
replay reaches the same decisions. The scheduler only records what the caller reports; the
caller starts and awaits the actual work (child workflows, activities) and reports back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from domain import graph
from domain.plan import PlanTask

ProblemKind = Literal["unknown_dependency", "self_dependency", "cycle"]
Weight = Callable[[PlanTask], float]


def unit_weight(task: PlanTask) -> float:
    """Every task counts the same: critical path length is then the number of tasks on it."""
    return 1.0


def effort_weight(task: PlanTask) -> float:
    """The planner's relative effort estimate: critical paths measured in expected work."""
    return float(task.effort)


@dataclass(frozen=True)
class DagProblem:
    """One defect of a task graph.

    ``tasks``: for ``unknown_dependency`` the dependent task then the unknown ids (sorted); for
    ``self_dependency`` the task; for ``cycle`` the members in dependency order (each depends on
    the next, the last on the first).
    """

    kind: ProblemKind
    tasks: tuple[str, ...]
    message: str


def validate_dag(tasks: Sequence[PlanTask]) -> list[DagProblem]:
    """Every unknown or self dependency, and one cycle per strongly connected component."""
    known = {t.id for t in tasks}
    problems: list[DagProblem] = []
    for task in tasks:
        if task.id in task.depends_on:
            problems.append(
                DagProblem("self_dependency", (task.id,), f"task {task.id!r} depends on itself")
            )
        unknown = sorted(set(task.depends_on) - known)
        if unknown:
            problems.append(
                DagProblem(
                    "unknown_dependency",
                    (task.id, *unknown),
                    f"task {task.id!r} depends on unknown tasks: {', '.join(unknown)}",
                )
            )
    for cycle in graph.cycles(_edges(tasks)):
        loop = " -> ".join([*cycle, cycle[0]])
        problems.append(DagProblem("cycle", tuple(cycle), f"dependency cycle: {loop}"))
    return problems


def _edges(tasks: Sequence[PlanTask]) -> dict[str, list[str]]:
    """Dependency edges among known tasks, without self loops, in plan order."""
    known = {t.id for t in tasks}
    return {
        t.id: [d for d in dict.fromkeys(t.depends_on) if d in known and d != t.id] for t in tasks
    }


def _require_dag(tasks: Sequence[PlanTask]) -> None:
    ids = [t.id for t in tasks]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    messages = [f"duplicate task ids: {', '.join(dupes)}"] if dupes else []
    messages += [p.message for p in validate_dag(tasks)]
    if messages:
        raise ValueError("; ".join(messages))


def remaining_critical_path(
    tasks: Sequence[PlanTask], weight: Weight = unit_weight
) -> dict[str, float]:
    """Each task's weight plus the longest chain of dependents after it (the CPM "tail").

    Raises ValueError on a graph that is not a DAG (see ``validate_dag``).
    """
    _require_dag(tasks)
    by_id = {t.id: t for t in tasks}
    tail = graph.longest_chain(graph.reverse(_edges(tasks)), lambda i: weight(by_id[i]))
    return {t.id: tail[t.id] for t in tasks}


class DagState(BaseModel):
    """What a scheduler has been told so far; enough to rebuild it after continue-as-new."""

    running: list[str] = Field(default_factory=list)
    completed: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict, description="task id -> cause")
    skipped: list[str] = Field(default_factory=list)


class DagScheduler:
    """Which tasks to start next, given what has started, completed, failed or been skipped.

    ``next_to_start`` is a query: it changes nothing until the caller reports ``started``.
    A task is ready when every dependency is completed or skipped; a failed task blocks every
    transitive dependent (skipping the failed task later unblocks them).
    """

    def __init__(
        self, tasks: Sequence[PlanTask], max_parallel: int, weight: Weight = unit_weight
    ) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
        self._tasks = list(tasks)
        self._max_parallel = max_parallel
        self._tail = remaining_critical_path(self._tasks, weight)  # validates the graph
        self._deps = _edges(self._tasks)
        self._dependents = graph.reverse(self._deps)
        self._order = {t.id: i for i, t in enumerate(self._tasks)}
        self._priority = {t.id: t.priority for t in self._tasks}
        # Insertion-ordered dicts: properties report tasks in the order events happened.
        self._running: dict[str, None] = {}
        self._completed: dict[str, None] = {}
        self._failed: dict[str, str] = {}
        self._skipped: dict[str, None] = {}
        self._blocked: dict[str, str] = {}

    @property
    def max_parallel(self) -> int:
        return self._max_parallel

    @property
    def critical_path(self) -> dict[str, float]:
        """Remaining critical path per task (the ordering key of ``next_to_start``)."""
        return dict(self._tail)

    @property
    def running(self) -> tuple[str, ...]:
        return tuple(self._running)

    @property
    def completed_ids(self) -> tuple[str, ...]:
        return tuple(self._completed)

    @property
    def failed_ids(self) -> tuple[str, ...]:
        return tuple(self._failed)

    @property
    def failures(self) -> dict[str, str]:
        """Failed task id -> the cause it was reported with."""
        return dict(self._failed)

    @property
    def blocked(self) -> dict[str, str]:
        """Task id -> cause of the failure upstream that keeps it from running."""
        return dict(self._blocked)

    @property
    def skipped_ids(self) -> tuple[str, ...]:
        return tuple(self._skipped)

    def _settled(self, task_id: str) -> bool:
        return task_id in self._completed or task_id in self._skipped

    def _is_open(self, task_id: str) -> bool:
        """Not started, not finished, not blocked: may become ready."""
        return not (
            task_id in self._running
            or self._settled(task_id)
            or task_id in self._failed
            or task_id in self._blocked
        )

    def ready(self) -> list[str]:
        """Every task that could start now, best first (ignores the concurrency bound)."""
        ready = [
            t.id
            for t in self._tasks
            if self._is_open(t.id) and all(self._settled(d) for d in self._deps[t.id])
        ]
        ready.sort(key=lambda i: (-self._tail[i], -self._priority[i], self._order[i]))
        return ready

    def next_to_start(self) -> list[str]:
        """Ready tasks up to the free slots: longest remaining critical path, then priority
        (higher first), then plan order."""
        free = self._max_parallel - len(self._running)
        return self.ready()[: max(free, 0)]

    def started(self, task_id: str) -> None:
        self._check_known(task_id)
        if not self._is_open(task_id):
            raise ValueError(f"task {task_id!r} cannot start: it is {self._status(task_id)}")
        waiting = [d for d in self._deps[task_id] if not self._settled(d)]
        if waiting:
            raise ValueError(f"task {task_id!r} cannot start before {', '.join(waiting)}")
        if len(self._running) >= self._max_parallel:
            raise ValueError(f"task {task_id!r} cannot start: {self._max_parallel} already running")
        self._running[task_id] = None

    def completed(self, task_id: str) -> None:
        self._finish_running(task_id)
        self._completed[task_id] = None

    def failed(self, task_id: str, cause: str) -> None:
        """The task failed: it and every transitive dependent will not run (unless skipped)."""
        self._finish_running(task_id)
        self._failed[task_id] = cause
        self._refresh_blocked()

    def skipped(self, task_id: str) -> None:
        """A person skipped the task: dependents may run as if it had completed.

        Allowed for a task that has not started, is running (the caller cancels the work),
        is blocked, or failed (which unblocks what only that failure was holding back).
        """
        self._check_known(task_id)
        if task_id in self._completed or task_id in self._skipped:
            raise ValueError(f"task {task_id!r} cannot be skipped: it is {self._status(task_id)}")
        self._running.pop(task_id, None)
        self._failed.pop(task_id, None)
        self._skipped[task_id] = None
        self._refresh_blocked()

    def finished(self) -> bool:
        """Nothing is running and nothing more can start."""
        return not self._running and not self.ready()

    def snapshot(self) -> DagState:
        return DagState(
            running=list(self._running),
            completed=list(self._completed),
            failed=dict(self._failed),
            skipped=list(self._skipped),
        )

    @classmethod
    def restore(
        cls,
        tasks: Sequence[PlanTask],
        max_parallel: int,
        state: DagState,
        weight: Weight = unit_weight,
    ) -> DagScheduler:
        """A scheduler in ``state`` (from ``snapshot``), e.g. after continue-as-new.

        Running tasks stay running even beyond ``max_parallel`` (a smaller bound only delays
        new starts), so the caller must keep awaiting them.
        """
        scheduler = cls(tasks, max_parallel, weight)
        groups = [state.running, state.completed, list(state.failed), state.skipped]
        listed = [i for group in groups for i in group]
        unknown = sorted(set(listed) - set(scheduler._order))
        if unknown:
            raise ValueError(f"state names unknown tasks: {', '.join(unknown)}")
        twice = sorted({i for i in listed if listed.count(i) > 1})
        if twice:
            raise ValueError(f"state lists tasks more than once: {', '.join(twice)}")
        scheduler._running = dict.fromkeys(state.running)
        scheduler._completed = dict.fromkeys(state.completed)
        scheduler._failed = dict(state.failed)
        scheduler._skipped = dict.fromkeys(state.skipped)
        scheduler._refresh_blocked()
        return scheduler

    def _finish_running(self, task_id: str) -> None:
        self._check_known(task_id)
        if task_id not in self._running:
            raise ValueError(f"task {task_id!r} is not running: it is {self._status(task_id)}")
        del self._running[task_id]

    def _refresh_blocked(self) -> None:
        """Blocked = not yet run and downstream of a failure through unsettled tasks."""
        blocked: dict[str, str] = {}
        for failed_id, cause in self._failed.items():
            frontier = list(self._dependents[failed_id])
            while frontier:
                task_id = frontier.pop(0)
                if task_id in blocked or not self._is_waiting(task_id):
                    continue
                blocked[task_id] = cause
                frontier.extend(self._dependents[task_id])
        self._blocked = {t.id: blocked[t.id] for t in self._tasks if t.id in blocked}

    def _is_waiting(self, task_id: str) -> bool:
        return not (task_id in self._running or self._settled(task_id) or task_id in self._failed)

    def _check_known(self, task_id: str) -> None:
        if task_id not in self._order:
            raise ValueError(f"unknown task {task_id!r}")

    def _status(self, task_id: str) -> str:
        if task_id in self._running:
            return "running"
        if task_id in self._completed:
            return "completed"
        if task_id in self._skipped:
            return "skipped"
        if task_id in self._failed:
            return "failed"
        if task_id in self._blocked:
            return "blocked"
        return "waiting"
