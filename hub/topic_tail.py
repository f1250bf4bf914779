"""Read a topic as people read it (``hub tail``): Avro decoded to JSON, one record per
line or pretty-printed, from the beginning, the end, an offset or a moment, and
optionally following new records as kcat does.

A value that is not Avro (a dead letter keeps the source's bytes as they came) is
shown as text when it is UTF-8, else as base64, and says so.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import AvroCodec
from hub.deadletter import headers_as_dict
from hub.errors import ConfigurationError, HubError
from hub.kafka_security import kafka_client_options
from hub.partitions import topic_partitions
from hub.settings import HubSettings
from hub.topics import TopicCatalog

__all__ = ["StartAt", "TailedRecord", "parse_start", "plain_json", "render", "tail", "tail_topic"]

Format = Literal["json", "pretty"]


@dataclass(frozen=True)
class StartAt:
    """Where to start reading each partition."""

    kind: Literal["beginning", "end", "offset", "from-end", "time"]
    offset: int = 0
    moment: datetime | None = None


def parse_start(offset: str | None, since: datetime | None) -> StartAt:
    """``--offset beginning|end|N|-N`` (``-N``: the last N of each partition) or
    ``--since TIME``. The default is the beginning."""
    if since is not None:
        if offset is not None:
            raise HubError("give --offset or --since, not both")
        return StartAt("time", moment=since)
    if offset is None or offset == "beginning":
        return StartAt("beginning")
    if offset == "end":
        return StartAt("end")
    try:
        number = int(offset)
    except ValueError:
        raise HubError(
            f"--offset {offset!r} is not 'beginning', 'end', an offset, or -N (the last N)"
        ) from None
    return StartAt("from-end", offset=-number) if number < 0 else StartAt("offset", offset=number)


@dataclass(frozen=True)
class TailedRecord:
    """One record as read and decoded."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime | None
    key: bytes | None
    headers: Mapping[str, str]
    value: Any  # the decoded record, or None for a tombstone
    raw: bytes | None  # the bytes, when they were not Avro
    problem: str | None = None  # why the value could not be decoded


def _plain(value: Any) -> Any:
    """A decoded Avro value as plain JSON types."""
    if isinstance(value, tuple):  # a union branch named with its type
        value = value[1]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value) if isinstance(value, Decimal) else value


def plain_json(value: Any, indent: int | None = None) -> str:
    """A decoded Avro value as JSON text (dates as ISO strings, bytes as base64)."""
    return json.dumps(_plain(value), ensure_ascii=False, indent=indent)


def _shown(raw: bytes) -> str | dict[str, str]:
    """Bytes as text when they are UTF-8, else as ``{"base64": ...}``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode()}


def render(record: TailedRecord, style: Format) -> str:
    """The record as a JSON line, or pretty-printed with a heading line."""
    body: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp.isoformat() if record.timestamp else None,
        "key": _shown(record.key) if record.key is not None else None,
        "headers": dict(record.headers),
        "value": _plain(record.value),
    }
    if record.raw is not None:
        body["value"] = None
        body["raw"] = _shown(record.raw)
        body["not_avro"] = record.problem
    if style == "json":
        return json.dumps(body, ensure_ascii=False, sort_keys=False)
    heading = f"── {record.topic}[{record.partition}]@{record.offset}"
    if record.timestamp:
        heading += f"  {record.timestamp.isoformat()}"
    if body["key"] is not None:
        heading += f"  key={body['key']}"
    shown = {k: v for k, v in body.items() if k in ("headers", "value", "raw", "not_avro") and v}
    return heading + "\n" + json.dumps(shown, ensure_ascii=False, indent=2)


async def _record_of(codec: AvroCodec | None, message: Any) -> TailedRecord:
    """A consumed message, its value decoded if it is Avro (kept as bytes without a
    codec)."""
    value, raw, problem = None, None, None
    if codec is None:
        raw = message.value
    elif message.value is not None:
        try:
            value = await codec.decode_any(message.value)
        except HubError as exc:
            raw, problem = message.value, str(exc)
    return TailedRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp=(
            datetime.fromtimestamp(message.timestamp / 1000).astimezone()
            if message.timestamp
            else None
        ),
        key=message.key,
        headers=headers_as_dict(message.headers),
        value=value,
        raw=raw,
        problem=problem,
    )


async def tail(
    bootstrap_servers: str,
    topic: str,
    codec: AvroCodec | None,
    *,
    start: StartAt,
    follow: bool,
    partitions: list[int] | None = None,
    limit: int | None = None,
    idle_stop: Callable[[], bool] | None = None,
    caught_up: Callable[[], None] | None = None,
) -> AsyncIterator[TailedRecord]:
    """Records of ``topic`` from ``start``; without ``follow``, up to the end as it was
    when reading began. ``idle_stop`` may end a follow between polls; ``caught_up`` is
    called once, when every partition has been read to the end it had when reading
    began. Without a ``codec``, values stay bytes (``raw``)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: PLC0415

    chosen = await _partitions(bootstrap_servers, topic, partitions)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        **kafka_client_options(),
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in chosen]
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        begins = await consumer.beginning_offsets(assigned)
        await _seek(consumer, assigned, start, begins, ends)
        pending = {tp for tp in assigned if await consumer.position(tp) < ends[tp]}
        emitted = 0
        while pending or follow:
            if caught_up is not None and not pending:
                caught_up()
                caught_up = None
            if idle_stop is not None and idle_stop():
                return
            batch = await consumer.getmany(*assigned, timeout_ms=500)
            for tp, messages in sorted(batch.items(), key=lambda item: item[0].partition):
                for message in messages:
                    if not follow and message.offset >= ends[tp]:
                        pending.discard(tp)
                        continue
                    yield await _record_of(codec, message)
                    emitted += 1
                    if limit is not None and emitted >= limit:
                        return
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()


async def tail_topic(
    settings: HubSettings,
    topic: str,
    show: Callable[[TailedRecord], None],
    *,
    start: StartAt,
    follow: bool,
    partitions: list[int] | None = None,
    limit: int | None = None,
) -> int:
    """``hub tail``: resolve the topic (a catalogue name or a full one), read it and
    ``show`` each record; return how many were shown."""
    from hub.endpoints import kafka_bootstrap, make_codec, registry_url  # noqa: PLC0415

    catalog = TopicCatalog(prefix=settings.topic_prefix)
    try:
        name = catalog.name(topic)
    except ConfigurationError:
        name = topic
    codec = make_codec(SchemaCatalog(), registry_url(settings, start=False))
    shown = 0
    try:
        records = tail(
            kafka_bootstrap(settings, start=False),
            name,
            codec,
            start=start,
            follow=follow,
            partitions=partitions,
            limit=limit,
        )
        async for record in records:
            show(record)
            shown += 1
    finally:
        await codec.close()
    return shown


async def _partitions(bootstrap_servers: str, topic: str, wanted: list[int] | None) -> list[int]:
    """The partitions to read: all of the topic's, or the wanted ones it has."""
    from aiokafka.admin import AIOKafkaAdminClient  # noqa: PLC0415

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **kafka_client_options())
    await admin.start()
    try:
        known = set(await topic_partitions(admin, topic))
    finally:
        await admin.close()
    if not known:
        raise HubError(f"no topic {topic!r} on the cluster (see 'hub topics apply')")
    chosen = sorted(known if wanted is None else set(wanted) & known)
    if not chosen:
        raise HubError(f"{topic} has no partition {wanted}; it has {sorted(known)}")
    return chosen


async def _seek(
    consumer: Any,
    assigned: list[Any],
    start: StartAt,
    begins: Mapping[Any, int],
    ends: Mapping[Any, int],
) -> None:
    if start.kind == "time" and start.moment is not None:
        millis = int(start.moment.timestamp() * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(assigned, millis))
        for tp in assigned:
            stamp = found.get(tp)
            consumer.seek(tp, stamp.offset if stamp is not None else ends[tp])
        return
    for tp in assigned:
        if start.kind == "beginning":
            consumer.seek(tp, begins[tp])
        elif start.kind == "end":
            consumer.seek(tp, ends[tp])
        elif start.kind == "offset":
            consumer.seek(tp, min(max(start.offset, begins[tp]), ends[tp]))
        else:
            consumer.seek(tp, max(ends[tp] - start.offset, begins[tp]))
