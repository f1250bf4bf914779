"""Putting a connector's items on Kafka: records (Avro, keyed), tombstones for deletions
(hub/source_deletion.py) and dead letters for source data that cannot be mapped
(hub/deadletter.py). No state, no lifecycle: the runtime adds those."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.errors import KafkaError

from connectors.sdk.errors import ConnectorError, SourceUnavailableError
from connectors.sdk.items import Delete, Failed, Upsert
from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import AvroCodec
from hub.deadletter import dead_letter_headers
from hub.errors import HubError
from hub.source_deletion import SourceDeletion
from hub.topics import TopicCatalog

__all__ = ["Published", "RecordPublisher"]

log = structlog.get_logger("connectors.sdk")
DEAD_LETTER_TOPIC = "hub.deadletter"


@dataclass(frozen=True)
class Published:
    """Where an item went: the record's key, or None and the reason for a dead letter."""

    key: str | None
    dead_letter: str | None = None


class RecordPublisher:
    """Publishes one connector's records to its topic. ``producer`` is a started
    ``AIOKafkaProducer``; Kafka faults raise :class:`SourceUnavailableError`."""

    def __init__(
        self,
        *,
        connector: str,
        topic: str,
        schema: str,
        producer: Any,
        codec: AvroCodec,
        catalog: SchemaCatalog,
        topics: TopicCatalog,
    ) -> None:
        spec = topics[topic]
        if spec.value_schema != schema:
            raise ConnectorError(
                f"connector {connector} emits {schema} to {topic}, but deploy/topics.yaml"
                f" says {topic} holds {spec.value_schema}"
            )
        self.connector = connector
        self.topic = spec.name
        self.schema = catalog[schema]
        self.producer = producer
        self.codec = codec
        self.dead_letters = topics.name(DEAD_LETTER_TOPIC)

    async def upsert(self, item: Upsert, key: str) -> Published:
        """Encode and publish a record under ``key``; a record that does not fit the
        schema, or has no key, becomes a dead letter."""
        try:
            if not key:
                raise ConnectorError(f"{item.origin or self.connector}: the record has no key")
            value = await self.codec.encode(self.topic, self.schema, dict(item.record))
        except HubError as exc:
            raw = item.raw or repr(dict(item.record)).encode()
            return await self.dead_letter(Failed(raw=raw, error=exc, origin=item.origin), key)
        await self._send(self.topic, key.encode(), value, None)
        return Published(key)

    async def delete(self, item: Delete) -> Published:
        """Publish a tombstone for ``item.key`` with the deletion headers."""
        deletion = SourceDeletion(item.institution, item.source_id)
        await self._send(self.topic, item.key.encode(), None, deletion.headers())
        return Published(item.key)

    async def dead_letter(self, item: Failed, key: str | None = None) -> Published:
        """Keep the source bytes on the dead-letter topic, with the reason in headers."""
        key = key or item.key
        log.warning(
            "dead_letter",
            connector=self.connector,
            origin=item.origin,
            error_type=type(item.error).__name__,
        )
        headers = dead_letter_headers(
            source_topic=item.origin or self.connector,
            partition=None,
            offset=None,
            error=item.error,
            stage="connector",
            connector=self.connector,
        )
        await self._send(self.dead_letters, key.encode() if key else None, item.raw, headers)
        return Published(None, dead_letter=headers_error(headers))

    async def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None,
    ) -> None:
        try:
            await self.producer.send_and_wait(topic, key=key, value=value, headers=headers)
        except KafkaError as exc:
            raise SourceUnavailableError(f"cannot publish to {topic}: {exc}") from exc


def headers_error(headers: list[tuple[str, bytes]]) -> str:
    """The (redacted) error text a dead letter's headers carry."""
    return next((v.decode() for k, v in headers if k == "hub.error"), "")
