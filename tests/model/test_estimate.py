"""The plan's cost estimate: the implementer's loop from file sizes, or recorded usage."""

from __future__ import annotations

import pytest

from domain.estimate import (
    NEW_FILE_TOKENS,
    EstimateInput,
    RecordedUsage,
    actual_after_approval,
    comparison_markdown,
    estimate_plan_cost,
    loop_tokens,
)
from domain.plan import Plan
from domain.usage import TokenUsage
from tests.model.test_tiers import ROUTING, task

PLAN = Plan(summary="Keep the tail", tasks=[task(id="fix", files=["src/parser.py"])])


def test_a_large_file_costs_input_not_output() -> None:
    """Edits are str_replace calls: the answer follows the change; the views follow the file."""
    small = loop_tokens(PLAN, PLAN.tasks[0], EstimateInput(file_chars={"src/parser.py": 2_000}))
    large = loop_tokens(PLAN, PLAN.tasks[0], EstimateInput(file_chars={"src/parser.py": 120_000}))
    assert large[0] > small[0] + 3 * 3_000  # the view stays in every later turn's prompt
    assert large[1] == small[1]


def test_every_turn_resends_the_brief_so_the_context_counts_per_turn() -> None:
    lean = loop_tokens(PLAN, PLAN.tasks[0], EstimateInput())
    mapped = loop_tokens(PLAN, PLAN.tasks[0], EstimateInput(map_chars=20_000))
    turns = 4  # one file: view, edit, test, finish
    assert mapped[0] - lean[0] == pytest.approx(turns * 5_000, abs=turns)


def test_a_file_the_task_creates_has_nothing_to_view() -> None:
    new = loop_tokens(PLAN, PLAN.tasks[0], EstimateInput())
    existing = loop_tokens(PLAN, PLAN.tasks[0], EstimateInput(file_chars={"src/parser.py": 4_000}))
    assert existing[0] - new[0] == 3 * (4_000 // 4 + 1 - NEW_FILE_TOKENS)  # in 3 of 4 turns


def test_recorded_usage_of_the_repository_wins_over_sizes() -> None:
    recorded = RecordedUsage(
        runs=4, tasks=8, usage=TokenUsage(input_tokens=800_000, output_tokens=8_000)
    )
    two = Plan(summary="s", tasks=[task(id="a"), task(id="b", depends_on=["a"])])
    estimate = estimate_plan_cost(two, ROUTING, EstimateInput(recorded=recorded))
    assert estimate.basis == "recorded"
    assert [(t.input_tokens, t.output_tokens) for t in estimate.tasks] == [(100_000, 1_000)] * 2
    assert estimate.review_cost_usd == 0 and estimate.total_tokens == 202_000
    assert "recorded usage (4 earlier runs)" in estimate.markdown()
    sized = estimate_plan_cost(two, ROUTING)
    assert sized.basis == "sizes" and "sizes of the plan's files" in sized.markdown()


def test_the_pr_compares_the_estimate_with_what_came_after_approval() -> None:
    estimate = estimate_plan_cost(PLAN, ROUTING, EstimateInput(file_chars={"src/parser.py": 8_000}))
    total = TokenUsage(input_tokens=50_000, output_tokens=900, calls=9, cost_usd=0.2)
    plan_stage = TokenUsage(input_tokens=20_000, output_tokens=400, calls=3, cost_usd=0.05)
    actual = actual_after_approval(total, plan_stage)
    assert (actual.input_tokens, actual.output_tokens, actual.calls) == (30_000, 500, 6)
    assert actual.cost_usd == pytest.approx(0.15)
    table = comparison_markdown(estimate, actual)
    assert f"| estimated before implementation | {estimate.total_tokens} |" in table
    assert "| actual after approval | 30500 | $0.1500 |" in table
    assert f"Actual ÷ estimate: **{30_500 / estimate.total_tokens:.2f}**" in table
