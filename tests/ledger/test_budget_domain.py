"""The budget contract without a server: the cost tables, pause messages, failed calls' usage."""

from __future__ import annotations

from datetime import datetime

import pytest
from temporalio.exceptions import ApplicationError

from domain.budget import USAGE_DETAIL, BudgetPause, ModelGatewayStatus, failed_call_usage
from domain.usage import TokenUsage


def used(calls: int, cost: float) -> TokenUsage:
    return TokenUsage(
        input_tokens=100 * calls, output_tokens=10 * calls, calls=calls, cost_usd=cost
    )


def rows(table: str) -> dict[str, list[str]]:
    return {
        cells[0]: cells[1:]
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith("|---")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }


def test_each_call_is_shown_once_and_the_stage_rows_add_up_to_the_total() -> None:
    status = ModelGatewayStatus()
    status.add("plan", None, "balanced", used(2, 0.8))
    status.add("review", None, "fast", used(1, 0.4))
    child = ModelGatewayStatus()  # a task's own gateway, merged when it finishes
    child.add("edits", "fix-discount", "advanced", used(2, 0.8))
    child.add("fix", "fix-discount", "advanced", used(1, 0.4))
    child.add("edits", "add-test", "balanced", used(1, 0.4))
    status.merge(child)

    main, _, breakdown = status.markdown().partition("By plan task")
    stages = rows(main)
    assert stages.pop("stage")[0] == "tier"  # the header
    total = stages.pop("**total**")
    assert set(stages) == {"plan", "review", "edits", "fix"}  # stages only, no task rows
    assert sum(int(r[1].split()[0]) for r in stages.values()) == int(total[1].split()[0]) == 7
    costs = [float(r[3].lstrip("$")) for r in stages.values()]
    assert sum(costs) == pytest.approx(2.8) and total[3] == "**$2.8000**"

    assert "a breakdown of the calls above, already in the total" in breakdown
    tasks = rows(breakdown)
    assert tasks.pop("task")[0] == "tier"
    assert tasks == {
        "fix-discount": ["advanced", "3 (0)", "300 / 30", "$1.2000", ""],
        "add-test": ["balanced", "1 (0)", "100 / 10", "$0.4000", ""],
    }
    # Every row names its tier, stages whose calls were for tasks included.
    assert {stage: row[0] for stage, row in stages.items()} == {
        "plan": "balanced",
        "review": "fast",
        "edits": "advanced, balanced",
        "fix": "advanced",
    }


def test_each_row_says_why_its_tier_was_chosen() -> None:
    status = ModelGatewayStatus()
    status.add("plan", None, "balanced", used(1, 0.1), "stage default (plan)")
    child = ModelGatewayStatus()
    child.add("edits", "a", "advanced", used(1, 0.1), "keywords: security")
    child.add("edits", "a", "advanced", used(1, 0.1), "keywords: security")
    child.add("edits", "b", "fast", used(1, 0.1), "repository override (task)")
    status.merge(child)

    main, _, breakdown = status.markdown().partition("By plan task")
    stages = rows(main)
    assert stages["stage"][-1] == "why this tier"
    assert stages["plan"][0] == "balanced" and stages["plan"][-1] == "stage default (plan)"
    assert stages["edits"][0] == "advanced, fast"
    assert stages["edits"][-1] == "keywords: security; repository override (task)"
    tasks = rows(breakdown)
    assert tasks["a"][-1] == "keywords: security"
    assert tasks["b"][-1] == "repository override (task)"


def test_without_tasks_there_is_no_breakdown() -> None:
    status = ModelGatewayStatus()
    status.add("plan", None, "balanced", used(1, 0.4))
    assert "By plan task" not in status.markdown()


@pytest.mark.parametrize(
    ("pause", "names", "not_names"),
    [
        (
            BudgetPause(scope="task", limit_usd=1, spent_usd=1.2, task_id="a"),
            ["task 'a'", "raise-budget --task a --task-usd", "`task_usd`"],
            ["--issue-usd"],
        ),
        (
            BudgetPause(scope="issue", limit_usd=1, spent_usd=1.2),
            [
                "The model budget of this issue is used up",
                "raise-budget --issue-usd",
                "`issue_usd`",
            ],
            ["--task-usd"],
        ),
        (
            BudgetPause(
                scope="global", limit_usd=1, spent_usd=1, retry_at=datetime(2026, 1, 1, 13, 0, 0)
            ),
            [
                "The hourly model budget shared by all runs is used up",
                "at 13:00 UTC",
                "global_usd_per_hour",
                "`raise_limit`",
            ],
            ["raise-budget", "of the global"],
        ),
    ],
)
def test_a_pause_names_what_lifts_it(
    pause: BudgetPause, names: list[str], not_names: list[str]
) -> None:
    text = pause.message()
    assert all(n in text for n in names), text
    assert not any(n in text for n in not_names), text


def test_a_failed_call_says_what_it_paid_for() -> None:
    paid = used(3, 1.2)
    invalid = ApplicationError("x", {"stage": "plan", USAGE_DETAIL: paid.model_dump()})
    assert failed_call_usage(invalid) == paid
    assert failed_call_usage(ApplicationError("503")) is None
    assert failed_call_usage(ApplicationError("x", "text")) is None
    assert failed_call_usage(TimeoutError()) is None and failed_call_usage(None) is None
