"""The recorded usage a plan's estimate starts from: per plan task, the median over the newest
runs that reached a pull request."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.learning import OutcomeRecord, recorded_usage
from domain.usage import TokenUsage


def record(n: int, outcome: str, tasks: int, tokens: int | None) -> OutcomeRecord:
    after = None if tokens is None else TokenUsage(input_tokens=tokens, output_tokens=tokens // 10)
    return OutcomeRecord.model_validate(
        {
            "repo": "o/r",
            "issue": n,
            "workflow_id": f"wf-{n}",
            "run_id": f"run-{n}",
            "ended_at": datetime(2026, 1, 1, tzinfo=UTC),
            "outcome": outcome,
            "plan_tasks": tasks,
            "usage_after_approval": after,
        }
    )


def test_nothing_recorded_is_no_basis() -> None:
    assert recorded_usage([]) is None
    # Failed half-way, never implemented, or recorded before usage was: none counts.
    assert recorded_usage([record(1, "failed", 2, 5000), record(2, "expired", 0, None)]) is None
    assert recorded_usage([record(3, "pr_opened", 2, None)]) is None


def test_the_median_per_task_of_the_newest_runs_that_reached_a_pull_request() -> None:
    records = [
        record(1, "merged", 1, 90_000),  # too old with recent=3
        record(2, "pr_opened", 2, 2_000),  # 1000 per task
        record(3, "failed", 1, 50_000),  # not a basis
        record(4, "pr_closed", 1, 3_000),  # 3000 per task
        record(5, "merged", 4, 80_000),  # 20000 per task: one long run does not set it
    ]
    got = recorded_usage(records, recent=3)
    assert got is not None and (got.runs, got.tasks) == (3, 1)
    assert (got.usage.input_tokens, got.usage.output_tokens) == (3_000, 300)
