"""OpenTelemetry counters of model tokens and cost, recorded by the model activities.

The worker exposes them for Prometheus with ``--metrics-port`` (see ``serve_prometheus``).
"""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.metrics import Meter

from domain.usage import TokenUsage

TOKENS_COUNTER = "autopilot_model_tokens"  # exported as autopilot_model_tokens_total
COST_COUNTER = "autopilot_model_cost_usd"  # exported as autopilot_model_cost_usd_total
METER_NAME = "autopilot.model"


class ModelMetrics:
    def __init__(self, meter: Meter | None = None) -> None:
        meter = meter or metrics.get_meter(METER_NAME)
        self._tokens = meter.create_counter(
            TOKENS_COUNTER, unit="{token}", description="Model tokens by tier and direction"
        )
        self._cost = meter.create_counter(
            COST_COUNTER, unit="USD", description="Model cost in US dollars by tier"
        )

    def record(
        self, tier: str, provider: str, model: str, usage: TokenUsage, repo: str = "-"
    ) -> None:
        # Per repository too: cost is aggregated per task and issue in the run, per repo here.
        labels = {"tier": tier, "provider": provider, "model": model, "repo": repo}
        if usage.input_tokens:
            self._tokens.add(usage.input_tokens, {**labels, "direction": "input"})
        if usage.output_tokens:
            self._tokens.add(usage.output_tokens, {**labels, "direction": "output"})
        if usage.cost_usd:
            self._cost.add(usage.cost_usd, labels)


def serve_prometheus(port: int, host: str = "0.0.0.0") -> None:
    """Install a global meter provider whose metrics are served at ``http://host:port/metrics``."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import start_http_server

    start_http_server(port, addr=host)
    metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
