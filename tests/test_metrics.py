"""The worker's Prometheus metrics: what is counted, under which labels, and that no
label carries anything about a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from hub.metrics import HubMetrics

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def _samples(metrics: HubMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_records_are_counted_under_the_catalogue_name_of_their_topic() -> None:
    metrics = HubMetrics({"t1.hub.tasks": "hub.tasks"})
    metrics.read("t1.hub.tasks")
    metrics.wrote("t1.hub.tasks", 2)
    metrics.wrote("elsewhere")
    samples = _samples(metrics)
    assert samples["hub_records_in_total", (("topic", "hub.tasks"),)] == 1
    assert samples["hub_records_out_total", (("topic", "hub.tasks"),)] == 2
    assert samples["hub_records_out_total", (("topic", "elsewhere"),)] == 1


def test_a_published_task_is_counted_and_timed_from_its_newest_evidence() -> None:
    metrics = HubMetrics()
    task = {
        "task_id": "task-secret-id",
        "person_key": "p-secret",
        "rule_id": "access.new_hire_without_account",
        "state": "OPEN",
        "severity": "P1",
        "evidence": [
            {"system": "dfo", "field": "a", "source_timestamp": NOW - timedelta(seconds=90)},
            {"system": "iam", "field": "b", "source_timestamp": NOW - timedelta(seconds=3)},
            {"system": "iam", "field": "c", "source_timestamp": None},
        ],
        "resolution_evidence": [],
    }
    metrics.published(task, now=NOW)
    metrics.proposed([("access.new_hire_without_account", "OPENED")])
    samples = _samples(metrics)
    labels = (
        ("rule", "access.new_hire_without_account"),
        ("severity", "P1"),
        ("state", "OPEN"),
    )
    assert samples["hub_task_transitions_total", labels] == 1
    assert samples["hub_source_to_task_seconds_sum", (("state", "OPEN"),)] == 3.0
    assert samples["hub_source_to_task_seconds_bucket", (("le", "2.5"), ("state", "OPEN"))] == 0
    assert samples["hub_source_to_task_seconds_bucket", (("le", "5.0"), ("state", "OPEN"))] == 1
    assert (
        samples[
            "hub_findings_total",
            (("kind", "OPENED"), ("rule", "access.new_hire_without_account")),
        ]
        == 1
    )
    text = metrics.exposition().decode()
    assert "secret" not in text, "no task id or person key in any label"


def test_lag_replaces_the_previous_reading() -> None:
    metrics = HubMetrics({"x.hub.person-events": "hub.person-events"})
    metrics.set_lag([("x.hub.person-events", 0, 5), ("x.hub.person-events", 1, 2)])
    metrics.set_lag([("x.hub.person-events", 1, 0)])
    samples = _samples(metrics)
    assert samples["hub_consumer_lag", (("partition", "1"), ("topic", "hub.person-events"))] == 0
    assert ("hub_consumer_lag", (("partition", "0"), ("topic", "hub.person-events"))) not in samples
