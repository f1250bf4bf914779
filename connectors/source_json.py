"""Reading source systems' JSON safely: value converters and a record that names itself.

Every connector maps a source's native JSON to the hub's Avro records. The same
problems come back in each source: a number where a string was expected, a date
that is not a date, a single object not wrapped in a list, a huge or hostile value.
This module reads one value at a time and says precisely what is wrong:

>>> person = SourceRecord({"id": 7, "date_of_birth": "1990-02-30"}, "Greg person 7")
>>> person.get("date_of_birth", date_value)
Traceback (most recent call last):
...
hub.errors.MappingError: Greg person 7: date_of_birth '1990-02-30' is not a date (YYYY-MM-DD)

Converters take a raw JSON value and raise :class:`InvalidValueError`, phrased to
follow the field name; :meth:`SourceRecord.get` turns that into a
:class:`~hub.errors.MappingError` naming the record and the field. Messages quote
at most a short excerpt of a bad value, with long digit runs (national IDs,
passport numbers) redacted.
"""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import TypeVar

from hub.errors import MappingError
from hub.privacy import is_dummy_national_id

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_LIST_LENGTH",
    "MAX_TEXT_LENGTH",
    "OPEN_ENDED_DATE",
    "InvalidValueError",
    "SourceRecord",
    "code",
    "country",
    "date_value",
    "flag",
    "is_set",
    "json_document",
    "json_type",
    "matching",
    "names",
    "national_id",
    "numeric_id",
    "objects",
    "percent",
    "required",
    "show",
    "source_header",
    "text",
    "timestamp",
]

OPEN_ENDED_DATE = "9999-12-31"
MAX_TEXT_LENGTH = 500
MAX_LIST_LENGTH = 10_000
MAX_DOCUMENT_BYTES = 4_000_000
MAX_ID_DIGITS = 18  # a 64-bit database key

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+(?:Z|[+-][0-9]{2}:?[0-9]{2})?")
_DECIMAL = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,6})?")
_NATIONAL_ID = re.compile(r"[0-9]{11}")
_NUMERIC_ID = re.compile(f"[0-9]{{1,{MAX_ID_DIGITS}}}")
_LONG_DIGIT_RUN = re.compile(r"[0-9]{9,}")
_SHOWN_LENGTH = 40
_TRUE_WORDS = frozenset({"true", "j", "ja", "y", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "n", "nei", "no", "0", ""})
_JSON_TYPES: dict[type, str] = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a decimal number",
    type(None): "null",
}

T = TypeVar("T")


class InvalidValueError(Exception):
    """What is wrong with one value, phrased to follow its field name."""


def json_type(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found: dict[str, object] = {}
    for key, value in pairs:
        if key in found:
            raise InvalidValueError(f"repeats the key {show(key)}")
        found[key] = value
    return found


def _no_constant(name: str) -> object:
    raise InvalidValueError(f"holds {name}, which is not JSON")


def json_document(body: bytes, label: str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> object:
    """A message or response body parsed as strict JSON.

    UTF-8 (a leading byte-order mark is allowed), at most ``max_bytes``, no
    ``NaN``/``Infinity``, no key twice in one object, and nested no deeper than
    the parser can go. Anything else raises :class:`MappingError` naming ``label``,
    without quoting the body.
    """
    if not isinstance(body, bytes | bytearray):
        raise MappingError(f"{label}: the body must be bytes, not {type(body).__name__}")
    if len(body) > max_bytes:
        raise MappingError(f"{label}: the body has {len(body)} bytes, at most {max_bytes}")
    try:
        decoded = bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingError(f"{label}: the body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(decoded, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise MappingError(
            f"{label}: the body is not JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"
        ) from None
    except InvalidValueError as problem:
        raise MappingError(f"{label}: the body {problem}") from None
    except RecursionError:
        raise MappingError(f"{label}: the body is nested too deeply") from None


def show(value: str) -> str:
    """Quote a bad value for a message: long digit runs redacted, cut short."""
    redacted = _LONG_DIGIT_RUN.sub("[redacted]", value)
    if len(redacted) <= _SHOWN_LENGTH:
        return f"'{redacted}'"
    return f"'{redacted[:_SHOWN_LENGTH]}…' ({len(value)} characters)"


def text(value: object) -> str | None:
    """A free-text string, trimmed and NFC-normalised; empty becomes None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValueError(f"must be a string, not {json_type(value)}")
    if len(value) > MAX_TEXT_LENGTH:
        raise InvalidValueError(f"is too long ({len(value)} characters, at most {MAX_TEXT_LENGTH})")
    return unicodedata.normalize("NFC", value.strip()) or None


def code(value: object) -> str | None:
    """A code or id sent as a string or a whole number; empty becomes None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is not None and not isinstance(value, str):
        raise InvalidValueError(f"must be a string or a number, not {json_type(value)}")
    return text(value)


def numeric_id(value: object) -> str:
    """A database id sent as a JSON number or a string of digits, without leading zeros.

    Missing is an error; at most 18 digits.
    """
    if value is None or value == "":
        raise InvalidValueError("is missing")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidValueError(f"must be a number or a string of digits, not {json_type(value)}")
    if isinstance(value, int):
        written = str(value) if 0 <= value < 10**MAX_ID_DIGITS else "out of range"
    else:
        written = value.strip()
    if not _NUMERIC_ID.fullmatch(written):
        raise InvalidValueError(f"{show(written)} is not an id (up to {MAX_ID_DIGITS} digits)")
    return written.lstrip("0") or "0"


def date_value(value: object) -> date | None:
    """A ``YYYY-MM-DD`` date; empty and the open-ended 9999-12-31 become None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValueError(f"must be a date string (YYYY-MM-DD), not {json_type(value)}")
    day = value.strip()
    if not day or day == OPEN_ENDED_DATE:
        return None
    if _DATE.fullmatch(day):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(day)
    raise InvalidValueError(f"{show(day)} is not a date (YYYY-MM-DD)")


def timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp with a time zone (``Z`` or an offset), in UTC; empty is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InvalidValueError(f"must be a timestamp string (ISO 8601), not {json_type(value)}")
    stripped = value.strip()
    if _TIMESTAMP.fullmatch(stripped):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(stripped)
            if moment.tzinfo is not None:
                return moment.astimezone(UTC)
            raise InvalidValueError(f"{show(stripped)} has no time zone")
    raise InvalidValueError(f"{show(stripped)} is not a timestamp (ISO 8601)")


def flag(value: object) -> bool:
    """A yes/no flag: ``true``/``false``, ``"J"``/``"N"``, ``1``/``0``; missing is False."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
        raise InvalidValueError(f"{show(value)} is not a yes/no value")
    raise InvalidValueError(f"must be a boolean, J/N or 1/0, not {json_type(value)}")


def percent(value: object) -> float | None:
    """A percentage 0-100 given as a number or a string with '.' or ','."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        number = value.strip().replace(",", ".")
        if not _DECIMAL.fullmatch(number):
            raise InvalidValueError(f"{show(value)} is not a percentage")
        value = float(number)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValueError(f"must be a number, not {json_type(value)}")
    if not 0 <= value <= 100:  # also rejects NaN
        shown = f"{value:g}" if not abs(value) >= 1e15 else "a huge number"
        raise InvalidValueError(f"{shown} is not between 0 and 100")
    return float(value)


def national_id(value: object) -> str | None:
    """An 11-digit fnr/D-number; None when empty or a dummy. Never quoted."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValueError(f"must be a string, not {json_type(value)}")
    number = value.strip()
    if not number:
        return None
    if not _NATIONAL_ID.fullmatch(number):
        raise InvalidValueError("is not 11 digits")
    return None if is_dummy_national_id(number) else number


def matching(pattern: re.Pattern[str], what: str) -> Callable[[object], str]:
    """A converter for required text that must match ``pattern`` whole (``… is not {what}``)."""

    def convert_matching(value: object) -> str:
        written = required(text)(value)
        if not pattern.fullmatch(written):
            raise InvalidValueError(f"{show(written)} is not {what}")
        return written

    return convert_matching


def names(pattern: re.Pattern[str], what: str, limit: int) -> Callable[[object], tuple[str, ...]]:
    """A converter for a list of at most ``limit`` texts that match ``pattern``; missing is ()."""

    def convert_names(value: object) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise InvalidValueError(f"must be a list, not {json_type(value)}")
        if len(value) > limit:
            raise InvalidValueError(f"has {len(value)} entries, at most {limit}")
        found: list[str] = []
        for entry in value:
            if not isinstance(entry, str):
                raise InvalidValueError(f"holds {json_type(entry)} where a string was expected")
            if not pattern.fullmatch(entry):
                raise InvalidValueError(f"holds {show(entry)}, which is not {what}")
            found.append(entry)
        return tuple(found)

    return convert_names


def is_set(value: object) -> bool:
    """Whether a private contact detail is present. Never quoted."""
    return code(value) is not None


def country(value: object) -> str | None:
    """A country code, upper-case."""
    name = text(value)
    return name.upper() if name is not None else None


def required(convert: Callable[[object], T | None]) -> Callable[[object], T]:
    """Wrap a converter so that an empty result is an error."""

    def convert_required(value: object) -> T:
        result = convert(value)
        if result is None:
            raise InvalidValueError("is missing")
        return result

    return convert_required


def objects(value: object) -> list[Mapping[str, object]]:
    """A list of JSON objects, or a single object a source did not wrap in a list."""
    if value is None:
        return []
    entries = [value] if isinstance(value, dict) else value
    if not isinstance(entries, list):
        raise InvalidValueError(f"must be a list or an object, not {json_type(value)}")
    if len(entries) > MAX_LIST_LENGTH:
        raise InvalidValueError(f"has {len(entries)} entries, at most {MAX_LIST_LENGTH}")
    found: list[Mapping[str, object]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidValueError(f"holds {json_type(entry)} where an object was expected")
        found.append(entry)
    return found


class SourceRecord:
    """One source object; reads fields through converters and names itself in errors."""

    def __init__(self, fields: Mapping[str, object], label: str, path: str = "") -> None:
        self.fields = fields
        self.label = label
        self.path = path

    @classmethod
    def of(cls, payload: object, label: str) -> SourceRecord:
        """The record in a parsed JSON body, which must be an object."""
        if not isinstance(payload, dict):
            raise MappingError(f"{label} must be a JSON object, not {json_type(payload)}")
        return cls(payload, label)

    def get(self, key: str, convert: Callable[[object], T]) -> T:
        """Convert one field, or raise MappingError naming the record and field."""
        try:
            return convert(self.fields.get(key))
        except InvalidValueError as problem:
            raise MappingError(f"{self.label}: {self.path}{key} {problem}") from None

    def nested(self, key: str) -> list[SourceRecord]:
        """The objects in a nested list, each named by its path (``roles[2].``)."""
        return [
            SourceRecord(entry, self.label, f"{self.path}{key}[{index}].")
            for index, entry in enumerate(self.get(key, objects))
        ]

    def child(self, key: str) -> SourceRecord | None:
        """A nested object (``orgunit``), or None when absent."""
        value = self.fields.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise MappingError(
                f"{self.label}: {self.path}{key} must be an object, not {json_type(value)}"
            )
        return SourceRecord(value, self.label, f"{self.path}{key}.")


def source_header(
    record: SourceRecord,
    *,
    source_system: str,
    source_id: str,
    institution: str,
    fetched_at: datetime,
) -> dict[str, object]:
    """The fields every canonical source record starts with."""
    if not institution.strip():
        raise MappingError(f"{record.label}: no institution given")
    if fetched_at.tzinfo is None or fetched_at.utcoffset() is None:
        raise MappingError(f"{record.label}: fetched_at must be timezone-aware")
    return {
        "institution": institution.strip(),
        "source_system": source_system,
        "source_id": source_id,
        "source_timestamp": fetched_at.astimezone(UTC),
    }
