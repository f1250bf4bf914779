"""Tests for Avro framing on Kafka (Confluent and single-object) and SingleObjectCodec."""

from __future__ import annotations

import copy
import io
import random
import time
import tracemalloc
from datetime import UTC, date, datetime
from typing import Any

import fastavro
import pytest

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.avro.wire import (
    CONFLUENT_MAGIC,
    SINGLE_OBJECT_MAGIC,
    confluent_frame,
    confluent_unframe,
    read_body,
    single_object_frame,
    single_object_unframe,
)
from hub.errors import WireFormatError
from hub.person_event import person_event

CATALOG = SchemaCatalog()
EMPLOYEE = CATALOG["no.bott.hub.dfo.Employee"]
ACCOUNT = CATALOG["no.bott.hub.iam.Account"]
PERSON_EVENT = CATALOG["no.bott.hub.PersonEvent"]
STAMP = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TOPIC = "source.dfo.employee"


def with_defaults(schema_fields: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """A record: every field's default, then ``values``."""
    record = {f["name"]: copy.deepcopy(f["default"]) for f in schema_fields if "default" in f}
    record.update(values)
    return record


def employee(**values: Any) -> dict[str, Any]:
    """A complete, valid Employee record."""
    return with_defaults(
        EMPLOYEE.plain["fields"],
        {
            "institution": "uio",
            "source_id": "234567",
            "source_timestamp": STAMP,
            "employee_id": "234567",
            "first_name": "Sigrid",
            "start_date": date(2026, 12, 1),
            **values,
        },
    )


def account(**values: Any) -> dict[str, Any]:
    """A complete, valid Account record."""
    return with_defaults(
        ACCOUNT.plain["fields"],
        {
            "institution": "uio",
            "source_system": "cerebrum",
            "source_id": "acc-1",
            "source_timestamp": STAMP,
            "username": "sigridb",
            "status": "ACTIVE",
            **values,
        },
    )


def avro_long(value: int) -> bytes:
    """A long in Avro's zig-zag varint encoding."""
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag > 0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def plain_body(schema: Any, record: Any) -> bytes:
    """The Avro body fastavro writes for ``record``."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, record)
    return buffer.getvalue()


@pytest.fixture
def codec() -> SingleObjectCodec:
    """A single-object codec over schemas/avro/."""
    return SingleObjectCodec(CATALOG)


class TestConfluentFraming:
    @pytest.mark.parametrize("schema_id", [0, 1, 257, 2**31 - 1, 2**32 - 1])
    @pytest.mark.parametrize("body", [b"", b"\x02ab", bytes(range(256))])
    def test_round_trip(self, schema_id: int, body: bytes) -> None:
        """Framing then unframing gives back the schema id and the body."""
        framed = confluent_frame(schema_id, body)
        assert framed[:1] == CONFLUENT_MAGIC
        assert len(framed) == 5 + len(body)
        assert confluent_unframe(framed) == (schema_id, body)

    def test_schema_id_is_big_endian(self) -> None:
        """The schema id sits in bytes 1-4, most significant byte first."""
        assert confluent_frame(0x01020304, b"")[1:5] == b"\x01\x02\x03\x04"

    @pytest.mark.parametrize("data", [b'{"employee_id": "1"}', b"[1, 2, 3]"])
    def test_json_is_refused_and_recognised(self, data: bytes) -> None:
        """JSON on an Avro topic raises WireFormatError that says it looks like JSON."""
        with pytest.raises(WireFormatError, match="JSON"):
            confluent_unframe(data)

    @pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00\x00\x01"])
    def test_shorter_than_the_header_is_truncated(self, data: bytes) -> None:
        """Fewer than 5 bytes raise WireFormatError saying the message is truncated."""
        with pytest.raises(WireFormatError, match="truncated"):
            confluent_unframe(data)

    def test_header_only_is_an_empty_body(self) -> None:
        """Exactly 5 bytes is a valid frame with an empty body."""
        assert confluent_unframe(b"\x00\x00\x00\x00\x07") == (7, b"")

    def test_wrong_magic_byte(self) -> None:
        """A first byte other than 0x00 raises, naming the byte, without claiming JSON."""
        with pytest.raises(WireFormatError, match="0x01") as caught:
            confluent_unframe(b"\x01\x00\x00\x00\x01body")
        assert "JSON" not in str(caught.value)


class TestSingleObjectFraming:
    @pytest.mark.parametrize("body", [b"", b"\x02ab"])
    def test_round_trip(self, body: bytes) -> None:
        """Framing then unframing gives back the fingerprint and the body."""
        framed = single_object_frame(EMPLOYEE.fingerprint, body)
        assert framed.startswith(SINGLE_OBJECT_MAGIC)
        assert single_object_unframe(framed) == (EMPLOYEE.fingerprint, body)

    @pytest.mark.parametrize("data", [b"", b"\xc3\x01", b"\xc3\x01" + bytes(7)])
    def test_shorter_than_the_header_is_truncated(self, data: bytes) -> None:
        """Fewer than 10 bytes raise WireFormatError saying the message is truncated."""
        with pytest.raises(WireFormatError, match="truncated"):
            single_object_unframe(data)

    def test_confluent_bytes_are_refused(self) -> None:
        """A Confluent-framed message is not mistaken for single-object encoding."""
        with pytest.raises(WireFormatError, match="single-object"):
            single_object_unframe(confluent_frame(1, b"\x02abcdefgh"))

    def test_json_is_refused_and_recognised(self) -> None:
        """JSON raises WireFormatError that says it looks like JSON."""
        with pytest.raises(WireFormatError, match="JSON"):
            single_object_unframe(b'{"employee_id": "234567"}')


class TestSingleObjectCodec:
    @pytest.mark.parametrize(
        ("schema", "record"),
        [
            (EMPLOYEE, employee()),
            (ACCOUNT, account()),
            (PERSON_EVENT, person_event("p-1", "uio", TOPIC, record=employee())),
        ],
        ids=["employee", "account", "person-event"],
    )
    async def test_round_trip(
        self, codec: SingleObjectCodec, schema: Any, record: dict[str, Any]
    ) -> None:
        """A record encoded and decoded with its schema comes back equal."""
        data = await codec.encode(TOPIC, schema, record)
        assert data.startswith(SINGLE_OBJECT_MAGIC + schema.fingerprint)
        assert await codec.decode(data, schema) == record
        assert await codec.decode_any(data) == record

    async def test_wrong_magic(self, codec: SingleObjectCodec) -> None:
        """Bytes without the 0xC3 0x01 marker are refused."""
        data = await codec.encode(TOPIC, EMPLOYEE, employee())
        with pytest.raises(WireFormatError, match="c301"):
            await codec.decode(b"\x00\x01" + data[2:], EMPLOYEE)

    async def test_unknown_fingerprint(self, codec: SingleObjectCodec) -> None:
        """A fingerprint no schema in schemas/avro/ has is refused, naming it."""
        data = await codec.encode(TOPIC, EMPLOYEE, employee())
        unknown = bytes.fromhex("0123456789abcdef")
        with pytest.raises(WireFormatError, match=unknown.hex()):
            await codec.decode(SINGLE_OBJECT_MAGIC + unknown + data[10:], EMPLOYEE)

    @pytest.mark.parametrize("keep", [0, 1, 5, -1, -8])
    async def test_truncated_body(self, codec: SingleObjectCodec, keep: int) -> None:
        """A body cut short raises WireFormatError saying it is truncated."""
        data = await codec.encode(TOPIC, EMPLOYEE, employee())
        cut = data[: 10 + keep] if keep >= 0 else data[:keep]
        with pytest.raises(WireFormatError, match="truncated"):
            await codec.decode(cut, EMPLOYEE)

    async def test_trailing_bytes(self, codec: SingleObjectCodec) -> None:
        """Bytes after the record raise WireFormatError counting them."""
        data = await codec.encode(TOPIC, EMPLOYEE, employee())
        with pytest.raises(WireFormatError, match="3 unread trailing bytes"):
            await codec.decode(data + b"\x00\x00\x00", EMPLOYEE)

    async def test_body_of_another_type(self, codec: SingleObjectCodec) -> None:
        """Employee bytes read as an Account (no schema resolution) raise WireFormatError."""
        data = await codec.encode(TOPIC, EMPLOYEE, employee())
        with pytest.raises(WireFormatError):
            await codec.decode(data, ACCOUNT)

    @pytest.mark.parametrize(
        ("schema", "record", "field"),
        [
            (EMPLOYEE, employee(employee_id=123), "employee_id"),
            (ACCOUNT, account(status="SLEEPING"), "status"),
            (
                EMPLOYEE,
                {k: v for k, v in employee().items() if k != "institution"},
                "institution",
            ),
        ],
        ids=["int-for-string", "unknown-enum", "missing-field"],
    )
    async def test_wrong_record_on_encode_names_the_field(
        self, codec: SingleObjectCodec, schema: Any, record: dict[str, Any], field: str
    ) -> None:
        """Encoding a record that does not fit its schema raises, naming the bad field."""
        with pytest.raises(WireFormatError, match=field) as caught:
            await codec.encode(TOPIC, schema, record)
        assert "schema" in str(caught.value)

    async def test_non_iso_date_string_is_a_wire_format_error(
        self, codec: SingleObjectCodec
    ) -> None:
        """A date field holding DFØ's '31.12.2026' format raises WireFormatError on encode."""
        with pytest.raises(WireFormatError, match="start_date"):
            await codec.encode(TOPIC, EMPLOYEE, employee(start_date="31.12.2026"))


class TestHostileBodies:
    def test_avro_long_helper_matches_fastavro(self) -> None:
        """Precondition: the test's zig-zag encoder writes longs as fastavro does."""
        for value in (0, -1, 1, 63, -64, 2**31, 2**60, -(2**60)):
            assert avro_long(value) == plain_body("long", value)

    @pytest.mark.timeout(10)
    @pytest.mark.parametrize("claimed", [2**60, 2**62, 2**31])
    async def test_huge_string_length_fails_fast_without_allocating(
        self, codec: SingleObjectCodec, claimed: int
    ) -> None:
        """A string length prefix claiming far more bytes than exist raises at once."""
        data = single_object_frame(EMPLOYEE.fingerprint, avro_long(claimed) + b"abc")
        tracemalloc.start()
        started = time.perf_counter()
        try:
            with pytest.raises(WireFormatError, match="truncated"):
                await codec.decode(data, EMPLOYEE)
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert elapsed < 1.0
        assert peak < 1024 * 1024

    @pytest.mark.timeout(10)
    @pytest.mark.parametrize("length", [-1, -(2**60)])
    async def test_negative_string_length(self, codec: SingleObjectCodec, length: int) -> None:
        """A negative string length raises WireFormatError instead of reading backwards."""
        data = single_object_frame(EMPLOYEE.fingerprint, avro_long(length) + b"abc")
        with pytest.raises(WireFormatError):
            await codec.decode(data, EMPLOYEE)

    @pytest.mark.timeout(10)
    async def test_huge_array_count_fails_fast(self, codec: SingleObjectCodec) -> None:
        """An array block claiming 2**60 items but holding none raises at once."""
        body = plain_body(ACCOUNT.parsed, account())
        # affiliations, external_ids (empty arrays) and publicly_visible (null) end the body
        assert body.endswith(b"\x00\x00\x00")
        hostile = body[:-3] + avro_long(2**60)
        started = time.perf_counter()
        with pytest.raises(WireFormatError):
            await codec.decode(single_object_frame(ACCOUNT.fingerprint, hostile), ACCOUNT)
        assert time.perf_counter() - started < 1.0

    @pytest.mark.timeout(60)
    def test_random_bodies_raise_only_wire_format_errors(self) -> None:
        """Random bytes decode or raise WireFormatError; no other exception escapes."""
        rng = random.Random(20261122)
        outcomes = {"decoded": 0, "refused": 0}
        for _ in range(500):
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
            try:
                read_body(EMPLOYEE.parsed, EMPLOYEE.parsed, body)
            except WireFormatError:
                outcomes["refused"] += 1
            else:
                outcomes["decoded"] += 1
        assert outcomes["refused"] > 0
