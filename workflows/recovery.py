"""Every failure kind maps to exactly one recovery strategy: the table the workflows follow.

- transient -> retry: activity retry policies (``workflows/options.py``).
- invalid_plan -> replan: DAG problems go back to the planner, bounded by ``max_plan_attempts``.
- tests_failed -> resolution_loop: fix edits, bounded per issue and per task.
- no_progress -> escalate: the same failing output twice in a row.
- merge_conflict -> resolve_conflict: the model resolves, the tests must pass, bounded.
- conflict_unresolved -> fail_task: the task fails; its dependents are blocked.
- task_failed -> escalate: once independent tasks finish; then resume, skip-task or cancel.
- permanent -> fail_stage: outside a task, a comment and label, and the run ends failed.
"""

from __future__ import annotations

from typing import Literal

FailureKind = Literal[
    "transient",
    "invalid_plan",
    "tests_failed",
    "no_progress",
    "merge_conflict",
    "conflict_unresolved",
    "task_failed",
    "permanent",
]
Strategy = Literal[
    "retry", "replan", "resolution_loop", "escalate", "resolve_conflict", "fail_task", "fail_stage"
]

STRATEGIES: dict[FailureKind, Strategy] = {
    "transient": "retry",
    "invalid_plan": "replan",
    "tests_failed": "resolution_loop",
    "no_progress": "escalate",
    "merge_conflict": "resolve_conflict",
    "conflict_unresolved": "fail_task",
    "task_failed": "escalate",
    "permanent": "fail_stage",
}


def strategy_for(kind: FailureKind) -> Strategy:
    return STRATEGIES[kind]


def classify_error(
    error_type: str | None, permanent_types: list[str], *, in_task: bool
) -> FailureKind:
    """An activity error after its retry policy: inside a task it fails only that task."""
    if error_type in permanent_types or error_type is None:
        return "task_failed" if in_task else "permanent"
    return "task_failed" if in_task else "transient"


def classify_test_runs(outputs: list[str]) -> FailureKind:
    """The latest failing run: no progress when its output equals the one before it."""
    if len(outputs) >= 2 and outputs[-1].strip() == outputs[-2].strip():
        return "no_progress"
    return "tests_failed"
