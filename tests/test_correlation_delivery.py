"""Correlation and person views together, as Kafka delivers: records reach correlation
in any order, and person events reach each person in order per person but
interleaved at random across persons. Every delivery ends in the same views."""

from __future__ import annotations

import json
import random
from collections import deque
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.dfo.mapping import map_employee
from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.pipeline import Pipeline
from hub.rules import RuleSettings
from hub.topics import TopicCatalog
from tests.test_correlation_through_kafka import FNR_A, _dfo_body, _records

SECRET = "delivery-secret"
CATALOG = SchemaCatalog()
PIPELINE = Pipeline(
    codec=SingleObjectCodec(CATALOG),
    catalog=CATALOG,
    topics=TopicCatalog(),
    secret=SECRET,
    rule_settings=RuleSettings(),
    clock="event",
)
RECORDS: list[tuple[str, dict[str, Any]]] = [
    (
        "source.dfo.employee",
        map_employee(
            json.loads(_dfo_body("00123456", FNR_A, "uio.no")),
            institution="uio",
            secret=SECRET,
            fetched_at=datetime.now(UTC),
        ),
    ),
    *_records(SECRET),
]


def deliver(order: list[int], rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """Run correlation over the records in ``order``; deliver person events per person
    in order but interleaved at random; return each person's (ref, status) list."""
    stage = PIPELINE.new_stage()
    queues: dict[str, deque[dict[str, Any]]] = {}

    def enqueue(event: dict[str, Any]) -> None:
        if isinstance(event.get("record"), tuple):
            event = {**event, "record": event["record"][1]}
        queues.setdefault(event["person_key"], deque()).append(event)

    for i in order:
        _, outgoing = stage.process(*RECORDS[i])
        for out in outgoing:
            enqueue(out.event)
        # Some person events get delivered before the next record is correlated.
        views_step(queues, rng, enqueue, budget=rng.randint(0, 3))
    views_step(queues, rng, enqueue, budget=10_000)
    return {
        key: sorted((r["ref"], (r["link"] or {}).get("status", "")) for r in state["records"])
        for key, state in VIEWS.items()
        if state["records"]
    }


VIEWS: dict[str, dict[str, Any]] = {}


def views_step(
    queues: dict[str, deque[dict[str, Any]]], rng: random.Random, enqueue: Any, budget: int
) -> None:
    for _ in range(budget):
        ready = [key for key, queue in queues.items() if queue]
        if not ready:
            return
        key = rng.choice(sorted(ready))
        event = queues[key].popleft()
        result = PIPELINE.evaluate(VIEWS.get(key), event)
        if result.state is None:
            VIEWS.pop(key, None)
        else:
            VIEWS[key] = result.state
        for forward in result.forwards:
            enqueue(forward)


def run(order: list[int], seed: int) -> dict[str, list[tuple[str, str]]]:
    VIEWS.clear()
    return deliver(order, random.Random(seed))


EXPECTED = run(list(range(len(RECORDS))), 0)


class TestDelivery:
    @settings(max_examples=250, deadline=None)
    @given(st.permutations(list(range(len(RECORDS)))), st.integers(0, 2**32))
    def test_any_record_order_and_any_interleaving_end_in_the_same_views(
        self, order: list[int], seed: int
    ) -> None:
        """Records moved by merges and splits always end with their final person."""
        assert run(order, seed) == EXPECTED

    def test_the_expected_views_are_right(self) -> None:
        """The reference run puts Kari's records together and the typo apart."""
        kari = [
            refs for refs in EXPECTED.values() if ("source.dfo.employee/123456", "LINKED") in refs
        ]
        assert len(kari) == 1
        assert ("source.dfo.position/30012345#123456", "LINKED") in kari[0]
        assert ("source.greg.person/31", "LINKED") in kari[0]
        disputed = [r for r in EXPECTED.values() if ("source.iam.person/9002", "DISPUTED") in r]
        assert len(disputed) == 1
