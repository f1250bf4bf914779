"""A running connector's own web endpoints (``hub connector run NAME --health-port N``):

- ``GET /health``: its state and counters as JSON; 200 while it runs, 503 when it
  retries, stopped or failed (for a load balancer or Kubernetes probe);
- ``GET /metrics``: the same in Prometheus' text format, read from the live counters
  at each scrape.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from connectors.sdk.health import ConnectorState, Health

__all__ = ["HealthMetrics", "serve_health"]

_RECORD_OUTCOMES = ("emitted", "deleted", "unchanged", "superseded", "dead_lettered")


class HealthMetrics(Collector):
    """A connector's health as Prometheus metrics, labelled with its name only."""

    def __init__(self, health: Health, name: str) -> None:
        self.health = health
        self.name = name

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "hub_connector_up",
            "1 while the connector runs (starting or running), 0 when it retries or stopped.",
            labels=["connector"],
        )
        up.add_metric([self.name], 1.0 if _is_healthy(self.health) else 0.0)
        yield up
        state = GaugeMetricFamily(
            "hub_connector_state",
            "1 for the state the connector is in.",
            labels=["connector", "state"],
        )
        for candidate in ConnectorState:
            state.add_metric([self.name, candidate.value], float(candidate is self.health.state))
        yield state
        records = CounterMetricFamily(
            "hub_connector_records",
            "Source records handled, by outcome.",
            labels=["connector", "outcome"],
        )
        for outcome in _RECORD_OUTCOMES:
            records.add_metric([self.name, outcome], float(getattr(self.health, outcome)))
        yield records
        retries = CounterMetricFamily(
            "hub_connector_retries",
            "Retries after the source or Kafka failed.",
            labels=["connector"],
        )
        retries.add_metric([self.name], float(self.health.retries))
        yield retries
        success = GaugeMetricFamily(
            "hub_connector_last_success_timestamp_seconds",
            "When the connector last delivered something (Unix time; 0 if never).",
            labels=["connector"],
        )
        stamp = self.health.last_success_at
        success.add_metric([self.name], stamp.timestamp() if stamp else 0.0)
        yield success


def _is_healthy(health: Health) -> bool:
    return health.state in (ConnectorState.STARTING, ConnectorState.RUNNING)


async def serve_health(health: Health, name: str, port: int) -> web.AppRunner:
    """Serve ``health`` on 127.0.0.1:``port`` (0: a free port); cleanup() stops it."""
    registry = CollectorRegistry()
    registry.register(HealthMetrics(health, name))

    async def show(_: web.Request) -> web.Response:
        return web.json_response(
            {"connector": name, **health.as_dict()}, status=200 if _is_healthy(health) else 503
        )

    async def metrics(_: web.Request) -> web.Response:
        # aiohttp refuses a charset inside content_type=, so the header is set whole.
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/health", show)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner
