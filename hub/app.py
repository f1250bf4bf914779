"""The faust app, built by :func:`create_app`. Nothing happens at import time.

Three agents, one per arrow of the design's flow, and a timer:

- ``route``: source topics → ``hub.identity-input``, re-keyed by institution (each on a
  partition of its own, :mod:`hub.correlation.partition`).
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
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

import faust
import structlog
from faust.serializers.codecs import Codec
from faust.streams import _current_event  # where faust's tables find the record's partition
from faust.types import TP

from hub.avro.catalog import AvroSchema
from hub.avro.registry import RegistryUnavailableError
from hub.avro.wire import read_body, single_object_frame, single_object_unframe, write_body
from hub.consumer_lag import hub_reads, read_lag, standing_still
from hub.correlation.stage import CorrelationStage
from hub.deadletter import message_dead_letter_headers
from hub.errors import HubError, WireFormatError
from hub.faust_consumer import FETCH_WAIT_MS, SeekSafeConsumer, SeekSafeTransport
from hub.metrics import CONTENT_TYPE_LATEST, HubMetrics
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
from hub.reference import REFERENCE_SOURCES, LiveReference, deleted_keys, keys_for
from hub.source_deletion import deletion_of
from hub.task_dump import install_task_dump
from hub.tasks.failsafe import admit, decide, gate_key, new_gate, supersedes
from hub.topics import TopicSpec, ensure_topic_specs

__all__ = ["HubApp", "create_app", "rocksdb_options"]

log = structlog.get_logger("hub.app")

T = TypeVar("T")
_RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# The stateful agents take their records in batches: up to BATCH_MAX records, or what
# arrived within BATCH_WITHIN_S seconds. A batch's outputs are awaited once, not per
# record, which is what a round trip to the broker per record cost.
BATCH_MAX = 500
BATCH_WITHIN_S = 0.02


def _published_at(event: faust.EventT[Any]) -> datetime | None:
    """When a Kafka record was published (its timestamp), if the broker says."""
    stamp = event.message.timestamp
    return datetime.fromtimestamp(stamp, UTC) if stamp else None


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
    """Faust codec for table values: Avro single-object encoding of one schema.

    ``tagged`` returns a value with the branch of each union of records named (Avro
    tuple notation, :meth:`Pipeline.tagged_state`); otherwise the writer tries the value
    against every branch of such a union."""

    def __init__(self, schema: AvroSchema, tagged: Callable[[Any], Any] | None = None) -> None:
        super().__init__()
        self.schema = schema
        self.tagged = tagged

    def _dumps(self, obj: Any) -> bytes:
        value = self.tagged(obj) if self.tagged is not None else obj
        return single_object_frame(self.schema.fingerprint, write_body(self.schema.parsed, value))

    def _loads(self, s: bytes) -> Any:
        fingerprint, body = single_object_unframe(s)
        if fingerprint != self.schema.fingerprint:
            raise WireFormatError(
                f"table value was written with another schema (fingerprint {fingerprint.hex()})"
            )
        return read_body(self.schema.parsed, self.schema.parsed, body)


def rocksdb_options(write_buffer_mb: int, block_cache_mb: int) -> dict[str, int]:
    """faust's RocksDB options for each table partition's database: two memtables of
    ``write_buffer_mb`` and a read cache of ``block_cache_mb`` (faust's own defaults,
    three of 64 MB and 2 GB, would let a worker's tables outgrow its memory limit)."""
    mb = 1024 * 1024
    return {
        "write_buffer_size": write_buffer_mb * mb,
        "max_write_buffer_number": 2,
        "block_cache_size": block_cache_mb * mb,
    }


def _forget_after_changelog(table: Any, forget: Callable[[], None]) -> None:
    """Call ``forget`` each time ``table`` has applied a batch of changelog records (a
    recovery, or another worker's changes to a global table). faust's own
    ``on_changelog_event`` is called before the record is applied, too early."""
    original = table.apply_changelog_batch

    def apply_then_forget(batch: Any) -> None:
        original(batch)
        forget()

    table.apply_changelog_batch = apply_then_forget


def _serialize_as(table: Any, codec: Codec) -> None:
    """Make a table write and read its values, in its store and its changelog, with
    ``codec``. Faust derives a table's serializer from its value type, and its changelog
    topic is made with that serializer when the table is made; both must be replaced,
    or a restarted worker cannot read its own changelog back."""
    table.value_serializer = codec
    topic = table.changelog_topic
    topic.value_serializer = codec
    topic.schema.value_serializer = codec


@dataclass
class HubApp:
    """The faust app and the pipeline it runs."""

    app: faust.App
    pipeline: Pipeline
    metrics: HubMetrics


@dataclass
class _Wiring:
    """The app's topics, tables and helpers, shared by the agents."""

    app: faust.App
    pipeline: Pipeline
    partitions: int
    metrics: HubMetrics
    store_options: Mapping[str, Any]

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
        # Per task, the state the gate last took: proposals read again are dropped.
        self.gated_tasks = self.avro_table("failsafe-tasks", TASK)
        self.person_views = self.avro_table(
            "person-view", PERSON_STATE, tagged=self.pipeline.tagged_state
        )
        self.reference_topics = self.app.topic(
            *(topics.name(t) for t in REFERENCE_SOURCES),
            key_type=bytes,
            value_type=bytes,
            internal=False,
        )
        # Org units: every worker holds all of them (a global table).
        self.reference_table = self.app.GlobalTable(
            "reference",
            partitions=self.partitions,
            key_type=bytes,
            options=dict(self.store_options),
        )
        _serialize_as(self.reference_table, AvroStateCodec(self.pipeline.catalog[REFERENCE_RECORD]))
        self.live_reference = LiveReference(self.reference_table)
        self.reference = self.live_reference.data
        _forget_after_changelog(self.reference_table, self.live_reference.forget)
        self.identities = self.avro_table("identity", IDENTITY_STATE)
        # The correlation stage keeps its index in memory, rebuilt from the identity
        # table after every rebalance (faust has recovered the table by then).
        self.correlation: dict[str, CorrelationStage] = {}
        # Re-checks of this worker's persons, rebuilt from the person views likewise.
        self.schedule = RecheckSchedule()
        self.schedule_ready = False
        self.watermark: datetime | None = None  # the newest event time seen (event clock)
        # the topics this app's group reads, for its lag (the stall watch, /metrics)
        self.reads = hub_reads(self.app.conf.id, topics)
        self.app.on_partitions_revoked.connect(self._forget_correlation)
        self.app.on_partitions_assigned.connect(self._forget_correlation)

    async def send(
        self,
        channel: Any,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
    ) -> Any:
        """Send one record to a topic and count it; return the future of its delivery.
        Without ``partition``, the key's hash places it."""
        future = await channel.send(key=key, value=value, headers=headers, partition=partition)
        self.metrics.wrote(channel.get_topic_name())
        return future

    def raw_topic(self, name: str) -> Any:
        return self.app.topic(name, key_type=bytes, value_type=bytes, internal=False)

    def avro_table(self, name: str, schema: str, tagged: Callable[[Any], Any] | None = None) -> Any:
        table = self.app.Table(
            name, partitions=self.partitions, key_type=bytes, options=dict(self.store_options)
        )
        _serialize_as(table, AvroStateCodec(self.pipeline.catalog[schema], tagged))
        return table

    def _forget_correlation(self, *_args: Any, **_kwargs: Any) -> None:
        self.live_reference.forget()  # recovery may have changed the reference table
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
            await self.send(
                self.person_events, key=key, value=await self.pipeline.encode_person_event(event)
            )

    def correlation_stage(self) -> CorrelationStage:
        if "stage" not in self.correlation:
            stage = self.pipeline.new_stage()
            stage.restore(self.identities.values())
            self.correlation["stage"] = stage
        return self.correlation["stage"]

    async def dead_letter(self, event: faust.EventT[Any], exc: BaseException, stage: str) -> Any:
        self.metrics.dead_letters.labels(stage).inc()
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
        headers = message_dead_letter_headers(message, error=exc, stage=stage)
        return await self.send(
            self.dead_letters, key=message.key, value=message.value, headers=headers
        )

    async def publish(self, proposals: list[dict[str, Any]]) -> list[Any]:
        """Publish task transitions the failsafe let through; return the sends' futures."""
        schema = self.pipeline.catalog[TASK]
        sent = []
        for proposal in proposals:
            task = proposal["task"]
            task_key = task["task_id"].encode()
            audit, latest = await self.pipeline.codec.encode_for(
                (self.task_events.get_topic_name(), self.tasks_topic.get_topic_name()), schema, task
            )
            sent.append(await self.send(self.task_events, key=task_key, value=audit))
            sent.append(await self.send(self.tasks_topic, key=task_key, value=latest))
            self.metrics.published(task)
            log.info(
                "task_transition",
                transition=proposal["kind"],
                task_id=task["task_id"],
                rule_id=task["rule_id"],
                revision=task["revision"],
            )
        return sent


async def _delivered(sent: list[Any]) -> None:
    """Wait until the broker has every record sent.

    An agent sends what a record leads to and waits for it to be delivered *before* it
    updates its table: killed in between, the worker redoes the record from a table
    that does not show it yet, and sends the same (deterministic) outputs again. The
    other way round, a table that shows the change would stop the outputs from ever
    being sent again.
    """
    if sent:
        await asyncio.gather(*sent)


def _batches(stream: faust.StreamT[Any]) -> AsyncIterator[Sequence[faust.EventT[Any]]]:
    """The stream's records in batches; each batch is acknowledged after its turn."""
    # StreamT does not declare take_events; faust.Stream has it.
    return cast(Any, stream).take_events(BATCH_MAX, BATCH_WITHIN_S)  # type: ignore[no-any-return]


class _PendingTable:
    """A batch's updates of a table: later records of the batch read them, and the
    table gets them only once the batch's outputs are delivered (see :func:`_delivered`).

    Faust writes a key to the changelog partition of the record being processed, which
    it reads from the task's current event; a batch is processed outside faust's own
    iteration, so each update remembers its record and is written as if during it."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.updates: dict[Any, tuple[Any, faust.EventT[Any]]] = {}

    def get(self, key: Any) -> Any:
        return self.updates[key][0] if key in self.updates else self.table.get(key)

    def set(self, key: Any, value: Any, event: faust.EventT[Any]) -> None:
        """``value`` None removes the key; ``event`` is the record that changed it."""
        self.updates[key] = (value, event)

    def write(self) -> list[Any]:
        """Update the table; returns the futures of its changelog records' delivery."""
        with changelog_sends(self.table) as sent:
            for key, (value, event) in self.updates.items():
                token = _current_event.set(weakref.ref(event))
                try:
                    if value is None:
                        self.table.pop(key, None)
                    else:
                        self.table[key] = value
                finally:
                    _current_event.reset(token)
        self.updates.clear()
        return sent


@contextmanager
def changelog_sends(table: Any) -> Iterator[list[Any]]:
    """The futures of the changelog records ``table`` sends inside the block.

    Faust commits a record's offset after a best-effort flush of its producer buffer
    (it gives up after 0.1 s), so a worker killed just after a commit can lose table
    updates whose records were processed: on restart the table misses them and the
    records are not read again. An agent therefore waits for its changelog records'
    delivery before it acknowledges the records that made them."""
    sent: list[Any] = []
    original = table.send_changelog

    def capture(*args: Any, **kwargs: Any) -> Any:
        future = original(*args, **kwargs)
        sent.append(future)
        return future

    table.send_changelog = capture
    try:
        yield sent
    finally:
        del table.send_changelog  # the class's method again


async def _settle_batch(sent: list[Any], *tables: _PendingTable) -> None:
    """The end of a batch (or of its part before a failure): wait for its outputs,
    then update the tables and wait for their changelog records (see
    :func:`changelog_sends`); only then may faust acknowledge the batch."""
    await _delivered(sent)
    sent.clear()
    for table in tables:
        await _delivered(table.write())


@dataclass
class _Outputs:
    """What one evaluation sends: task transitions, person events, rule previews."""

    proposals: list[tuple[bytes, bytes]]
    forwards: list[tuple[bytes, bytes]]
    previews: list[tuple[bytes, bytes]]


def _route_agent(w: _Wiring) -> None:
    @w.app.agent(w.sources, name="route")
    async def route(stream: faust.StreamT[Any]) -> None:
        # A batch is acknowledged (its offsets committed) only once its outputs and dead
        # letters are delivered: a worker killed before that reads the batch again.
        async for batch in _batches(stream):
            sent: list[Any] = []
            for event in batch:
                w.metrics.read(event.message.topic)
                try:
                    route = partial(
                        w.pipeline.route,
                        event.message.topic,
                        event.value,
                        event.message.headers,
                        _published_at(event),
                    )
                    institution, value = await _until_available(route, "route")
                except Exception as exc:  # every failure becomes a dead letter
                    sent.append(await w.dead_letter(event, exc, "route"))
                    continue
                sent.append(
                    await w.send(
                        w.identity_input,
                        key=institution.encode(),
                        value=value,
                        partition=w.pipeline.correlation_partition(institution),
                    )
                )
            await _delivered(sent)


def _reference_agent(w: _Wiring) -> None:
    logical = {w.pipeline.topics.name(t): t for t in REFERENCE_SOURCES}

    async def decode(topic: str, value: bytes | None) -> tuple[str, dict[str, Any]]:
        source = logical[topic]
        schema = w.pipeline.catalog[REFERENCE_SOURCES[source]]
        return source, await w.pipeline.codec.decode(value or b"", schema)

    def forget(topic: str, headers: object) -> None:
        deletion = deletion_of(headers)
        if deletion is None:
            raise HubError(
                "the record has no value and no deletion headers: a tombstone must say"
                " which org unit its source deleted"
            )
        for key in deleted_keys(logical[topic], deletion.source_id, w.reference_table):
            w.reference_table.pop(key.encode(), None)

    @w.app.agent(w.reference_topics, name="reference")
    async def reference(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            w.metrics.read(event.message.topic)
            try:
                if event.value is None:
                    with changelog_sends(w.reference_table) as sent:
                        forget(event.message.topic, event.message.headers)
                    w.live_reference.forget()
                    await _delivered(sent)
                    continue
                source, record = await _until_available(
                    partial(decode, event.message.topic, event.value), "reference"
                )
            except Exception as exc:  # every failure becomes a dead letter
                await w.dead_letter(event, exc, "reference")
                continue
            with changelog_sends(w.reference_table) as sent:
                for key in keys_for(source, record):
                    w.reference_table[key.encode()] = {"source_topic": source, "record": record}
            w.live_reference.forget()
            await _delivered(sent)


def _correlate_agent(w: _Wiring) -> None:
    @w.app.agent(w.identity_input, name="correlate")
    async def correlate(stream: faust.StreamT[Any]) -> None:
        async for batch in _batches(stream):
            identities = _PendingTable(w.identities)
            sent: list[Any] = []
            for event in batch:
                w.metrics.read(event.message.topic)
                try:
                    stage = w.correlation_stage()
                    states, outgoing = await _until_available(
                        partial(w.pipeline.correlate, stage, event.value), "correlate"
                    )
                except Exception as exc:  # every failure becomes a dead letter
                    if not isinstance(exc, HubError):
                        # the in-memory index may be half-updated: rebuild it from
                        # the table, which must first hold the batch so far
                        await _settle_batch(sent, identities)
                        w.correlation.clear()
                    await w.dead_letter(event, exc, "correlate")
                    continue
                for key, value in outgoing:
                    sent.append(await w.send(w.person_events, key=key.encode(), value=value))
                for ref, state in states:
                    identities.set(ref.encode(), state, event)
            await _settle_batch(sent, identities)


def _evaluate_agent(w: _Wiring) -> None:
    task_schema = w.pipeline.catalog[TASK]
    proposal_schema = w.pipeline.catalog[TASK_PROPOSAL]
    event_schema = w.pipeline.catalog[PERSON_EVENT]

    async def evaluate_one(
        views: _PendingTable, event: faust.EventT[Any]
    ) -> tuple[Evaluation, _Outputs]:
        decoded = await w.pipeline.codec.decode(event.value, event_schema)
        result = w.pipeline.evaluate(views.get(event.key), decoded, w.reference)
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
        async for batch in _batches(stream):
            views = _PendingTable(w.person_views)
            sent: list[Any] = []
            checks: dict[Any, datetime | None] = {}
            for event in batch:
                w.metrics.read(event.message.topic)
                try:
                    result, outputs = await _until_available(
                        partial(evaluate_one, views, event), "evaluate"
                    )
                except Exception as exc:  # every failure becomes a dead letter
                    await w.dead_letter(event, exc, "evaluate")
                    continue
                w.metrics.proposed((t.task["rule_id"], t.kind) for t in result.transitions)
                sent += [await w.send(w.proposals, key=k, value=v) for k, v in outputs.proposals]
                sent += [await w.send(w.person_events, key=k, value=v) for k, v in outputs.forwards]
                sent += [await w.send(w.previews, key=k, value=v) for k, v in outputs.previews]
                views.set(event.key, result.state, event)
                checks[event.key] = result.state.get("next_check") if result.state else None
                if result.now is not None and (w.watermark is None or result.now > w.watermark):
                    w.watermark = result.now  # the newest event time (the event clock's now)
            await _settle_batch(sent, views)
            schedule = w.recheck_schedule()
            for key, due in checks.items():
                schedule.set(key, due)
            if w.pipeline.clock == "event" and w.watermark is not None:
                await w.send_rechecks(w.watermark)


def _failsafe_agent(w: _Wiring) -> None:
    catalog = w.pipeline.catalog

    async def step(
        gates: _PendingTable, taken: _PendingTable, event: faust.EventT[Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
        if not isinstance(event.key, bytes) or b"|" not in event.key:
            raise HubError(f"a failsafe record needs the key institution|rule, not {event.key!r}")
        institution, rule_id = event.key.decode().split("|", 1)
        gate = gates.get(event.key) or new_gate(institution, rule_id)
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
        task = proposal["task"]
        task_key = task["task_id"].encode()
        if not supersedes(task, taken.get(task_key)):
            w.metrics.proposal_read_again()
            log.info(
                "task_proposal_read_again",
                task_id=task["task_id"],
                revision=task["revision"],
                kind=proposal["kind"],
            )
            return gate, [], None
        taken.set(task_key, task, event)
        settings = w.pipeline.settings_for(institution).failsafe
        return admit(gate, proposal, settings)

    @w.app.agent(w.gate_input, name="failsafe")
    async def failsafe(stream: faust.StreamT[Any]) -> None:
        async for batch in _batches(stream):
            gates = _PendingTable(w.gates)
            taken = _PendingTable(w.gated_tasks)
            sent: list[Any] = []
            for event in batch:
                w.metrics.read(event.message.topic)
                try:
                    gate, publish, incident = await _until_available(
                        partial(step, gates, taken, event), "failsafe"
                    )
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
                sent += await w.publish(publish)
                if incident is not None and value is not None:
                    if incident["state"] == "HOLDING" and incident["held"] == 1:
                        log.warning(
                            "failsafe_tripped",
                            incident_id=incident["incident_id"],
                            rule_id=incident["rule_id"],
                            opened=incident["opened_in_window"],
                            resolved=incident["resolved_in_window"],
                        )
                    sent.append(
                        await w.send(w.incidents, key=incident["incident_id"].encode(), value=value)
                    )
                gates.set(event.key, gate, event)
            await _settle_batch(sent, gates, taken)


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
            w.metrics.read(event.message.topic)
            try:
                key, value = await _until_available(partial(step, event), "feedback")
            except Exception as exc:  # every failure becomes a dead letter
                await w.dead_letter(event, exc, "feedback")
                continue
            await w.send(w.person_events, key=key.encode(), value=value)


def _recheck_timer(w: _Wiring, interval: float) -> None:
    async def recheck() -> None:
        """Wall clock: persons whose re-check moment has come are evaluated again."""
        if w.pipeline.clock == "wall":
            await w.send_rechecks(datetime.now(UTC))

    cast(Any, w.app.timer(interval, name="recheck"))(recheck)


def _stall_watch(w: _Wiring, bootstrap_servers: str, interval: float) -> None:
    """Every ``interval`` seconds, the group's lag from the cluster; a partition of this
    worker's that lags with its committed offset unmoved since the last look is fetched
    again (:meth:`SeekSafeConsumer.fetch_stalled`)."""
    looked: dict[tuple[str, int], int | None] = {}

    async def watch() -> None:
        nonlocal looked
        consumer = w.app.consumer
        if not isinstance(consumer, SeekSafeConsumer) or not w.app.flow_control.is_active():
            looked = {}
            return
        try:
            rows = await read_lag(bootstrap_servers, w.app.conf.id, w.reads)
        except Exception as exc:
            log.warning("lag_unavailable", error=str(exc))
            return
        looked, stuck = standing_still(looked, (r for r in rows if r.group == w.app.conf.id))
        for (topic, partition), committed in stuck:
            await consumer.fetch_stalled(TP(topic, partition), committed)

    cast(Any, w.app.timer(interval, name="stall-watch"))(watch)


def _metrics_page(w: _Wiring, bootstrap_servers: str, lag_interval: float) -> None:
    """``/metrics`` on the worker's web port, and the consumer lag refreshed for it."""
    metrics = w.metrics

    async def serve_metrics(view: Any, _request: Any) -> Any:
        # aiohttp refuses a charset inside content_type=, so the header is set whole.
        return view.bytes(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    cast(Any, w.app.page("/metrics", name="metrics"))(serve_metrics)

    async def refresh_lag() -> None:
        try:
            rows = await read_lag(bootstrap_servers, w.app.conf.id, w.reads)
        except Exception as exc:
            log.warning("lag_unavailable", error=str(exc))
            return
        metrics.set_lag(
            (row.topic, row.partition, row.lag) for row in rows if row.group == w.app.conf.id
        )

    cast(Any, w.app.timer(lag_interval, name="consumer-lag"))(refresh_lag)


async def ensure_changelogs(bootstrap_servers: str, hub_app: HubApp) -> list[str]:
    """Create the tables' changelog topics before the worker starts, as
    deploy/topics.yaml's topics are. Faust would make them itself, but asynchronously:
    a table that meets its first record before the broker has made the changelog known
    fails on every record ("changelog topic has 0 partitions")."""
    like = hub_app.pipeline.topics["hub.person-events"]
    specs = [
        TopicSpec(
            logical_name=name,
            name=name,
            partitions=table.partitions or like.partitions,
            replication_factor=like.replication_factor,
            cleanup_policy="compact",
            retention_ms=None,
            value_schema=None,
            description=f"the changelog of the worker's {table.name} table",
        )
        for table in hub_app.app.tables.values()
        for name in [table.changelog_topic.get_topic_name()]
    ]
    return await ensure_topic_specs(bootstrap_servers, specs)


def create_app(
    *,
    app_id: str,
    bootstrap_servers: str,
    pipeline: Pipeline,
    datadir: Path,
    store: str = "memory://",
    web_port: int = 0,
    recheck_interval: float = 30.0,
    lag_interval: float = 15.0,
    credentials: Any = None,
    session_timeout: float = 60.0,
    commit_interval: float = 1.0,
    fetch_wait_ms: int = FETCH_WAIT_MS,
    store_options: Mapping[str, Any] | None = None,
) -> HubApp:
    """Build the faust app and its agents; nothing connects until the worker starts it.

    ``credentials`` are faust broker credentials (see hub.kafka_security), None for
    a PLAINTEXT cluster; ``store_options`` go to each table's store
    (:func:`rocksdb_options`)."""
    partitions = pipeline.topics["hub.person-events"].partitions
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap_servers}",
        broker_credentials=credentials,
        store=store,
        datadir=str(datadir),
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # 5 ms to fill a produce request: one request per few hundred records instead of
        # one per record, at the cost of 5 ms per hop.
        producer_linger=0.005,
        stream_wait_empty=False,
        web_enabled=web_port > 0,
        web_port=web_port or 6066,
        web_bind="127.0.0.1",
        broker_commit_every=100,
        broker_session_timeout=session_timeout,
        broker_commit_interval=timedelta(seconds=commit_interval),
    )
    app.transport = SeekSafeTransport(app.conf.broker_consumer, app)
    app.transport.fetch_max_wait_ms = fetch_wait_ms
    metrics = HubMetrics({spec.name: spec.logical_name for spec in pipeline.topics})
    wiring = _Wiring(app, pipeline, partitions, metrics, store_options or {})
    _route_agent(wiring)
    _reference_agent(wiring)
    _correlate_agent(wiring)
    _evaluate_agent(wiring)
    _failsafe_agent(wiring)
    _feedback_agent(wiring)
    _recheck_timer(wiring, recheck_interval)
    _stall_watch(wiring, bootstrap_servers, lag_interval)

    def consumer_state() -> str:
        """The consumer's partitions as faust sees them: a partition assigned but not
        active is not being fetched (paused, or its stream's buffer full)."""
        consumer: Any = app.consumer
        sets = {
            name: sorted(f"{tp.topic}[{tp.partition}]" for tp in getattr(consumer, attr) or ())
            for name, attr in [
                ("active", "_active_partitions"),
                ("paused", "_paused_partitions"),
                ("buffered", "_buffered_partitions"),
            ]
        }
        assigned = sorted(f"{tp.topic}[{tp.partition}]" for tp in consumer.assignment())
        idle = sorted(set(assigned) - set(sets["active"]))
        return (
            f"--- consumer: flow_active={consumer.flow_active} assigned={len(assigned)}"
            f" not active={idle} paused={sets['paused']} buffered={sets['buffered']}"
            f" set aside={dict(getattr(consumer, 'set_aside', {}))}"
        )

    async def task_dump_on_sigusr1() -> None:
        install_task_dump(asyncio.get_running_loop(), consumer_state)

    cast(Any, app.task(task_dump_on_sigusr1))
    if web_port > 0:
        _metrics_page(wiring, bootstrap_servers, lag_interval)
    return HubApp(app=app, pipeline=pipeline, metrics=metrics)
