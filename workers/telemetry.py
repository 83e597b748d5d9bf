"""Worker telemetry: one Prometheus endpoint, traces, and Temporal's core logs as JSON.

Metrics: Temporal's Runtime records its SDK metrics and everything workflows record through
``workflow.metric_meter()`` (replay-safe) into a ``MetricBuffer``; ``MetricBridge`` drains it
into the same OpenTelemetry ``MeterProvider`` that Autopilot's activities record into, and one
Prometheus reader serves both at ``http://<telemetry.metrics_host>:<metrics_port>/metrics``.

Traces: ``TracingInterceptor`` on the starters' clients and on the worker makes a run one trace
(starter -> workflow -> activities); httpx requests are child spans of their activity.

Logs: the Runtime forwards its Rust core's log lines to the ``temporalio.core`` Python logger,
so they come out as the same JSON lines as everything else (not ANSI-coloured text).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import timedelta

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import Interceptor

from config.settings import TelemetrySettings
from domain.metrics import BUCKETS, DESCRIPTIONS, EVENT_COUNTERS
from workers.metric_bridge import MetricBridge

CORE_LOGGER = "temporalio.core"
CORE_LEVEL = "WARN"
# Updates between drains; the buffer drops (and core logs an error) past this.
METRIC_BUFFER_SIZE = 100_000
DRAIN_INTERVAL = timedelta(seconds=1)
TRACER_NAME = "autopilot"
# The meter ``MetricBridge`` records Temporal's buffered metrics (and workflow metrics) on.
TEMPORAL_METER = "temporalio"
# Temporal's own duration histograms, in seconds: buckets from 5 ms to 10 min.
TEMPORAL_DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0)

log = logging.getLogger("autopilot.telemetry")

_tracing: TracingInterceptor | None = None
_metrics_provider: MeterProvider | None = None


class TelemetryError(Exception):
    """The metrics endpoint cannot be served (the port is taken, the host is not local)."""


def metrics_served() -> bool:
    return _metrics_provider is not None


def core_logging(level: str = CORE_LEVEL) -> LoggingConfig:
    """Core lines from ``level`` up, forwarded to Python logging (so to the JSON handler):
    the message as core wrote it; target and fields become keys (``add_core_fields``)."""
    return LoggingConfig(
        filter=TelemetryFilter(core_level=level, other_level="ERROR"),
        forwarding=LogForwardingConfig(
            logger=logging.getLogger(CORE_LOGGER),
            append_target_to_name=False,
            prepend_target_on_message=False,
            append_log_fields_to_message=False,
        ),
    )


def install_runtime(with_metrics: bool) -> MetricBuffer | None:
    """Make the default Temporal Runtime forward core logs and, if asked, buffer metrics.

    Must run before the first client connects: clients keep the runtime they started with."""
    buffer = (
        MetricBuffer(METRIC_BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
        if with_metrics
        else None
    )
    runtime = Runtime(telemetry=TelemetryConfig(logging=core_logging(), metrics=buffer))
    Runtime.set_default(runtime, error_if_already_set=False)
    return buffer


def metric_views() -> list[View]:
    """Histogram buckets that fit what is measured (attempts 1-10, scores 1-5, durations)."""
    views = [
        View(instrument_name=name, aggregation=ExplicitBucketHistogramAggregation(bounds))
        for name, bounds in BUCKETS.items()
    ]
    views.append(
        View(
            instrument_type=Histogram,
            instrument_name="temporal_*",
            aggregation=ExplicitBucketHistogramAggregation(TEMPORAL_DURATION_BUCKETS),
        )
    )
    return views


def prometheus_meter_provider(host: str, port: int, service_name: str) -> MeterProvider:
    """Serve ``/metrics`` on ``host:port`` and make its provider the global one."""
    global _metrics_provider
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=host)
    except OSError as failure:
        raise TelemetryError(
            f"cannot serve metrics on {host}:{port}: {failure.strerror or failure}"
        ) from None
    _metrics_provider = provider = MeterProvider(
        metric_readers=[PrometheusMetricReader()],
        views=metric_views(),
        resource=Resource.create({SERVICE_NAME: service_name}),
    )
    metrics.set_meter_provider(provider)
    return provider


def zero_event_counters(provider: MeterProvider) -> None:
    """Workflow-side counters of rare events (escalations, quorum failures, failovers) scrape
    as 0 before the first one: alerts and dashboards see the metric, not an absent series.

    Same meter, name and description as ``MetricBridge`` will create: the same instrument."""
    meter = provider.get_meter(TEMPORAL_METER)
    for name in sorted(EVENT_COUNTERS):
        meter.create_counter(name, unit="", description=DESCRIPTIONS[name]).add(0)


def span_exporter(settings: TelemetrySettings) -> SpanExporter | None:
    if settings.traces == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.otlp_endpoint)
    if settings.traces == "console":
        return ConsoleSpanExporter()
    return None


def configure_tracing(provider: TracerProvider) -> TracingInterceptor:
    """Trace through ``provider``: Temporal calls via the returned interceptor, httpx globally.

    Later workers (``worker_interceptors``) and starter clients (``starter_interceptors``) use it.
    """
    global _tracing
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor.instrument(tracer_provider=provider)
    _tracing = TracingInterceptor(provider.get_tracer(TRACER_NAME))
    return _tracing


def stop_tracing() -> None:
    """Forget the tracing set up by ``configure_tracing`` (tests trace one run each)."""
    global _tracing
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    _tracing = None


def tracing_from_settings(settings: TelemetrySettings) -> TracerProvider | None:
    """A provider exporting as configured, already used by ``configure_tracing``; None if off."""
    exporter = span_exporter(settings)
    if exporter is None:
        return None
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    configure_tracing(provider)
    return provider


def worker_interceptors() -> Sequence[Interceptor]:
    """The tracing interceptor for a worker whose client has none (None configured: none)."""
    return [_tracing] if _tracing else []


def starter_interceptors(settings: TelemetrySettings) -> list[TracingInterceptor]:
    """For a starter's ``Client.connect``: tracing as configured (unless already set up), so
    the start is the root span of the run's trace."""
    if _tracing is None:
        tracing_from_settings(settings)
    return [_tracing] if _tracing else []


def flush_traces() -> None:
    """Export the spans still buffered (a starter exits with ``os._exit``, skipping atexit)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()


@asynccontextmanager
async def worker_telemetry(
    settings: TelemetrySettings, metrics_port: int | None = None
) -> AsyncIterator[None]:
    """Core logs as JSON; ``/metrics`` when a port is set; traces when configured.

    Enter before connecting to Temporal, leave after the worker stopped (a last drain and a
    last flush of spans)."""
    port = metrics_port or settings.metrics_port
    buffer = install_runtime(with_metrics=port is not None)
    async with AsyncExitStack() as stack:
        if port is not None and buffer is not None:
            provider = prometheus_meter_provider(settings.metrics_host, port, settings.service_name)
            zero_event_counters(provider)
            bridge = MetricBridge(buffer, provider.get_meter(TEMPORAL_METER))
            draining = asyncio.create_task(bridge.run(DRAIN_INTERVAL))
            stack.push_async_callback(_stop, draining)
            log.info("serving metrics", extra={"host": settings.metrics_host, "port": port})
        tracer_provider = tracing_from_settings(settings)
        if tracer_provider is not None:
            stack.callback(tracer_provider.shutdown)
        yield


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
