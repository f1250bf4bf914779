"""The faust app, built by :func:`create_app`. Nothing happens at import time.

Two agents, one per arrow of the design's flow:

- ``correlate``: source topics → ``hub.person-events``, re-keyed by person key.
- ``evaluate``: ``hub.person-events`` → the person-view table → rules → task
  transitions on ``hub.tasks`` (compacted, latest state) and ``hub.task-events``
  (append-only audit).

Faust acknowledges a message even when an agent raises, so both agents catch every
error inside the loop and send the record to ``hub.deadletter`` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

import faust
import structlog
from faust.serializers.codecs import Codec

from hub.avro.catalog import AvroSchema
from hub.avro.registry import RegistryUnavailableError
from hub.avro.wire import read_body, single_object_frame, single_object_unframe, write_body
from hub.deadletter import dead_letter_headers
from hub.errors import HubError, WireFormatError
from hub.pipeline import PERSON_EVENT, PERSON_STATE, TASK, Pipeline
from hub.tasks.lifecycle import Transition

__all__ = ["HubApp", "create_app"]

log = structlog.get_logger("hub.app")

T = TypeVar("T")
_RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


async def _until_available(step: Callable[[], Awaitable[T]], stage: str) -> T:
    """Run ``step``; while the registry is unavailable, wait and run it again.

    An unreachable registry is no fault of the record, so the record must not become
    a dead letter: the stream waits instead (and its lag shows it).
    """
    attempt = 0
    while True:
        try:
            return await step()
        except RegistryUnavailableError as exc:
            delay = _RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)]
            log.error(  # noqa: TRY400 - a traceback adds nothing to "unreachable"
                "registry_unavailable", stage=stage, error=str(exc), retry_in_s=delay
            )
            await asyncio.sleep(delay)
            attempt += 1


class AvroStateCodec(Codec):
    """Faust codec for table values: Avro single-object encoding of one schema."""

    def __init__(self, schema: AvroSchema) -> None:
        super().__init__()
        self.schema = schema

    def _dumps(self, obj: Any) -> bytes:
        return single_object_frame(self.schema.fingerprint, write_body(self.schema.parsed, obj))

    def _loads(self, s: bytes) -> Any:
        fingerprint, body = single_object_unframe(s)
        if fingerprint != self.schema.fingerprint:
            raise WireFormatError(
                f"table value was written with another schema (fingerprint {fingerprint.hex()})"
            )
        return read_body(self.schema.parsed, self.schema.parsed, body)


@dataclass
class HubApp:
    """The faust app and the pipeline it runs."""

    app: faust.App
    pipeline: Pipeline


def create_app(
    *,
    app_id: str,
    bootstrap_servers: str,
    pipeline: Pipeline,
    datadir: Path,
    store: str = "memory://",
    web_port: int = 0,
) -> HubApp:
    """Build the faust app and its agents; nothing connects until the worker starts it."""
    topics = pipeline.topics
    partitions = topics["hub.person-events"].partitions
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap_servers}",
        store=store,
        datadir=str(datadir),
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        stream_wait_empty=False,
        web_enabled=web_port > 0,
        web_port=web_port or 6066,
        web_bind="127.0.0.1",
        broker_commit_every=100,
        broker_commit_interval=timedelta(seconds=1),
    )

    def raw_topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, internal=False)

    sources = app.topic(
        *pipeline.source_topic_names, key_type=bytes, value_type=bytes, internal=False
    )
    person_events = raw_topic(topics.name("hub.person-events"))
    tasks_topic = raw_topic(topics.name("hub.tasks"))
    task_events = raw_topic(topics.name("hub.task-events"))
    dead_letters = raw_topic(topics.name("hub.deadletter"))
    person_views = app.Table("person-view", partitions=partitions, key_type=bytes)
    # Faust derives a table's serializer from its value type; the store and the
    # changelog topic read this attribute lazily, so setting it here makes every
    # changelog record Avro (single-object encoded PersonState).
    cast(Any, person_views).value_serializer = AvroStateCodec(pipeline.catalog[PERSON_STATE])
    event_schema = pipeline.catalog[PERSON_EVENT]
    task_schema = pipeline.catalog[TASK]

    async def dead_letter(event: faust.EventT[Any], exc: BaseException, stage: str) -> None:
        message = event.message
        headers = dead_letter_headers(
            source_topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error=exc,
            stage=stage,
        )
        log.warning(
            "dead_letter",
            stage=stage,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error=str(exc),
            error_type=type(exc).__name__,
        )
        await dead_letters.send(key=message.key, value=message.value, headers=headers)

    @app.agent(sources, name="correlate")
    async def correlate(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            try:
                key, value = await _until_available(
                    partial(pipeline.correlate, event.message.topic, event.value), "correlate"
                )
            except Exception as exc:
                if not isinstance(exc, HubError):
                    log.exception("unexpected_error", stage="correlate")
                await dead_letter(event, exc, "correlate")
                continue
            await person_events.send(key=key.encode(), value=value)

    async def step(
        event: faust.EventT[Any],
    ) -> tuple[dict[str, Any], list[tuple[bytes, bytes, bytes, Transition]]]:
        decoded = await pipeline.codec.decode(event.value, event_schema)
        state, transitions = pipeline.evaluate(person_views.get(event.key), decoded)
        encoded = [
            (
                t.task["task_id"].encode(),
                await pipeline.codec.encode(tasks_topic.get_topic_name(), task_schema, t.task),
                await pipeline.codec.encode(task_events.get_topic_name(), task_schema, t.task),
                t,
            )
            for t in transitions
        ]
        return state, encoded

    @app.agent(person_events, name="evaluate")
    async def evaluate(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            try:
                state, encoded = await _until_available(partial(step, event), "evaluate")
            except Exception as exc:
                if not isinstance(exc, HubError):
                    log.exception("unexpected_error", stage="evaluate")
                await dead_letter(event, exc, "evaluate")
                continue
            person_views[event.key] = state
            for task_key, latest, audit, transition in encoded:
                await task_events.send(key=task_key, value=audit)
                await tasks_topic.send(key=task_key, value=latest)
                log.info(
                    "task_transition",
                    transition=transition.kind,
                    task_id=transition.task["task_id"],
                    rule_id=transition.task["rule_id"],
                    revision=transition.task["revision"],
                )

    return HubApp(app=app, pipeline=pipeline)
