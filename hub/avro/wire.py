"""Framing of Avro bodies on Kafka: Confluent's and Avro's single-object encoding.

- Confluent: byte ``0x00``, a 4-byte big-endian schema id, the Avro body.
- Single-object: bytes ``0xC3 0x01``, the 8-byte little-endian CRC-64-AVRO
  fingerprint of the schema's canonical form, the Avro body.

One topic never mixes the two.
"""

from __future__ import annotations

import io
from typing import Any

import fastavro

from hub.errors import WireFormatError

__all__ = [
    "CONFLUENT_MAGIC",
    "SINGLE_OBJECT_MAGIC",
    "confluent_frame",
    "confluent_unframe",
    "read_body",
    "single_object_frame",
    "single_object_unframe",
    "write_body",
]

CONFLUENT_MAGIC = b"\x00"
SINGLE_OBJECT_MAGIC = b"\xc3\x01"


def confluent_frame(schema_id: int, body: bytes) -> bytes:
    return CONFLUENT_MAGIC + schema_id.to_bytes(4, "big") + body


def confluent_unframe(data: bytes) -> tuple[int, bytes]:
    """Split a Confluent-framed message into (schema id, body)."""
    if len(data) < 5:
        raise WireFormatError(
            f"truncated message: {len(data)} bytes, but the Confluent header alone is 5"
        )
    if data[:1] != CONFLUENT_MAGIC:
        raise WireFormatError(
            f"not Confluent-framed Avro: first byte is 0x{data[0]:02x}, expected 0x00"
            + (" (this looks like JSON)" if data[:1] in (b"{", b"[") else "")
        )
    return int.from_bytes(data[1:5], "big"), data[5:]


def single_object_frame(fingerprint: bytes, body: bytes) -> bytes:
    return SINGLE_OBJECT_MAGIC + fingerprint + body


def single_object_unframe(data: bytes) -> tuple[bytes, bytes]:
    """Split a single-object-encoded message into (fingerprint, body)."""
    if len(data) < 10:
        raise WireFormatError(
            f"truncated message: {len(data)} bytes, but the single-object header alone is 10"
        )
    if data[:2] != SINGLE_OBJECT_MAGIC:
        raise WireFormatError(
            f"not Avro single-object encoded: starts with 0x{data[:2].hex()}, expected 0xc301"
            + (" (this looks like JSON)" if data[:1] in (b"{", b"[") else "")
        )
    return data[2:10], data[10:]


def write_body(parsed_schema: Any, record: Any) -> bytes:
    """The Avro binary body of ``record``; raises WireFormatError naming the bad field."""
    try:
        # The quiet check is three times cheaper; the loud one, which names the bad
        # field, runs only for a record that fails it.
        if not fastavro.validation.validate(record, parsed_schema, raise_errors=False):
            fastavro.validation.validate(record, parsed_schema, raise_errors=True)
            raise WireFormatError("record does not match its schema")
    except fastavro.validation.ValidationError as exc:
        raise WireFormatError(f"record does not match its schema: {str(exc)[:300]}") from exc
    except (ValueError, TypeError) as exc:
        # fastavro converts strings in date and timestamp fields itself, and raises a
        # bare ValueError when it cannot: name the field it must have been.
        fields = ", ".join(_text_in_logical_fields(parsed_schema, record)) or "?"
        raise WireFormatError(
            f"record does not match its schema: field {fields}: {str(exc)[:300]}"
        ) from exc
    buffer = io.BytesIO()
    try:
        fastavro.schemaless_writer(buffer, parsed_schema, record)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise WireFormatError(f"record cannot be written with its schema: {exc}") from exc
    return buffer.getvalue()


def read_body(writer_schema: Any, reader_schema: Any, body: bytes) -> Any:
    """Decode an Avro body written with ``writer_schema`` into ``reader_schema``'s shape.

    Truncated bodies, trailing garbage and undecodable values raise WireFormatError.
    """
    buffer = io.BytesIO(body)
    try:
        record = fastavro.schemaless_reader(buffer, writer_schema, reader_schema)
    except EOFError as exc:
        raise WireFormatError(f"truncated Avro body ({len(body)} bytes)") from exc
    except fastavro.read.SchemaResolutionError as exc:
        raise WireFormatError(
            f"a {_schema_name(writer_schema)} record cannot be read as"
            f" {_schema_name(reader_schema)}: the topic holds a record of the wrong type"
        ) from exc
    except Exception as exc:  # fastavro raises many kinds on garbage input
        raise WireFormatError(
            f"undecodable Avro body ({len(body)} bytes): {type(exc).__name__}: {str(exc)[:200]}"
        ) from exc
    if buffer.tell() != len(body):
        raise WireFormatError(
            f"Avro body has {len(body) - buffer.tell()} unread trailing bytes:"
            " the writer's schema is not the one the header names"
        )
    return record


def _schema_name(schema: Any) -> str:
    if isinstance(schema, dict):
        return str(schema.get("name", schema.get("type", "?")))
    return str(schema)[:80]


def _has_logical_type(field_type: Any) -> bool:
    branches = field_type if isinstance(field_type, list) else [field_type]
    return any(isinstance(b, dict) and "logicalType" in b for b in branches)


def _text_in_logical_fields(schema: Any, record: Any) -> list[str]:
    """Top-level fields that hold text where the schema wants a date or timestamp."""
    if not isinstance(schema, dict) or not isinstance(record, dict):
        return []
    return [
        f["name"]
        for f in schema.get("fields", [])
        if isinstance(record.get(f["name"]), str) and _has_logical_type(f["type"])
    ]
