"""Tests for the shared identity-number helpers: pseudonyms, masked forms and guarded text."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime

import pytest

from connectors import identity_numbers
from connectors.identity_numbers import (
    MappingContext,
    feide_name,
    free_code,
    free_text,
    one_value,
    passport_parts,
)
from connectors.source_json import InvalidValueError, SourceRecord
from hub.errors import MappingError
from hub.privacy import pseudonym

SECRET = "test-secret"


def test_the_module_examples_hold() -> None:
    """The examples in the module's docstring run as written."""
    result = doctest.testmod(identity_numbers)
    assert (result.attempted > 0, result.failed) == (True, 0)


class TestPassports:
    """Passports are read as country-number and keyed like DFØ's."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("NO-123456789", ("NO", "123456789")), ("de-C01X-00", ("DE", "C01X-00")), ("", None)],
    )
    def test_parts(self, value: str, expected: tuple[str, str] | None) -> None:
        """The country is upper-cased; the number keeps what follows the first dash."""
        assert passport_parts(value) == expected

    @pytest.mark.parametrize("value", ["987654321", "NOR-9876", "NO-", "NO 9876", 5])
    def test_refused(self, value: object) -> None:
        """A value not written country-number is refused without quoting it."""
        with pytest.raises(InvalidValueError) as caught:
            passport_parts(value)
        assert "9876" not in str(caught.value)

    def test_context_pseudonyms_match_dfo(self) -> None:
        """The context keys a passport on country-number, as the DFØ mapping does."""
        context = MappingContext("uio", SECRET, datetime(2026, 1, 1, tzinfo=UTC))
        assert context.passport("DE", "C01X00T47") == {
            "country": "DE",
            "pseudonym": pseudonym(SECRET, "passport", "DE-C01X00T47"),
            "masked": "*******47",
        }
        assert context.national_id(None) == {
            "national_id_pseudonym": None,
            "national_id_masked": None,
        }


class TestGuardedText:
    """Text that a record copies may not carry a national ID."""

    @pytest.mark.parametrize("convert", [free_text, free_code, feide_name])
    def test_refuses_a_national_id(self, convert: object) -> None:
        """Eleven digits standing alone are refused, whatever the field."""
        with pytest.raises(InvalidValueError, match="holds what looks like a national ID"):
            convert("01017012345@uio.no" if convert is feide_name else "x 01017012345")  # type: ignore[operator]

    @pytest.mark.parametrize("value", ["123456789012", "0101701234", "+4790000099"])
    def test_other_numbers_pass(self, value: str) -> None:
        """Numbers of other lengths are not national IDs."""
        assert free_text(value) == value

    @pytest.mark.parametrize("value", ["ingrid", "ingrid@", "@uio.no", "a b@uio.no", "x@uio"])
    def test_feide_name_form(self, value: str) -> None:
        """A Feide name is uid@realm with a dotted realm."""
        with pytest.raises(InvalidValueError, match="is not a Feide name"):
            feide_name(value)


def test_one_value() -> None:
    """Agreeing values are one; disagreeing ones name the record and field."""
    record = SourceRecord({}, "Test record 1")
    assert one_value(record, "ids", ["a", None, "a"], "ids") == "a"
    assert one_value(record, "ids", [None], "ids") is None
    with pytest.raises(MappingError, match="Test record 1: ids has 2 different ids"):
        one_value(record, "ids", ["a", "b"], "ids")


def test_context_checks_its_settings() -> None:
    """The header needs a secret, an institution and a zoned time."""
    record = SourceRecord({}, "Test record 1")
    with pytest.raises(MappingError, match="no pseudonym secret"):
        MappingContext("uio", "", datetime(2026, 1, 1, tzinfo=UTC)).header(record, "x", "1")
    with pytest.raises(MappingError, match="timezone-aware"):
        MappingContext("uio", SECRET, datetime(2026, 1, 1)).header(record, "x", "1")
