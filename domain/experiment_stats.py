"""The statistics of an experiment: per variant success rate, attempts and cost, and whether
the best variant beats the runner-up with the configured confidence.

Success is ``OutcomeRecord.succeeded`` (a pull request merged, or opened and not closed
unmerged). The two best variants by success rate are compared with Fisher's exact test
(two-sided; exact at any sample size) and a two-proportion z-test, whose confidence interval
of the difference is the unpooled Wald interval; each rate has a Wilson score interval. A
winner is declared only when every variant has ``min_samples`` runs and Fisher's p-value is
below ``1 - confidence``. Not imported by workflow code (it needs scipy).
"""

from __future__ import annotations

import math

from pydantic import BaseModel
from scipy import stats

from domain.learning import Experiment, OutcomeRecord

LOOPS = ("plan", "verify", "review")


class VariantStats(BaseModel):
    name: str
    runs: int
    successes: int
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    attempts: dict[str, float]  # mean attempts per loop: plan, verify, review
    mean_cost_usd: float | None


class Comparison(BaseModel):
    best: str
    runner_up: str
    difference: float
    difference_low: float
    difference_high: float
    fisher_p: float
    z: float
    z_p: float


class ExperimentReport(BaseModel):
    experiment: str
    confidence: float
    min_samples: int
    variants: list[VariantStats]
    comparison: Comparison | None
    winner: str | None
    verdict: str


def variant_stats(name: str, records: list[OutcomeRecord], confidence: float) -> VariantStats:
    runs = len(records)
    successes = sum(r.succeeded for r in records)
    if runs == 0:
        return VariantStats(
            name=name,
            runs=0,
            successes=0,
            rate=None,
            rate_low=None,
            rate_high=None,
            attempts={},
            mean_cost_usd=None,
        )
    interval = stats.binomtest(successes, runs).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return VariantStats(
        name=name,
        runs=runs,
        successes=successes,
        rate=successes / runs,
        rate_low=float(interval.low),
        rate_high=float(interval.high),
        attempts={loop: sum(r.attempts.get(loop, 0) for r in records) / runs for loop in LOOPS},
        mean_cost_usd=sum(r.usage.cost_usd for r in records) / runs,
    )


def compare(a: VariantStats, b: VariantStats, confidence: float) -> Comparison:
    """``a`` against ``b``: Fisher's exact test, and the two-proportion z-test."""
    assert a.rate is not None and b.rate is not None, "both variants have runs"
    table = [[a.successes, a.runs - a.successes], [b.successes, b.runs - b.successes]]
    _, fisher_p = stats.fisher_exact(table, alternative="two-sided")
    pooled = (a.successes + b.successes) / (a.runs + b.runs)
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / a.runs + 1 / b.runs))
    difference = a.rate - b.rate
    z = difference / pooled_se if pooled_se > 0 else 0.0
    se = math.sqrt(a.rate * (1 - a.rate) / a.runs + b.rate * (1 - b.rate) / b.runs)
    margin = float(stats.norm.ppf(1 - (1 - confidence) / 2)) * se
    return Comparison(
        best=a.name,
        runner_up=b.name,
        difference=difference,
        difference_low=difference - margin,
        difference_high=difference + margin,
        fisher_p=float(fisher_p),
        z=z,
        z_p=float(2 * stats.norm.sf(abs(z))),
    )


def analyse(experiment: Experiment, records: list[OutcomeRecord]) -> ExperimentReport:
    """The report on one experiment from the records of the runs assigned to its variants."""
    confidence = experiment.confidence
    by_variant: dict[str, list[OutcomeRecord]] = {v.name: [] for v in experiment.variants}
    for record in records:
        chosen = record.variants.get(experiment.name)
        if chosen in by_variant:
            by_variant[chosen].append(record)
    variants = [variant_stats(name, kept, confidence) for name, kept in by_variant.items()]
    ranked = sorted(
        (v for v in variants if v.rate is not None), key=lambda v: (-(v.rate or 0.0), v.name)
    )
    comparison = compare(ranked[0], ranked[1], confidence) if len(ranked) >= 2 else None
    winner, verdict = _verdict(experiment, variants, comparison)
    return ExperimentReport(
        experiment=experiment.name,
        confidence=confidence,
        min_samples=experiment.min_samples,
        variants=variants,
        comparison=comparison,
        winner=winner,
        verdict=verdict,
    )


def _verdict(
    experiment: Experiment, variants: list[VariantStats], comparison: Comparison | None
) -> tuple[str | None, str]:
    short = [v.name for v in variants if v.runs < experiment.min_samples]
    if short:
        return None, (
            f"no winner yet: fewer than {experiment.min_samples} runs for {', '.join(short)}"
        )
    assert comparison is not None, "every variant has runs"
    alpha = 1 - experiment.confidence
    if comparison.difference == 0 or comparison.fisher_p >= alpha:
        return None, (
            f"no winner: {comparison.best} vs {comparison.runner_up} has p = "
            f"{comparison.fisher_p:.4g}, not below {alpha:.4g}"
        )
    return comparison.best, (
        f"{comparison.best} wins over {comparison.runner_up} "
        f"(p = {comparison.fisher_p:.4g} < {alpha:.4g})"
    )
