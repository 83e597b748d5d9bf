"""Metrics recorded by workflow code, through the SDK's workflow meter.

The workflow meter drops what a replay re-executes, so a run is counted once however often its
history is replayed (a worker restart, a query on a cached-out run). The worker forwards these
through the same Prometheus endpoint as its own metrics (``workers.telemetry``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from temporalio import workflow

from domain import metrics
from domain.review import GateResult, ReviewVerdict

MODEL_REVIEW = "model_review"  # the rejection reason when the model, not a gate, said no


def count_run_started(repo: str) -> None:
    workflow.metric_meter().create_counter(
        metrics.RUNS_STARTED, metrics.DESCRIPTIONS[metrics.RUNS_STARTED]
    ).add(1, {"repo": repo})


def count_run_ended(repo: str, outcome: str) -> None:
    workflow.metric_meter().create_counter(
        metrics.RUNS_ENDED, metrics.DESCRIPTIONS[metrics.RUNS_ENDED]
    ).add(1, {"outcome": outcome, "repo": repo})


def count_stage_entered(stage: str) -> None:
    workflow.metric_meter().create_counter(
        metrics.STAGE_ENTERED, metrics.DESCRIPTIONS[metrics.STAGE_ENTERED]
    ).add(1, {"stage": stage})


def record_stage_duration(stage: str, started_at: datetime, finished_at: datetime) -> None:
    workflow.metric_meter().create_histogram_float(
        metrics.STAGE_DURATION, metrics.DESCRIPTIONS[metrics.STAGE_DURATION], metrics.SECONDS
    ).record(max(0.0, (finished_at - started_at).total_seconds()), {"stage": stage})


def count_resolution_attempt(loop: str, attempt: int) -> None:
    """One round of the verify (tests) or review loop; ``attempt`` counts from 1 in the run."""
    workflow.metric_meter().create_counter(
        metrics.RESOLUTION_ATTEMPTS, metrics.DESCRIPTIONS[metrics.RESOLUTION_ATTEMPTS]
    ).add(1, {"loop": loop, "attempt": str(attempt)})


def count_escalation(stage: str) -> None:
    """A run that stopped to ask a person; in verify or review: its loop reached its bound."""
    workflow.metric_meter().create_counter(
        metrics.RESOLUTION_ESCALATIONS, metrics.DESCRIPTIONS[metrics.RESOLUTION_ESCALATIONS]
    ).add(1, {"stage": stage})


def record_attempts_to_resolution(attempts: dict[str, int]) -> None:
    """At a pull request: how many rounds each loop needed to close."""
    histogram = workflow.metric_meter().create_histogram(
        metrics.ATTEMPTS_TO_RESOLUTION, metrics.DESCRIPTIONS[metrics.ATTEMPTS_TO_RESOLUTION]
    )
    for loop in ("verify", "review"):
        if attempts.get(loop):
            histogram.record(attempts[loop], {"loop": loop})


def record_review(verdict: ReviewVerdict, gates: Iterable[GateResult]) -> None:
    """Gate results, the verdict, why it rejected, and the model's rubric scores."""
    meter = workflow.metric_meter()
    gate_results = meter.create_counter(
        metrics.REVIEW_GATE_RESULTS, metrics.DESCRIPTIONS[metrics.REVIEW_GATE_RESULTS]
    )
    failed: list[str] = []
    for gate in gates:
        gate_results.add(1, {"gate": gate.name, "result": "pass" if gate.passed else "fail"})
        if not gate.passed:
            failed.append(gate.name)
    meter.create_counter(
        metrics.REVIEW_VERDICTS, metrics.DESCRIPTIONS[metrics.REVIEW_VERDICTS]
    ).add(1, {"verdict": verdict.verdict, "by": "gates" if failed else "model"})
    if verdict.verdict == "request_changes":
        rejections = meter.create_counter(
            metrics.REVIEW_REJECTIONS, metrics.DESCRIPTIONS[metrics.REVIEW_REJECTIONS]
        )
        for reason in failed or [MODEL_REVIEW]:
            rejections.add(1, {"reason": reason})
    scores = meter.create_histogram(
        metrics.REVIEW_RUBRIC_SCORE, metrics.DESCRIPTIONS[metrics.REVIEW_RUBRIC_SCORE]
    )
    for score in verdict.rubric:
        scores.record(score.score, {"criterion": score.criterion.strip().lower()[:40]})


def count_quorum_failure() -> None:
    """A review whose reviewers did not reach a quorum."""
    workflow.metric_meter().create_counter(
        metrics.REVIEW_QUORUM_FAILURES, metrics.DESCRIPTIONS[metrics.REVIEW_QUORUM_FAILURES]
    ).add(1)


def count_failover(tier: str, from_provider: str, to_provider: str) -> None:
    workflow.metric_meter().create_counter(
        metrics.MODEL_FAILOVERS, metrics.DESCRIPTIONS[metrics.MODEL_FAILOVERS]
    ).add(1, {"tier": tier, "from_provider": from_provider, "to_provider": to_provider})
