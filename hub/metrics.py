"""Prometheus metrics of a worker, served on its web port at ``/metrics``.

Names follow Prometheus conventions (``_total`` counters, seconds for time). Topic
labels are the catalogue's names (``hub.tasks``), without the prefix, so a dashboard
works for every deployment. No label ever carries a person, a task id or anything
from a record's content: only topics, stages, rules, states and severities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "HubMetrics"]

# Seconds from a source's change to the task transition it caused.
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)


class HubMetrics:
    """The worker's metrics, in a registry of their own (tests make several)."""

    def __init__(self, topic_names: Mapping[str, str] | None = None) -> None:
        self.registry = CollectorRegistry()
        self._logical = dict(topic_names or {})  # cluster name -> catalogue name
        self.records_in = Counter(
            "hub_records_in", "Records read, per topic.", ["topic"], registry=self.registry
        )
        self.records_out = Counter(
            "hub_records_out", "Records written, per topic.", ["topic"], registry=self.registry
        )
        self.dead_letters = Counter(
            "hub_dead_letters",
            "Records sent to the dead-letter topic, per stage that failed.",
            ["stage"],
            registry=self.registry,
        )
        self.findings = Counter(
            "hub_findings",
            "Task transitions proposed by the rules (before the failsafe), per rule and kind.",
            ["rule", "kind"],
            registry=self.registry,
        )
        self.task_transitions = Counter(
            "hub_task_transitions",
            "Task transitions published to hub.tasks, per rule, new state and severity.",
            ["rule", "state", "severity"],
            registry=self.registry,
        )
        self.proposals_read_again = Counter(
            "hub_task_proposals_read_again",
            "Task proposals the failsafe had already taken at the same or a newer state"
            " (read again after a restart or rebalance) and dropped.",
            registry=self.registry,
        )
        self.source_to_task = Histogram(
            "hub_source_to_task_seconds",
            "Time from the newest source change a task's evidence names to its transition.",
            ["state"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "hub_consumer_lag",
            "Records the worker's consumer group is behind, per topic and partition.",
            ["topic", "partition"],
            registry=self.registry,
        )

    def topic(self, name: str) -> str:
        """The catalogue's name of a topic on the cluster (itself if not in the catalogue)."""
        return self._logical.get(name, name)

    def read(self, topic: str) -> None:
        self.records_in.labels(self.topic(topic)).inc()

    def wrote(self, topic: str, count: int = 1) -> None:
        if count:
            self.records_out.labels(self.topic(topic)).inc(count)

    def proposed(self, transitions: Iterable[tuple[str, str]]) -> None:
        """Transitions the rules proposed, as (rule id, kind)."""
        for rule, kind in transitions:
            self.findings.labels(rule, kind).inc()

    def proposal_read_again(self) -> None:
        self.proposals_read_again.inc()

    def published(self, task: Mapping[str, Any], now: datetime | None = None) -> None:
        """A task transition left the failsafe: count it and time it from its evidence."""
        self.task_transitions.labels(task["rule_id"], task["state"], task["severity"]).inc()
        evidence = [*(task.get("evidence") or []), *(task.get("resolution_evidence") or [])]
        stamps = [e["source_timestamp"] for e in evidence if e.get("source_timestamp")]
        if stamps:
            elapsed = ((now or datetime.now(UTC)) - max(stamps)).total_seconds()
            self.source_to_task.labels(task["state"]).observe(max(elapsed, 0.0))

    def set_lag(self, rows: Iterable[tuple[str, int, int]]) -> None:
        """The consumer group's lag now, as (topic, partition, lag)."""
        self.consumer_lag.clear()
        for topic, partition, lag in rows:
            self.consumer_lag.labels(self.topic(topic), str(partition)).set(lag)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
