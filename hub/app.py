"""The faust app, built by :func:`create_app`. Nothing happens at import time.

Three agents, one per arrow of the design's flow, and a timer:

- ``route``: source topics → ``hub.identity-input``, re-keyed by institution.
- ``correlate``: ``hub.identity-input`` → the identity table and the correlation
  stage → ``hub.person-events``, keyed by person.
- ``evaluate``: ``hub.person-events`` → the person-view table → rules → task
  transitions on ``hub.tasks`` (compacted, latest state) and ``hub.task-events``
  (append-only audit); records and tasks that move to another person after a merge
  go back to ``hub.person-events`` under that person's key.
- ``recheck`` (wall clock): every ``recheck_interval`` seconds, persons whose next
  re-check has come get a RECHECK event.

Faust acknowledges a message even when an agent raises, so both agents catch every
error inside the loop and send the record to ``hub.deadletter`` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

import faust
import structlog
from faust.serializers.codecs import Codec

from hub.avro.catalog import AvroSchema
from hub.avro.registry import RegistryUnavailableError
from hub.avro.wire import read_body, single_object_frame, single_object_unframe, write_body
from hub.correlation.stage import CorrelationStage
from hub.deadletter import dead_letter_headers
from hub.errors import HubError, WireFormatError
from hub.pipeline import (
    FAILSAFE_COMMAND,
    FAILSAFE_GATE,
    FAILSAFE_INCIDENT,
    IDENTITY_STATE,
    PERSON_EVENT,
    PERSON_STATE,
    REFERENCE_RECORD,
    TASK,
    TASK_FEEDBACK,
    TASK_PROPOSAL,
    Evaluation,
    Pipeline,
)
from hub.recheck import RecheckSchedule
from hub.reference import REFERENCE_SOURCES, keys_for, reference_data
from hub.tasks.failsafe import admit, decide, gate_key, new_gate

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


@dataclass
class _Wiring:
    """The app's topics, tables and helpers, shared by the agents."""

    app: faust.App
    pipeline: Pipeline
    partitions: int

    def __post_init__(self) -> None:
        topics = self.pipeline.topics
        self.sources = self.app.topic(
            *self.pipeline.source_topic_names, key_type=bytes, value_type=bytes, internal=False
        )
        self.identity_input = self.raw_topic(topics.name("hub.identity-input"))
        self.person_events = self.raw_topic(topics.name("hub.person-events"))
        self.tasks_topic = self.raw_topic(topics.name("hub.tasks"))
        self.task_events = self.raw_topic(topics.name("hub.task-events"))
        self.dead_letters = self.raw_topic(topics.name("hub.deadletter"))
        self.previews = self.raw_topic(topics.name("hub.rule-preview"))
        self.proposals_topic = topics.name("hub.task-proposals")
        self.commands_topic = topics.name("hub.failsafe-commands")
        self.gate_input = self.app.topic(
            self.proposals_topic,
            self.commands_topic,
            key_type=bytes,
            value_type=bytes,
            internal=False,
        )
        self.proposals = self.raw_topic(self.proposals_topic)
        self.incidents = self.raw_topic(topics.name("hub.failsafe"))
        self.feedback = self.raw_topic(topics.name("hub.task-feedback"))
        self.gates = self.avro_table("failsafe-gate", FAILSAFE_GATE)
        self.person_views = self.avro_table("person-view", PERSON_STATE)
        self.reference_topics = self.app.topic(
            *(topics.name(t) for t in REFERENCE_SOURCES),
            key_type=bytes,
            value_type=bytes,
            internal=False,
        )
        # Org units: every worker holds all of them (a global table).
        self.reference_table = self.app.GlobalTable(
            "reference", partitions=self.partitions, key_type=bytes
        )
        cast(Any, self.reference_table).value_serializer = AvroStateCodec(
            self.pipeline.catalog[REFERENCE_RECORD]
        )
        self.reference = reference_data(self.reference_table)
        self.identities = self.avro_table("identity", IDENTITY_STATE)
        # The correlation stage keeps its index in memory, rebuilt from the identity
        # table after every rebalance (faust has recovered the table by then).
        self.correlation: dict[str, CorrelationStage] = {}
        # Re-checks of this worker's persons, rebuilt from the person views likewise.
        self.schedule = RecheckSchedule()
        self.schedule_ready = False
        self.watermark: datetime | None = None  # the newest event time seen (event clock)
        self.app.on_partitions_revoked.connect(self._forget_correlation)
        self.app.on_partitions_assigned.connect(self._forget_correlation)

    def raw_topic(self, name: str) -> Any:
        return self.app.topic(name, key_type=bytes, value_type=bytes, internal=False)

    def avro_table(self, name: str, schema: str) -> Any:
        table = self.app.Table(name, partitions=self.partitions, key_type=bytes)
        # Faust derives a table's serializer from its value type; the store and the
        # changelog topic read this attribute lazily, so setting it here makes every
        # changelog record Avro (single-object encoded).
        cast(Any, table).value_serializer = AvroStateCodec(self.pipeline.catalog[schema])
        return table

    def _forget_correlation(self, *_args: Any, **_kwargs: Any) -> None:
        self.correlation.clear()
        self.schedule.clear()
        self.schedule_ready = False

    def recheck_schedule(self) -> RecheckSchedule:
        if not self.schedule_ready:
            for key, state in self.person_views.items():
                self.schedule.set(key, state.get("next_check"))
            self.schedule_ready = True
        return self.schedule

    async def send_rechecks(self, now: datetime) -> None:
        """A RECHECK event for every person whose re-check moment has come by ``now``."""
        for key, due in self.recheck_schedule().pop_due(now):
            state = self.person_views.get(key)
            if state is None:
                continue
            event = self.pipeline.recheck_event(state, due)
            await self.person_events.send(
                key=key, value=await self.pipeline.encode_person_event(event)
            )

    def correlation_stage(self) -> CorrelationStage:
        if "stage" not in self.correlation:
            stage = self.pipeline.new_stage()
            stage.restore(self.identities.values())
            self.correlation["stage"] = stage
        return self.correlation["stage"]

    async def dead_letter(self, event: faust.EventT[Any], exc: BaseException, stage: str) -> None:
        if not isinstance(exc, HubError):
            log.error("unexpected_error", stage=stage, error=repr(exc), exc_info=exc)
        message = event.message
        log.warning(
            "dead_letter",
            stage=stage,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error=str(exc),
            error_type=type(exc).__name__,
        )
        headers = dead_letter_headers(
            source_topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error=exc,
            stage=stage,
        )
        await self.dead_letters.send(key=message.key, value=message.value, headers=headers)

    async def publish(self, proposals: list[dict[str, Any]]) -> None:
        """Publish task transitions the failsafe let through."""
        schema = self.pipeline.catalog[TASK]
        for proposal in proposals:
            task = proposal["task"]
            task_key = task["task_id"].encode()
            encode = self.pipeline.codec.encode
            audit = await encode(self.task_events.get_topic_name(), schema, task)
            latest = await encode(self.tasks_topic.get_topic_name(), schema, task)
            await self.task_events.send(key=task_key, value=audit)
            await self.tasks_topic.send(key=task_key, value=latest)
            log.info(
                "task_transition",
                transition=proposal["kind"],
                task_id=task["task_id"],
                rule_id=task["rule_id"],
                revision=task["revision"],
            )


@dataclass
class _Outputs:
    """What one evaluation sends: task transitions, person events, rule previews."""

    proposals: list[tuple[bytes, bytes]]
    forwards: list[tuple[bytes, bytes]]
    previews: list[tuple[bytes, bytes]]


def _route_agent(w: _Wiring) -> None:
    @w.app.agent(w.sources, name="route")
    async def route(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            try:
                institution, value = await _until_available(
                    partial(w.pipeline.route, event.message.topic, event.value), "route"
                )
            except Exception as exc:  # every failure becomes a dead letter
                await w.dead_letter(event, exc, "route")
                continue
            await w.identity_input.send(key=institution.encode(), value=value)


def _reference_agent(w: _Wiring) -> None:
    logical = {w.pipeline.topics.name(t): t for t in REFERENCE_SOURCES}

    async def decode(topic: str, value: bytes | None) -> tuple[str, dict[str, Any]]:
        if value is None:
            raise HubError("the record has no value (a tombstone is not an org unit)")
        source = logical[topic]
        schema = w.pipeline.catalog[REFERENCE_SOURCES[source]]
        return source, await w.pipeline.codec.decode(value, schema)

    @w.app.agent(w.reference_topics, name="reference")
    async def reference(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            try:
                source, record = await _until_available(
                    partial(decode, event.message.topic, event.value), "reference"
                )
            except Exception as exc:  # every failure becomes a dead letter
                await w.dead_letter(event, exc, "reference")
                continue
            for key in keys_for(source, record):
                w.reference_table[key.encode()] = {"source_topic": source, "record": record}


def _correlate_agent(w: _Wiring) -> None:
    @w.app.agent(w.identity_input, name="correlate")
    async def correlate(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            try:
                stage = w.correlation_stage()
                states, outgoing = await _until_available(
                    partial(w.pipeline.correlate, stage, event.value), "correlate"
                )
            except Exception as exc:  # every failure becomes a dead letter
                if not isinstance(exc, HubError):
                    w.correlation.clear()  # the in-memory index may be half-updated
                await w.dead_letter(event, exc, "correlate")
                continue
            for ref, state in states:
                if state is None:
                    w.identities.pop(ref.encode(), None)
                else:
                    w.identities[ref.encode()] = state
            for key, value in outgoing:
                await w.person_events.send(key=key.encode(), value=value)


def _evaluate_agent(w: _Wiring) -> None:
    task_schema = w.pipeline.catalog[TASK]
    proposal_schema = w.pipeline.catalog[TASK_PROPOSAL]
    event_schema = w.pipeline.catalog[PERSON_EVENT]

    async def evaluate_one(event: faust.EventT[Any]) -> tuple[Evaluation, _Outputs]:
        decoded = await w.pipeline.codec.decode(event.value, event_schema)
        result = w.pipeline.evaluate(w.person_views.get(event.key), decoded, w.reference)
        encode = w.pipeline.codec.encode
        outputs = _Outputs(
            proposals=[
                (
                    gate_key(t.task["institution"], t.task["rule_id"]).encode(),
                    await encode(
                        w.proposals_topic, proposal_schema, {"kind": t.kind, "task": t.task}
                    ),
                )
                for t in result.transitions
            ],
            forwards=[
                (f["person_key"].encode(), await w.pipeline.encode_person_event(f))
                for f in result.forwards
            ],
            previews=[
                (p["task_id"].encode(), await encode(w.previews.get_topic_name(), task_schema, p))
                for p in result.previews
            ],
        )
        return result, outputs

    @w.app.agent(w.person_events, name="evaluate")
    async def evaluate(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            try:
                result, outputs = await _until_available(partial(evaluate_one, event), "evaluate")
            except Exception as exc:  # every failure becomes a dead letter
                await w.dead_letter(event, exc, "evaluate")
                continue
            if result.state is None:
                w.person_views.pop(event.key, None)
            else:
                w.person_views[event.key] = result.state
            w.recheck_schedule().set(
                event.key, result.state.get("next_check") if result.state else None
            )
            for key, value in outputs.proposals:
                await w.proposals.send(key=key, value=value)
            for key, value in outputs.forwards:
                await w.person_events.send(key=key, value=value)
            for key, value in outputs.previews:
                await w.previews.send(key=key, value=value)
            if w.pipeline.clock == "event" and result.now is not None:
                if w.watermark is None or result.now > w.watermark:
                    w.watermark = result.now
                await w.send_rechecks(w.watermark)


def _failsafe_agent(w: _Wiring) -> None:
    catalog = w.pipeline.catalog

    async def step(
        event: faust.EventT[Any],
    ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
        if not isinstance(event.key, bytes) or b"|" not in event.key:
            raise HubError(f"a failsafe record needs the key institution|rule, not {event.key!r}")
        institution, rule_id = event.key.decode().split("|", 1)
        gate = w.gates.get(event.key) or new_gate(institution, rule_id)
        if event.message.topic == w.commands_topic:
            command = await w.pipeline.codec.decode(event.value, catalog[FAILSAFE_COMMAND])
            log.info(
                "failsafe_decision",
                incident_id=command["incident_id"],
                decision=command["decision"],
                decided_by=command["decided_by"],
            )
            return decide(gate, command)
        proposal = await w.pipeline.codec.decode(event.value, catalog[TASK_PROPOSAL])
        settings = w.pipeline.settings_for(institution).failsafe
        return admit(gate, proposal, settings)

    @w.app.agent(w.gate_input, name="failsafe")
    async def failsafe(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            try:
                gate, publish, incident = await _until_available(partial(step, event), "failsafe")
                value = (
                    await w.pipeline.codec.encode(
                        w.incidents.get_topic_name(), catalog[FAILSAFE_INCIDENT], incident
                    )
                    if incident is not None
                    else None
                )
            except Exception as exc:  # every failure becomes a dead letter
                await w.dead_letter(event, exc, "failsafe")
                continue
            w.gates[event.key] = gate
            await w.publish(publish)
            if incident is not None and value is not None:
                if incident["state"] == "HOLDING" and incident["held"] == 1:
                    log.warning(
                        "failsafe_tripped",
                        incident_id=incident["incident_id"],
                        rule_id=incident["rule_id"],
                        opened=incident["opened_in_window"],
                        resolved=incident["resolved_in_window"],
                    )
                await w.incidents.send(key=incident["incident_id"].encode(), value=value)


def _feedback_agent(w: _Wiring) -> None:
    """Decisions about tasks (accept or withdraw an exception) go to the task's person."""
    schema = w.pipeline.catalog[TASK_FEEDBACK]

    async def step(event: faust.EventT[Any]) -> tuple[str, bytes]:
        feedback = await w.pipeline.codec.decode(event.value, schema)
        person = w.pipeline.feedback_event(feedback)
        return feedback["person_key"], await w.pipeline.encode_person_event(person)

    @w.app.agent(w.feedback, name="feedback")
    async def feedback(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            try:
                key, value = await _until_available(partial(step, event), "feedback")
            except Exception as exc:  # every failure becomes a dead letter
                await w.dead_letter(event, exc, "feedback")
                continue
            await w.person_events.send(key=key.encode(), value=value)


def _recheck_timer(w: _Wiring, interval: float) -> None:
    async def recheck() -> None:
        """Wall clock: persons whose re-check moment has come are evaluated again."""
        if w.pipeline.clock == "wall":
            await w.send_rechecks(datetime.now(UTC))

    cast(Any, w.app.timer(interval, name="recheck"))(recheck)


def create_app(
    *,
    app_id: str,
    bootstrap_servers: str,
    pipeline: Pipeline,
    datadir: Path,
    store: str = "memory://",
    web_port: int = 0,
    recheck_interval: float = 30.0,
) -> HubApp:
    """Build the faust app and its agents; nothing connects until the worker starts it."""
    partitions = pipeline.topics["hub.person-events"].partitions
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
    wiring = _Wiring(app, pipeline, partitions)
    _route_agent(wiring)
    _reference_agent(wiring)
    _correlate_agent(wiring)
    _evaluate_agent(wiring)
    _failsafe_agent(wiring)
    _feedback_agent(wiring)
    _recheck_timer(wiring, recheck_interval)
    return HubApp(app=app, pipeline=pipeline)
