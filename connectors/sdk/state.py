"""A connector instance's memory on Kafka: its checkpoint (cursor) and its snapshot (one
fingerprint per published record), each on a compacted topic.

:func:`fingerprint` and :func:`plan_reconciliation` are pure; :class:`KafkaState` reads
and writes the two topics.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiokafka.errors import KafkaError

from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.items import Record
from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import AvroCodec
from hub.topic_tail import StartAt, TailedRecord, tail
from hub.topics import TopicCatalog

__all__ = [
    "CHECKPOINT_SCHEMA",
    "CHECKPOINT_TOPIC",
    "SNAPSHOT_SCHEMA",
    "SNAPSHOT_TOPIC",
    "KafkaState",
    "ReconciliationPlan",
    "SnapshotEntry",
    "fingerprint",
    "plan_reconciliation",
    "read_to_end",
]

CHECKPOINT_TOPIC = "connector.checkpoints"
SNAPSHOT_TOPIC = "connector.snapshots"
CHECKPOINT_SCHEMA = "no.bott.hub.connectors.Checkpoint"
SNAPSHOT_SCHEMA = "no.bott.hub.connectors.SnapshotEntry"
_VOLATILE_FIELDS = frozenset({"source_timestamp"})
_MIN_HELD_DELETIONS = 10


def fingerprint(record: Record) -> str:
    """SHA-256 (hex) of a record's content, ignoring when it was fetched."""
    content = {k: v for k, v in record.items() if k not in _VOLATILE_FIELDS}
    text = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class SnapshotEntry:
    """What the connector last published for one key."""

    key: str
    institution: str
    source_id: str
    fingerprint: str
    valid_on: date | None = None


@dataclass(frozen=True)
class ReconciliationPlan:
    """Which known records a complete listing no longer has, and whether to delete them."""

    gone: tuple[SnapshotEntry, ...]
    held: bool
    reason: str = ""


def plan_reconciliation(
    known: Mapping[str, SnapshotEntry],
    listed: Iterable[str],
    *,
    today: date,
    max_fraction: float,
) -> ReconciliationPlan:
    """The deletions a complete listing implies: known keys not listed, except records
    describing a future day (their listing still shows today). When they would be more
    than ``max_fraction`` of the known records (and more than a handful), none are
    deleted: the listing is likelier cut short than the source emptied."""
    seen = set(listed)
    gone = tuple(
        entry
        for key, entry in sorted(known.items())
        if key not in seen and not (entry.valid_on and entry.valid_on > today)
    )
    if len(gone) > _MIN_HELD_DELETIONS and len(gone) > max_fraction * len(known):
        return ReconciliationPlan(
            gone,
            held=True,
            reason=(
                f"{len(gone)} of {len(known)} records are missing from the listing, more than"
                f" {max_fraction:.0%}: deletions held (check the source, or raise"
                " max_deletion_fraction)"
            ),
        )
    return ReconciliationPlan(gone, held=False)


class KafkaState:
    """One connector instance's checkpoint and snapshot, read at start and kept current.

    Writes go through ``producer`` (a started ``AIOKafkaProducer``) and are awaited, so a
    committed cursor is on Kafka before the change's acknowledgement.
    """

    def __init__(
        self,
        *,
        instance: str,
        bootstrap: str,
        producer: Any,
        codec: AvroCodec,
        catalog: SchemaCatalog,
        topics: TopicCatalog,
    ) -> None:
        self.instance = instance
        self.bootstrap = bootstrap
        self.producer = producer
        self.codec = codec
        self.checkpoint_topic = topics[CHECKPOINT_TOPIC]
        self.snapshot_topic = topics[SNAPSHOT_TOPIC]
        self.checkpoint_schema = catalog[CHECKPOINT_SCHEMA]
        self.snapshot_schema = catalog[SNAPSHOT_SCHEMA]
        self.cursor: str | None = None
        self.entries: dict[str, SnapshotEntry] = {}

    def _snapshot_key(self, key: str) -> bytes:
        return f"{self.instance}|{key}".encode()

    async def load(self) -> None:
        """Read the instance's last cursor and its snapshot entries from the topics."""
        checkpoints = await self._read(self.checkpoint_topic.name, self.checkpoint_topic.partitions)
        value = checkpoints.get(self.instance.encode())
        if value is not None:
            record = await self.codec.decode(value, self.checkpoint_schema)
            self.cursor = record["cursor"]
        entries = await self._read(self.snapshot_topic.name, self.snapshot_topic.partitions)
        prefix = f"{self.instance}|".encode()
        self.entries = {}
        for raw_key, raw in entries.items():
            if raw is None or not raw_key.startswith(prefix):
                continue
            record = await self.codec.decode(raw, self.snapshot_schema)
            self.entries[record["key"]] = SnapshotEntry(
                key=record["key"],
                institution=record["institution"],
                source_id=record["source_id"],
                fingerprint=record["fingerprint"],
                valid_on=record["valid_on"],
            )

    async def commit(self, cursor: str) -> None:
        """Store ``cursor`` as the instance's checkpoint."""
        value = await self.codec.encode(
            self.checkpoint_topic.name,
            self.checkpoint_schema,
            {"instance": self.instance, "cursor": cursor, "committed_at": datetime.now(UTC)},
        )
        await self._send(self.checkpoint_topic.name, self.instance.encode(), value)
        self.cursor = cursor

    async def remember(self, entry: SnapshotEntry) -> None:
        """Store what was just published for ``entry.key``."""
        value = await self.codec.encode(
            self.snapshot_topic.name,
            self.snapshot_schema,
            {
                "instance": self.instance,
                "key": entry.key,
                "institution": entry.institution,
                "source_id": entry.source_id,
                "fingerprint": entry.fingerprint,
                "valid_on": entry.valid_on,
                "seen_at": datetime.now(UTC),
            },
        )
        await self._send(self.snapshot_topic.name, self._snapshot_key(entry.key), value)
        self.entries[entry.key] = entry

    async def forget(self, key: str) -> None:
        """Drop ``key`` from the snapshot (a tombstone on the snapshot topic)."""
        await self._send(self.snapshot_topic.name, self._snapshot_key(key), None)
        self.entries.pop(key, None)

    async def _send(self, topic: str, key: bytes, value: bytes | None) -> None:
        try:
            await self.producer.send_and_wait(topic, key=key, value=value)
        except KafkaError as exc:
            raise SourceUnavailableError(f"cannot write to {topic}: {exc}") from exc

    async def _read(self, topic: str, partitions: int) -> dict[bytes, bytes | None]:
        """The latest value per key on a compacted topic."""
        try:
            records = await read_to_end(self.bootstrap, topic, partitions)
        except KafkaError as exc:
            raise SourceUnavailableError(f"cannot read {topic}: {exc}") from exc
        return {r.key: r.raw for r in records if r.key is not None}


async def read_to_end(bootstrap: str, topic: str, partitions: int) -> list[TailedRecord]:
    """Every record on ``topic``, from the start to the end it has now, values as bytes
    (``raw``). ``partitions`` is kept for callers; the topic's own are read."""
    del partitions
    records = tail(bootstrap, topic, None, start=StartAt("beginning"), follow=False)
    return [record async for record in records]
