"""The shared converters for source JSON: each says what is wrong, naming the record."""

from __future__ import annotations

import doctest
import re
from datetime import UTC, date, datetime

import pytest

from connectors import source_json
from connectors.source_json import (
    SourceRecord,
    code,
    date_value,
    flag,
    json_document,
    matching,
    names,
    national_id,
    numeric_id,
    objects,
    percent,
    required,
    text,
    timestamp,
)
from hub.errors import MappingError


def test_the_module_example_holds() -> None:
    result = doctest.testmod(source_json)
    assert result.attempted > 0
    assert result.failed == 0


def _error(convert: object, value: object) -> str:
    record = SourceRecord({"field": value}, "Test record 1")
    with pytest.raises(MappingError) as raised:
        record.get("field", convert)  # type: ignore[arg-type]
    return str(raised.value)


@pytest.mark.parametrize(
    ("convert", "value", "expected"),
    [
        (text, "  Kari  ", "Kari"),
        (text, "", None),
        (code, 123, "123"),
        (date_value, "2025-08-01", date(2025, 8, 1)),
        (date_value, "9999-12-31", None),
        (flag, "J", True),
        (flag, 0, False),
        (percent, "50,5", 50.5),
        (national_id, "12345600100", None),  # a dummy number
        (timestamp, "2025-08-01T10:00:00+02:00", datetime(2025, 8, 1, 8, tzinfo=UTC)),
        (timestamp, "2025-08-01T08:00:00Z", datetime(2025, 8, 1, 8, tzinfo=UTC)),
    ],
)
def test_converters_read_what_sources_send(
    convert: object, value: object, expected: object
) -> None:
    assert SourceRecord({"field": value}, "Test record 1").get("field", convert) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("convert", "value", "problem"),
    [
        (text, 5, "field must be a string, not a number"),
        (text, "x" * 501, "is too long (501 characters"),
        (code, [1], "must be a string or a number, not a list"),
        (date_value, "2025-02-30", "'2025-02-30' is not a date"),
        (date_value, "2025-08-01T00:00:00Z", "is not a date"),
        (flag, "maybe", "'maybe' is not a yes/no value"),
        (percent, 101, "101 is not between 0 and 100"),
        (national_id, "1234", "is not 11 digits"),
        (timestamp, "2025-08-01T10:00:00", "has no time zone"),
        (timestamp, "yesterday", "'yesterday' is not a timestamp"),
        (objects, [1], "holds a number where an object was expected"),
        (required(text), None, "field is missing"),
    ],
)
def test_bad_values_name_the_record_and_the_field(
    convert: object, value: object, problem: str
) -> None:
    message = _error(convert, value)
    assert message.startswith("Test record 1: field ")
    assert problem in message


def test_bad_values_never_quote_an_identity_number() -> None:
    message = _error(date_value, "01017012345 is my number")
    assert "01017012345" not in message
    assert "[redacted]" in message


def test_nested_records_name_their_path() -> None:
    record = SourceRecord({"roles": [{"start_date": "x"}, {"start_date": "2025-01-01"}]}, "Greg 1")
    with pytest.raises(MappingError, match=r"Greg 1: roles\[0\]\.start_date 'x' is not a date"):
        [role.get("start_date", date_value) for role in record.nested("roles")]
    child = SourceRecord({"orgunit": {"id": 5}}, "Greg 1").child("orgunit")
    assert child is not None
    assert child.get("id", code) == "5"
    with pytest.raises(MappingError, match="orgunit must be an object, not a string"):
        SourceRecord({"orgunit": "5"}, "Greg 1").child("orgunit")


def test_a_body_must_be_an_object() -> None:
    with pytest.raises(MappingError, match="Greg person must be a JSON object, not a list"):
        SourceRecord.of([], "Greg person")


class TestJsonDocument:
    """Message and response bodies are parsed as strict JSON."""

    def test_reads_an_object_with_a_byte_order_mark(self) -> None:
        """A UTF-8 body, with or without a byte-order mark, is parsed."""
        assert json_document(b'\xef\xbb\xbf{"a": [1, "\xc3\xb8"]}', "Test body") == {"a": [1, "ø"]}

    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            (b'{"a": 1, "a": 2}', "the body repeats the key 'a'"),
            (b"[Infinity]", "the body holds Infinity, which is not JSON"),
            (b"\xc3", "the body is not UTF-8 (byte 0)"),
            (b'{"a": }', "the body is not JSON (Expecting value, line 1 column 7)"),
            (b"[" * 5000 + b"]" * 5000, "the body is nested too deeply"),
            (b"[]" * 11, "the body has 22 bytes, at most 20"),
        ],
    )
    def test_refuses(self, body: bytes, problem: str) -> None:
        """Repeated keys, NaN, bad UTF-8, bad JSON, deep nesting and size are refused."""
        with pytest.raises(MappingError, match=re.escape(f"Test body: {problem}")):
            json_document(body, "Test body", max_bytes=20 if len(body) == 22 else 100_000)

    def test_refuses_text(self) -> None:
        """A decoded string is refused: the caller must pass the body's bytes."""
        with pytest.raises(MappingError, match="the body must be bytes, not str"):
            json_document("{}", "Test body")  # type: ignore[arg-type]


class TestIdsAndNames:
    """Ids of digits, texts of a given form, and lists of names."""

    @pytest.mark.parametrize(("value", "expected"), [(7, "7"), (" 0042 ", "42"), ("000", "0")])
    def test_numeric_id(self, value: object, expected: str) -> None:
        """A numeric id loses its leading zeros."""
        assert SourceRecord({"id": value}, "Test record 1").get("id", numeric_id) == expected

    @pytest.mark.parametrize(
        ("value", "problem"),
        [
            (None, "id is missing"),
            (-1, "'out of range' is not an id"),
            (10**18, "'out of range' is not an id"),
            ("1e5", "'1e5' is not an id"),
            (True, "must be a number or a string of digits, not a boolean"),
        ],
    )
    def test_numeric_id_refuses(self, value: object, problem: str) -> None:
        """Missing, negative, huge and non-digit ids are refused."""
        assert problem in _error(numeric_id, value).replace("field", "id")

    def test_matching_and_names(self) -> None:
        """Texts must match the pattern whole; lists hold only such texts."""
        word = re.compile(r"[a-z]+")
        record = SourceRecord({"one": "ok", "two": "not ok", "list": ["a", 5]}, "Test record 1")
        assert record.get("one", matching(word, "a word")) == "ok"
        with pytest.raises(MappingError, match="two 'not ok' is not a word"):
            record.get("two", matching(word, "a word"))
        with pytest.raises(MappingError, match="list holds a number where a string"):
            record.get("list", names(word, "a word", 5))
        assert record.get("missing", names(word, "a word", 5)) == ()
        with pytest.raises(MappingError, match="has 2 entries, at most 1"):
            record.get("list", names(word, "a word", 1))
