"""The pipeline's own logic without Kafka or faust: the ceiling a worker could reach.

Each encoded source record goes through the same :class:`~hub.pipeline.Pipeline`
methods the worker's agents call (route, correlate, evaluate, including the person
events an evaluation forwards), in one process, with the person views in a dict. The
CPU time per record, set against the worker's, shows what the stream machinery costs
on top of the hub's own work.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from bench.population import PSEUDONYM_KEY
from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.pipeline import PERSON_EVENT, Pipeline
from hub.reference import LiveReference
from hub.rules import RuleSettings
from hub.topics import TopicCatalog

__all__ = ["in_process"]


class _Encoded(Protocol):
    """A source record as bench.run encodes it."""

    @property
    def topic(self) -> str: ...

    @property
    def value(self) -> bytes: ...


async def in_process(records: Sequence[_Encoded]) -> dict[str, float]:
    """CPU milliseconds per source record for route, correlate and evaluate, and the
    records per CPU second they add up to."""
    catalog = SchemaCatalog()
    topics = TopicCatalog()
    pipeline = Pipeline(
        codec=SingleObjectCodec(catalog),
        catalog=catalog,
        topics=topics,
        secret=PSEUDONYM_KEY,
        rule_settings=RuleSettings(),
        clock="event",
    )
    stage = pipeline.new_stage()
    views: dict[str, Any] = {}
    reference = LiveReference({}).data
    spent = {"route": 0.0, "correlate": 0.0, "evaluate": 0.0}
    for record in records:
        began = time.process_time()
        _, value = await pipeline.route(topics.name(record.topic), record.value, [], None)
        routed = time.process_time()
        _, outgoing = await pipeline.correlate(stage, value)
        correlated = time.process_time()
        pending = deque(outgoing)
        while pending:
            key, event_value = pending.popleft()
            event = await pipeline.codec.decode(event_value, catalog[PERSON_EVENT])
            result = pipeline.evaluate(views.get(key), event, reference)
            views[key] = result.state
            for forward in result.forwards:
                pending.append((forward["person_key"], await pipeline.encode_person_event(forward)))
        spent["route"] += routed - began
        spent["correlate"] += correlated - routed
        spent["evaluate"] += time.process_time() - correlated
    count = len(records)
    total = sum(spent.values())
    return {
        **{f"{stage}_cpu_ms_per_event": s * 1000 / count for stage, s in spent.items()},
        "cpu_ms_per_event": total * 1000 / count,
        "events_per_cpu_s": count / total if total else float("nan"),
    }
