"""Prometheus metrics of one app instance (its own registry: no process globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _CallbackCollector(Collector):
    """Reads gauges (and counters kept by their owner) at scrape time from callbacks (pool
    size, open sockets, the push worker's counts)."""

    def __init__(self) -> None:
        self.callbacks: dict[str, tuple[str, Callable[[], float]]] = {}
        self.counters: dict[str, tuple[str, Callable[[], float]]] = {}

    def collect(self) -> Iterator[Metric]:
        for family, callbacks in (
            (GaugeMetricFamily, self.callbacks),
            (CounterMetricFamily, self.counters),
        ):
            for name, (doc, callback) in callbacks.items():
                try:
                    value = float(callback())
                except Exception:  # a scrape must never fail because one source is down
                    continue
                yield family(name, doc, value=value)


class Metrics:
    """Every metric the hub exports; one instance per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._gauges = _CallbackCollector()
        self.registry.register(self._gauges)
        self.http_requests = Counter(
            "tradeshub_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "tradeshub_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.socket_events = Counter(
            "tradeshub_socket_events_total",
            "Socket.IO client events by name and outcome (ok or an error code).",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.socket_connects = Counter(
            "tradeshub_socket_connects_total",
            "Socket.IO connection attempts by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.fanout_degraded = Gauge(
            "tradeshub_fanout_degraded",
            "1 while the cross-node fan-out (Redis) is unreachable, else 0.",
            registry=self.registry,
        )
        self.location_points = Counter(
            "tradeshub_location_points_total",
            "Location points received, by outcome (accepted or the noise reason).",
            ["outcome"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "tradeshub_fanout_deliveries_total",
            "Events written to sockets by the room broadcaster, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.dropped = Counter(
            "tradeshub_fanout_superseded_total",
            "Location events replaced by a newer one before a slow socket could take them.",
            registry=self.registry,
        )
        self.live_state_write_failures = Counter(
            "tradeshub_live_state_write_failures_total",
            "Failed writes of live positions to Redis (each retried; points kept on the node).",
            registry=self.registry,
        )
        self.chat_messages = Counter(
            "tradeshub_chat_messages_total",
            "Chat messages stored.",
            registry=self.registry,
        )

    def gauge(self, name: str, doc: str, callback: Callable[[], float]) -> None:
        """Export ``callback()`` as gauge ``name`` at every scrape."""
        self._gauges.callbacks[name] = (doc, callback)

    def counter(self, name: str, doc: str, callback: Callable[[], float]) -> None:
        """Export ``callback()`` (a count that only grows) as counter ``name`` (``_total``
        is added) at every scrape."""
        self._gauges.counters[name] = (doc, callback)
