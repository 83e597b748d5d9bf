"""A simulated experiment of 200 recorded outcomes, against statistics computed by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from fractions import Fraction

import pytest

from domain.experiment_stats import analyse
from domain.learning import Experiment, OutcomeRecord, Variant, assign_variant
from domain.usage import TokenUsage

EXPERIMENT = Experiment(
    name="plan-style",
    variants=[Variant(name="A"), Variant(name="B", plan_prompt="One task only.")],
    confidence=0.95,
    min_samples=100,
)
REPO = "acme/shop"


def simulate(successes: dict[str, int], runs: int = 100) -> list[OutcomeRecord]:
    """Issues 1, 2, ... assigned as the workflow assigns them, until each variant has ``runs``
    records; the first ``successes[v]`` of variant ``v`` open a PR, the rest fail."""
    records: list[OutcomeRecord] = []
    seen = {"A": 0, "B": 0}
    issue = 0
    while min(seen.values()) < runs:
        issue += 1
        variant = assign_variant(REPO, issue, EXPERIMENT.name, ["A", "B"])
        if seen[variant] == runs:
            continue
        seen[variant] += 1
        won = seen[variant] <= successes[variant]
        records.append(
            OutcomeRecord(
                repo=REPO,
                issue=issue,
                workflow_id=f"autopilot:{REPO}#{issue}",
                run_id=f"run-{issue}",
                ended_at=datetime(2026, 1, 1, tzinfo=UTC),
                outcome="pr_opened" if won else "failed",
                attempts={"plan": 1, "verify": 1 if won else 3},
                usage=TokenUsage(cost_usd=0.10 if variant == "A" else 0.20),
                variants={EXPERIMENT.name: variant},
            )
        )
    return records


def fisher_two_sided(a: int, b: int, c: int, d: int) -> float:
    """By hand: the hypergeometric probabilities of all tables with these margins that are
    no more likely than the observed one, in exact fractions."""
    row, col, total = a + b, a + c, a + b + c + d

    def p(k: int) -> Fraction:
        return Fraction(math.comb(col, k) * math.comb(total - col, row - k), math.comb(total, row))

    observed = p(a)
    return float(sum(p(k) for k in range(0, min(row, col) + 1) if p(k) <= observed))


def test_200_outcomes_60_vs_40_percent_declare_a_the_winner() -> None:
    records = simulate({"A": 60, "B": 40})
    assert len(records) == 200
    report = analyse(EXPERIMENT, records)

    a, b = report.variants
    assert (a.name, a.runs, a.successes, a.rate) == ("A", 100, 60, 0.6)
    assert (b.name, b.runs, b.successes, b.rate) == ("B", 100, 40, 0.4)
    # Wilson interval of 60/100 at 95 %: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n).
    assert a.rate_low == pytest.approx(0.502003, abs=1e-6)
    assert a.rate_high == pytest.approx(0.690599, abs=1e-6)
    assert b.rate_low == pytest.approx(1 - 0.690599, abs=1e-6)  # 40/100 mirrors 60/100
    assert a.attempts == {"plan": 1.0, "verify": 1.8, "review": 0.0}  # (60·1 + 40·3) / 100
    assert b.attempts["verify"] == pytest.approx(2.2)
    assert a.mean_cost_usd == pytest.approx(0.10) and b.mean_cost_usd == pytest.approx(0.20)

    comparison = report.comparison
    assert comparison is not None and (comparison.best, comparison.runner_up) == ("A", "B")
    assert comparison.fisher_p == pytest.approx(fisher_two_sided(60, 40, 40, 60), rel=1e-9)
    assert comparison.fisher_p == pytest.approx(0.0070595, abs=1e-7)
    # Pooled p = 0.5: z = 0.2 / sqrt(0.25 · 2/100) = 2√2; two-sided p = erfc(z/√2) = erfc(2).
    assert comparison.z == pytest.approx(2 * math.sqrt(2))
    assert comparison.z_p == pytest.approx(math.erfc(2.0), rel=1e-9)
    # Unpooled 95 % interval of the difference: 0.2 ± 1.959964 · sqrt(2 · 0.24/100).
    assert comparison.difference == pytest.approx(0.2)
    assert comparison.difference_low == pytest.approx(0.0642097, abs=1e-6)
    assert comparison.difference_high == pytest.approx(0.3357903, abs=1e-6)
    assert report.winner == "A"
    assert "A wins over B" in report.verdict


def test_no_winner_while_the_difference_could_be_chance() -> None:
    report = analyse(EXPERIMENT, simulate({"A": 55, "B": 45}))
    assert report.comparison is not None
    assert report.comparison.fisher_p == pytest.approx(fisher_two_sided(55, 45, 45, 55))
    assert report.comparison.fisher_p > 0.05
    assert report.winner is None and report.verdict.startswith("no winner: A vs B has p = ")


def test_no_winner_before_the_sample_size_however_clear_the_difference() -> None:
    records = simulate({"A": 30, "B": 0}, runs=30)  # p is tiny, but 30 < 100 runs each
    report = analyse(EXPERIMENT, records)
    assert report.comparison is not None and report.comparison.fisher_p < 1e-10
    assert report.winner is None
    assert report.verdict == "no winner yet: fewer than 100 runs for A, B"


def test_records_of_other_experiments_or_retired_variants_are_not_counted() -> None:
    records = simulate({"A": 1, "B": 1}, runs=2)
    stray = records[0].model_copy(update={"variants": {EXPERIMENT.name: "C"}})
    other = records[1].model_copy(update={"variants": {"tiers": "A"}})
    report = analyse(EXPERIMENT, [*records, stray, other])
    assert [v.runs for v in report.variants] == [2, 2]


def test_assignment_is_stable_and_spreads_issues_over_the_variants() -> None:
    names = ["A", "B", "C"]
    first = [assign_variant(REPO, n, "x", names) for n in range(1, 601)]
    assert first == [assign_variant(REPO, n, "x", names) for n in range(1, 601)]
    assert all(150 <= first.count(name) <= 250 for name in names), {
        name: first.count(name) for name in names
    }
    # Another experiment draws independently of this one.
    other = [assign_variant(REPO, n, "y", names) for n in range(1, 601)]
    assert other != first
