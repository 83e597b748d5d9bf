"""Autopilot's metric names, defined once for workflows, activities, the worker and the README.

Instrument names carry their unit in the name only when Prometheus has no unit for it
(``_usd``, ``_ratio``); a time instrument is named without the unit and created with unit
``s``, so the exporter appends ``_seconds`` once. Counters get ``_total`` from the exporter.
``EXPORTED`` maps each instrument to the name a scrape shows.
"""

from __future__ import annotations

from typing import Final

# Workflow side (``workflow.metric_meter()``: replay-safe, nothing counted twice on replay).
RUNS_STARTED: Final = "autopilot_runs_started"
RUNS_ENDED: Final = "autopilot_runs_ended"
STAGE_DURATION: Final = "autopilot_stage_duration"
STAGE_ENTERED: Final = "autopilot_stage_entered"
RESOLUTION_ATTEMPTS: Final = "autopilot_resolution_attempts"
RESOLUTION_ESCALATIONS: Final = "autopilot_resolution_escalations"
ATTEMPTS_TO_RESOLUTION: Final = "autopilot_resolution_attempts_to_resolve"
REVIEW_GATE_RESULTS: Final = "autopilot_review_gate_results"
REVIEW_VERDICTS: Final = "autopilot_review_verdicts"
REVIEW_REJECTIONS: Final = "autopilot_review_rejections"
REVIEW_RUBRIC_SCORE: Final = "autopilot_review_rubric_score"
REVIEW_QUORUM_FAILURES: Final = "autopilot_review_quorum_failures"
MODEL_FAILOVERS: Final = "autopilot_model_failovers"

# Activity and worker side (the OpenTelemetry meter; activities are never replayed).
MODEL_CALLS: Final = "autopilot_model_calls"
MODEL_TOKENS: Final = "autopilot_model_tokens"
MODEL_COST: Final = "autopilot_model_cost_usd"
MODEL_BREAKER_STATE: Final = "autopilot_model_breaker_state"
BUDGET_REMAINING: Final = "autopilot_budget_remaining_usd"
BUDGET_USED: Final = "autopilot_budget_used_ratio"
TEST_RUNS: Final = "autopilot_test_runs"
TEST_RUN_DURATION: Final = "autopilot_test_run_duration"
FORGE_REQUESTS: Final = "autopilot_forge_requests"
RUNS_IN_FLIGHT: Final = "autopilot_runs_in_flight"
TASK_QUEUE_BACKLOG: Final = "autopilot_task_queue_backlog"
DISK_USED: Final = "autopilot_disk_used_ratio"

SECONDS: Final = "s"
COUNTERS: Final = frozenset(
    {
        RUNS_STARTED,
        RUNS_ENDED,
        STAGE_ENTERED,
        RESOLUTION_ATTEMPTS,
        RESOLUTION_ESCALATIONS,
        REVIEW_GATE_RESULTS,
        REVIEW_VERDICTS,
        REVIEW_REJECTIONS,
        REVIEW_QUORUM_FAILURES,
        MODEL_FAILOVERS,
        MODEL_CALLS,
        MODEL_TOKENS,
        MODEL_COST,
        TEST_RUNS,
        FORGE_REQUESTS,
    }
)
HISTOGRAMS: Final = frozenset(
    {STAGE_DURATION, ATTEMPTS_TO_RESOLUTION, REVIEW_RUBRIC_SCORE, TEST_RUN_DURATION}
)
TIMED: Final = frozenset({STAGE_DURATION, TEST_RUN_DURATION})
GAUGES: Final = frozenset(
    {
        MODEL_BREAKER_STATE,
        BUDGET_REMAINING,
        BUDGET_USED,
        RUNS_IN_FLIGHT,
        TASK_QUEUE_BACKLOG,
        DISK_USED,
    }
)

# Bucket bounds where the exporter's defaults (0, 5, 10, 25, ... 10000) say nothing useful.
ATTEMPT_BUCKETS: Final = (1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0)
SCORE_BUCKETS: Final = (1.0, 2.0, 3.0, 4.0, 5.0)
DURATION_BUCKETS: Final = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14400.0)
BUCKETS: Final = {
    ATTEMPTS_TO_RESOLUTION: ATTEMPT_BUCKETS,
    REVIEW_RUBRIC_SCORE: SCORE_BUCKETS,
    STAGE_DURATION: DURATION_BUCKETS,
    TEST_RUN_DURATION: DURATION_BUCKETS,
}


# What each workflow-side instrument measures; the worker pre-registers the counters with
# these exact descriptions (an event that never happened still scrapes as 0).
DESCRIPTIONS: Final = {
    RUNS_STARTED: "Issue runs started, by repository",
    RUNS_ENDED: "Issue runs that ended, by outcome and repository",
    STAGE_ENTERED: "Stages entered by issue runs",
    STAGE_DURATION: "Time an issue run spent in a stage",
    RESOLUTION_ATTEMPTS: "Resolution-loop rounds, by loop and attempt number",
    RESOLUTION_ESCALATIONS: "Runs that asked a person to step in, by stage",
    ATTEMPTS_TO_RESOLUTION: "Rounds a resolution loop needed to close",
    REVIEW_GATE_RESULTS: "Deterministic review gate results, by gate",
    REVIEW_VERDICTS: "Review verdicts",
    REVIEW_REJECTIONS: "Review rejections, by reason (failed gate or model)",
    REVIEW_RUBRIC_SCORE: "Review rubric scores (1-5)",
    REVIEW_QUORUM_FAILURES: "Reviews whose reviewers did not reach a quorum",
    MODEL_FAILOVERS: "Model calls moved to the backup provider",
}
# Counted only when something happens; the worker makes each scrape show them from 0.
EVENT_COUNTERS: Final = frozenset(DESCRIPTIONS) & COUNTERS


def exported(name: str) -> str:
    """The name a Prometheus scrape shows for instrument ``name`` (``_bucket`` etc. aside)."""
    if name in TIMED:
        return f"{name}_seconds"
    if name in COUNTERS:
        return f"{name}_total"
    return name


EXPORTED: Final = {name: exported(name) for name in COUNTERS | HISTOGRAMS | GAUGES}
