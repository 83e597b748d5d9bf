"""Temporal's buffered metrics (its SDK metrics and every ``workflow.metric_meter()`` record)
drained into OpenTelemetry instruments, so one Prometheus reader serves them with Autopilot's.

Instruments are keyed by metric name and series by label values. Not by object identity, as
``temporalio.contrib.opentelemetry.MetricsExporter`` does: workflow code creates a new metric
and attribute object per record, and once those are freed Python reuses their ids, which sent
records to another metric's instrument or labels.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Mapping
from contextlib import suppress
from datetime import timedelta

from opentelemetry.metrics import (
    CallbackOptions,
    Counter,
    Histogram,
    Meter,
    Observation,
)
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_HISTOGRAM,
    BufferedMetric,
    BufferedMetricUpdate,
    MetricBuffer,
)

Labels = dict[str, str | int | float | bool]
SeriesKey = frozenset[tuple[str, str | int | float | bool]]
log = logging.getLogger("autopilot.telemetry")


class MetricBridge:
    def __init__(self, buffer: MetricBuffer, meter: Meter) -> None:
        self._buffer = buffer
        self._meter = meter
        self._counters: dict[str, Counter] = {}
        self._histograms: dict[str, Histogram] = {}
        self._gauges: dict[str, dict[SeriesKey, tuple[Labels, float]]] = {}
        self._lock = threading.Lock()  # gauge callbacks run on the scrape's thread

    def drain(self) -> int:
        """Move every buffered update into its instrument; how many there were."""
        updates = self._buffer.retrieve_updates()
        for update in updates:
            try:
                self._apply(update)
            except Exception:  # one odd update must not stop the others
                log.exception("could not export Temporal metric %s", update.metric.name)
        return len(updates)

    def _apply(self, update: BufferedMetricUpdate) -> None:
        metric, labels = update.metric, dict(update.attributes)
        if metric.kind == BUFFERED_METRIC_KIND_COUNTER:
            self._counter(metric).add(update.value, labels)
        elif metric.kind == BUFFERED_METRIC_KIND_HISTOGRAM:
            self._histogram(metric).record(update.value, labels)
        else:
            with self._lock:
                series = self._gauge(metric)
                series[frozenset(labels.items())] = (labels, update.value)

    def _counter(self, metric: BufferedMetric) -> Counter:
        if metric.name not in self._counters:
            self._counters[metric.name] = self._meter.create_counter(
                metric.name, unit=metric.unit or "", description=metric.description or ""
            )
        return self._counters[metric.name]

    def _histogram(self, metric: BufferedMetric) -> Histogram:
        if metric.name not in self._histograms:
            self._histograms[metric.name] = self._meter.create_histogram(
                metric.name, unit=metric.unit or "", description=metric.description or ""
            )
        return self._histograms[metric.name]

    def _gauge(self, metric: BufferedMetric) -> dict[SeriesKey, tuple[Labels, float]]:
        if metric.name not in self._gauges:
            series: dict[SeriesKey, tuple[Labels, float]] = {}
            self._gauges[metric.name] = series
            self._meter.create_observable_gauge(
                metric.name,
                callbacks=[lambda options: self._observe(series, options)],
                unit=metric.unit or "",
                description=metric.description or "",
            )
        return self._gauges[metric.name]

    def _observe(
        self, series: Mapping[SeriesKey, tuple[Labels, float]], _: CallbackOptions
    ) -> Iterable[Observation]:
        with self._lock:
            return [Observation(value, labels) for labels, value in series.values()]

    async def run(self, interval: timedelta) -> None:
        """Drain every ``interval`` until cancelled, then once more."""
        try:
            while True:
                self.drain()
                await asyncio.sleep(interval.total_seconds())
        finally:
            with suppress(Exception):
                self.drain()
