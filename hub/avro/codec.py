"""Encoding and decoding records on Kafka topics, in the Confluent wire format against
a registry, or in Avro single-object encoding with ``schemas/avro/`` as the registry."""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from typing import Any

import fastavro

from hub.avro.catalog import AvroSchema, SchemaCatalog
from hub.avro.registry import RegistryClient, UnknownSchemaIdError
from hub.avro.wire import (
    confluent_frame,
    confluent_unframe,
    read_body,
    single_object_frame,
    single_object_unframe,
    write_body,
)
from hub.errors import WireFormatError

__all__ = ["AvroCodec", "ConfluentCodec", "SingleObjectCodec", "subject_for"]


def subject_for(topic: str) -> str:
    """The registry subject of a topic's values (Confluent's TopicNameStrategy)."""
    return f"{topic}-value"


class AvroCodec(abc.ABC):
    """Turns records into bytes for a topic and back."""

    def __init__(self, catalog: SchemaCatalog) -> None:
        self.catalog = catalog

    async def encode(self, topic: str, schema: AvroSchema, record: Any) -> bytes:
        """Frame and encode ``record``; raises WireFormatError if it does not fit."""
        return await self.frame(topic, schema, write_body(schema.parsed, record))

    async def encode_for(
        self, topics: Sequence[str], schema: AvroSchema, record: Any
    ) -> list[bytes]:
        """``record`` encoded for each of ``topics``, its Avro body written once."""
        body = write_body(schema.parsed, record)
        return [await self.frame(topic, schema, body) for topic in topics]

    @abc.abstractmethod
    async def frame(self, topic: str, schema: AvroSchema, body: bytes) -> bytes:
        """Frame an Avro body written with ``schema`` for ``topic``."""

    @abc.abstractmethod
    async def writer_schema(self, data: bytes) -> tuple[Any, bytes]:
        """The parsed schema the bytes were written with, and the Avro body."""

    async def decode(self, data: bytes, reader: AvroSchema) -> Any:
        """Decode bytes into ``reader``'s shape; raises WireFormatError on bad input."""
        writer, body = await self.writer_schema(data)
        return read_body(writer, reader.parsed, body)

    async def decode_any(self, data: bytes) -> Any:
        """Decode bytes with the schema they name (for tailing topics)."""
        writer, body = await self.writer_schema(data)
        return read_body(writer, writer, body)

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class ConfluentCodec(AvroCodec):
    """Confluent framing; schemas registered under ``<topic>-value`` on first use."""

    def __init__(self, catalog: SchemaCatalog, registry: RegistryClient) -> None:
        super().__init__(catalog)
        self.registry = registry
        self._ids: dict[tuple[str, str], int] = {}
        self._writers: dict[int, Any] = {}

    async def frame(self, topic: str, schema: AvroSchema, body: bytes) -> bytes:
        key = (subject_for(topic), schema.name)
        schema_id = self._ids.get(key)
        if schema_id is None:
            schema_id = await self.registry.register(key[0], schema.text)
            self._ids[key] = schema_id
            self._writers.setdefault(schema_id, schema.parsed)
        return confluent_frame(schema_id, body)

    async def writer_schema(self, data: bytes) -> tuple[Any, bytes]:
        schema_id, body = confluent_unframe(data)
        writer = self._writers.get(schema_id)
        if writer is None:
            try:
                text = await self.registry.schema_text(schema_id)
            except UnknownSchemaIdError as exc:
                raise WireFormatError(str(exc)) from exc
            try:
                writer = fastavro.parse_schema(json.loads(text))
            except (ValueError, KeyError, fastavro.schema.SchemaParseException) as exc:
                raise WireFormatError(f"schema id {schema_id} cannot be parsed: {exc}") from exc
            self._writers[schema_id] = writer
        return writer, body

    async def close(self) -> None:
        await self.registry.close()


class SingleObjectCodec(AvroCodec):
    """Avro single-object encoding; ``schemas/avro/`` is the registry."""

    async def frame(self, topic: str, schema: AvroSchema, body: bytes) -> bytes:
        return single_object_frame(schema.fingerprint, body)

    async def writer_schema(self, data: bytes) -> tuple[Any, bytes]:
        fingerprint, body = single_object_unframe(data)
        writer = self.catalog.by_fingerprint(fingerprint)
        if writer is None:
            raise WireFormatError(
                f"no schema in {self.catalog.directory} has fingerprint {fingerprint.hex()}"
            )
        return writer.parsed, body
