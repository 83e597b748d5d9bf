"""OpenTelemetry metrics of model calls, tokens, cost and breakers (model activities).

The worker serves them, with Temporal's own metrics, on one Prometheus endpoint
(``workers.telemetry``). Names are in ``domain.metrics``; the README lists them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import get_args

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from activities.model.breaker import BreakerState, CircuitBreaker
from domain import metrics as names
from domain.usage import TokenUsage

METER_NAME = "autopilot.model"
CALLS_METER_NAME = "autopilot.model.calls"
NO_LABEL = "-"
BREAKER_STATES: tuple[BreakerState, ...] = get_args(BreakerState)


# The run stage of the model call being made; set by the worker's model-call interceptor,
# which knows it from the activity's input (an agent turn's purpose, the activity type).
model_stage: ContextVar[str] = ContextVar("autopilot_model_stage", default=NO_LABEL)


class ModelCallMetrics:
    """``autopilot_model_calls``: one per model activity, by how it ended."""

    def __init__(self, meter: Meter | None = None) -> None:
        meter = meter or metrics.get_meter(CALLS_METER_NAME)
        self._calls = meter.create_counter(
            names.MODEL_CALLS, description="Model calls by provider, tier, stage and outcome"
        )

    def call(self, tier: str, provider: str, stage: str, outcome: str) -> None:
        """``outcome``: ``answered``, ``cached``, or the error type (``InvalidModelOutput``
        for an answer that stayed invalid after its re-asks)."""
        self._calls.add(1, {"tier": tier, "provider": provider, "stage": stage, "outcome": outcome})


class ModelMetrics:
    def __init__(self, meter: Meter | None = None) -> None:
        meter = meter or metrics.get_meter(METER_NAME)
        self._tokens = meter.create_counter(
            names.MODEL_TOKENS, unit="{token}", description="Model tokens by tier and direction"
        )
        # No OpenTelemetry unit: "USD" would be appended to the exported name a second time.
        self._cost = meter.create_counter(
            names.MODEL_COST, description="Model cost in US dollars by provider, tier and stage"
        )

    def record(
        self,
        tier: str,
        provider: str,
        model: str,
        usage: TokenUsage,
        repo: str = NO_LABEL,
        stage: str | None = None,
    ) -> None:
        # Per repository too: cost is aggregated per task and issue in the run, per repo here.
        stage = stage or model_stage.get()
        labels = {"tier": tier, "provider": provider, "model": model, "repo": repo, "stage": stage}
        if usage.input_tokens:
            self._tokens.add(usage.input_tokens, {**labels, "direction": "input"})
        if usage.output_tokens:
            self._tokens.add(usage.output_tokens, {**labels, "direction": "output"})
        if usage.cost_usd:
            self._cost.add(usage.cost_usd, labels)


_watched: dict[str, CircuitBreaker] = {}
_breaker_gauge_lock = threading.Lock()
_breaker_gauge_created = False


def watch_breakers(breakers: Mapping[str, CircuitBreaker], meter: Meter | None = None) -> None:
    """``autopilot_model_breaker_state``: 1 for each provider's current state, else 0.

    One gauge per process, reading the breakers of the latest model activities built."""
    global _breaker_gauge_created
    with _breaker_gauge_lock:
        _watched.clear()
        _watched.update(breakers)
        if _breaker_gauge_created:
            return
        _breaker_gauge_created = True
    (meter or metrics.get_meter(METER_NAME)).create_observable_gauge(
        names.MODEL_BREAKER_STATE,
        callbacks=[_observe_breakers],
        description="Circuit breaker state per provider (1 = current state)",
    )


def watched_breakers() -> dict[str, CircuitBreaker]:
    """The breakers of the latest model activities built in this process."""
    with _breaker_gauge_lock:
        return dict(_watched)


def _observe_breakers(_: CallbackOptions) -> Iterable[Observation]:
    with _breaker_gauge_lock:
        breakers = dict(_watched)
    for name, breaker in breakers.items():
        current = breaker.state
        for state in BREAKER_STATES:
            yield Observation(int(state == current), {"provider": name, "state": state})
