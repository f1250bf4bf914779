"""Map DFØ SAP HR's native JSON to the hub's ``no.bott.hub.dfo`` Avro records.

:func:`map_employee` takes the parsed body of ``GET ansatte/v2/{id}`` and
:func:`map_position` that of ``GET stillinger/v2/{id}``. Both are pure: no I/O,
no clock; the caller passes the fetch time.

DFØ quirks handled here:

* The body is ``{"ansatt": [{…}]}`` / ``{"stilling": [{…}]}``, but a single
  object is sometimes sent unwrapped (``{"ansatt": {…}}``); the same goes for the
  nested lists ``tilleggsstilling``, ``annenId``, ``innehaver`` and
  ``stillingskat``. Exactly one top-level record is accepted.
* Employee numbers and position ids are zero-padded (``"00123456"``) and sometimes
  sent as JSON numbers; they are normalised to digits without leading zeros
  (``"0"`` stays ``"0"``) and may have at most eight significant digits.
* Dates are ``YYYY-MM-DD``; ``9999-12-31`` means open-ended and becomes ``None``,
  as does an empty string.
* Position ``99999999`` is a placeholder for former employees: the main position
  becomes ``None`` and such an additional position is left out.
* Codes and ids (``organisasjonId``, ``kostnadssted``, ``medarbeidergruppe``,
  phone numbers, …) may be numbers or strings; they become strings.
* Flags (``lederflagg``, ``reservasjonPublisering``, ``eksternbruker``) come as
  ``true``/``false``, ``"true"``/``"false"``, ``"J"``/``"N"`` or ``1``/``0``.
* ``dellonnsprosent`` is a number or a string with a decimal point or comma
  (``"100.0"``, ``"50,5"``), between 0 and 100.
* National IDs (``fnr``) that are empty or DFØ placeholders (``.+00[012]00$``) are
  dropped; others, and passports (``annenId`` with ``idType`` ``"02"``), leave
  only as keyed pseudonyms and masked forms. Private phone and e-mail leave only
  as "is set" booleans.

Unknown fields are ignored. Every other problem raises :class:`MappingError`
naming the record (``DFØ ansatt 123456: startdato '2025-13-01' is not a date
(YYYY-MM-DD)``). Messages quote at most a short, redacted excerpt of a bad value
and never a national ID, passport number or private contact detail.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import TypeVar

from hub.errors import MappingError
from hub.privacy import (
    is_dummy_national_id,
    mask_identifier,
    national_id_pseudonym,
    pseudonym,
)

__all__ = [
    "MAX_LIST_LENGTH",
    "MAX_TEXT_LENGTH",
    "OPEN_ENDED_DATE",
    "PLACEHOLDER_POSITION_ID",
    "map_employee",
    "map_position",
    "normalise_employee_id",
]

SOURCE_SYSTEM = "dfo_sap"
OPEN_ENDED_DATE = "9999-12-31"
PLACEHOLDER_POSITION_ID = "99999999"
PASSPORT_ID_TYPE = "02"
MAX_TEXT_LENGTH = 500
MAX_LIST_LENGTH = 10_000
MAX_ID_DIGITS = 8  # SAP's PERNR and PLANS are NUMC 8

_DIGITS = re.compile(r"[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,6})?")
_NATIONAL_ID = re.compile(r"[0-9]{11}")
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


class _InvalidValueError(Exception):
    """What is wrong with one value, phrased to follow its field name."""


# --- value converters: each takes a raw JSON value and raises _InvalidValueError ---


def _json_type(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _show(text: str) -> str:
    """Quote a bad value for a message: long digit runs redacted, cut short."""
    redacted = _LONG_DIGIT_RUN.sub("[redacted]", text)
    if len(redacted) <= _SHOWN_LENGTH:
        return f"'{redacted}'"
    return f"'{redacted[:_SHOWN_LENGTH]}…' ({len(text)} characters)"


def _text(value: object) -> str | None:
    """A free-text string, trimmed and NFC-normalised; empty becomes None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _InvalidValueError(f"must be a string, not {_json_type(value)}")
    if len(value) > MAX_TEXT_LENGTH:
        raise _InvalidValueError(
            f"is too long ({len(value)} characters, at most {MAX_TEXT_LENGTH})"
        )
    return unicodedata.normalize("NFC", value.strip()) or None


def _code(value: object) -> str | None:
    """A code or id that DFØ sends as a string or a number; empty becomes None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is not None and not isinstance(value, str):
        raise _InvalidValueError(f"must be a string or a number, not {_json_type(value)}")
    return _text(value)


def _sap_number(value: object) -> str:
    """A zero-padded SAP number (ansattnummer, stilling id) without leading zeros."""
    if value is None or value == "":
        raise _InvalidValueError("is missing")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _InvalidValueError(f"must be a number or a string of digits, not {_json_type(value)}")
    if isinstance(value, int):
        if value < 0:
            raise _InvalidValueError(
                f"is negative ({value})" if value > -(10**15) else "is negative"
            )
        if value >= 10**MAX_ID_DIGITS:
            raise _InvalidValueError(f"has more than {MAX_ID_DIGITS} digits")
        return str(value)
    text = value.strip()
    if not _DIGITS.fullmatch(text):
        raise _InvalidValueError(f"{_show(text)} is not a number (digits only)")
    digits = text.lstrip("0") or "0"
    if len(digits) > MAX_ID_DIGITS:
        raise _InvalidValueError(f"has {len(digits)} digits, at most {MAX_ID_DIGITS}")
    return digits


def _position_ref(value: object) -> str | None:
    """A reference to a position; None when empty or the placeholder 99999999."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    position_id = _sap_number(value)
    return None if position_id == PLACEHOLDER_POSITION_ID else position_id


def _date(value: object) -> date | None:
    """A ``YYYY-MM-DD`` date; empty and the open-ended 9999-12-31 become None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _InvalidValueError(f"must be a date string (YYYY-MM-DD), not {_json_type(value)}")
    text = value.strip()
    if not text or text == OPEN_ENDED_DATE:
        return None
    if _DATE.fullmatch(text):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(text)
    raise _InvalidValueError(f"{_show(text)} is not a date (YYYY-MM-DD)")


def _flag(value: object) -> bool:
    """A yes/no flag in any of DFØ's spellings; missing means False."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
        raise _InvalidValueError(f"{_show(value)} is not a yes/no value")
    raise _InvalidValueError(f"must be a boolean, J/N or 1/0, not {_json_type(value)}")


def _percent(value: object) -> float | None:
    """A percentage 0-100 given as a number or a string with '.' or ','."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        if not _DECIMAL.fullmatch(text):
            raise _InvalidValueError(f"{_show(value)} is not a percentage")
        value = float(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _InvalidValueError(f"must be a number, not {_json_type(value)}")
    if not 0 <= value <= 100:  # also rejects NaN
        shown = f"{value:g}" if not abs(value) >= 1e15 else "a huge number"
        raise _InvalidValueError(f"{shown} is not between 0 and 100")
    return float(value)


def _national_id(value: object) -> str | None:
    """An 11-digit fnr/D-number; None when empty or a DFØ dummy. Never quoted."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _InvalidValueError(f"must be a string, not {_json_type(value)}")
    national_id = value.strip()
    if not national_id:
        return None
    if not _NATIONAL_ID.fullmatch(national_id):
        raise _InvalidValueError("is not 11 digits")
    return None if is_dummy_national_id(national_id) else national_id


def _is_set(value: object) -> bool:
    """Whether a private contact detail is present. Never quoted."""
    return _code(value) is not None


def _id_type(value: object) -> str | None:
    """An ``annenId`` type code, zero-padded to two digits (``2`` → ``"02"``)."""
    code = _code(value)
    return code.zfill(2) if code is not None and code.isdigit() else code


def _country(value: object) -> str | None:
    """A country code, upper-case."""
    text = _text(value)
    return text.upper() if text is not None else None


def _required(convert: Callable[[object], T | None]) -> Callable[[object], T]:
    """Wrap a converter so that an empty result is an error."""

    def convert_required(value: object) -> T:
        result = convert(value)
        if result is None:
            raise _InvalidValueError("is missing")
        return result

    return convert_required


def _objects(value: object) -> list[Mapping[str, object]]:
    """A list of JSON objects, or a single object DFØ did not wrap in a list."""
    if value is None:
        return []
    entries = [value] if isinstance(value, dict) else value
    if not isinstance(entries, list):
        raise _InvalidValueError(f"must be a list or an object, not {_json_type(value)}")
    if len(entries) > MAX_LIST_LENGTH:
        raise _InvalidValueError(f"has {len(entries)} entries, at most {MAX_LIST_LENGTH}")
    objects: list[Mapping[str, object]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise _InvalidValueError(f"holds {_json_type(entry)} where an object was expected")
        objects.append(entry)
    return objects


# --- records: a JSON object plus the label that names it in messages ---


class _Record:
    """One DFØ object; reads fields through converters and names itself in errors."""

    def __init__(self, fields: Mapping[str, object], label: str, path: str = "") -> None:
        self.fields = fields
        self.label = label
        self.path = path

    def get(self, key: str, convert: Callable[[object], T]) -> T:
        """Convert one field, or raise MappingError naming the record and field."""
        try:
            return convert(self.fields.get(key))
        except _InvalidValueError as problem:
            raise MappingError(f"{self.label}: {self.path}{key} {problem}") from None

    def nested(self, key: str) -> list[_Record]:
        """The objects in a nested list such as ``tilleggsstilling``."""
        return [
            _Record(entry, self.label, f"{self.path}{key}[{index}].")
            for index, entry in enumerate(self.get(key, _objects))
        ]


def _single_record(payload: object, key: str) -> tuple[_Record, str]:
    """The one object in ``{key: [{…}]}`` or ``{key: {…}}`` and its normalised id."""
    response = f"DFØ {key} response"
    if not isinstance(payload, dict):
        raise MappingError(f"{response} must be a JSON object, not {_json_type(payload)}")
    if key not in payload:
        raise MappingError(f"{response} has no '{key}' field")
    value = payload[key]
    entries = [value] if isinstance(value, dict) else value
    if not isinstance(entries, list):
        raise MappingError(
            f"{response}: '{key}' must be a list or an object, not {_json_type(value)}"
        )
    if len(entries) != 1:
        raise MappingError(f"{response}: '{key}' holds {len(entries)} records, expected exactly 1")
    fields = entries[0]
    if not isinstance(fields, dict):
        raise MappingError(f"{response}: '{key}' holds {_json_type(fields)}, not an object")
    record_id = _Record(fields, f"DFØ {key}").get("id", _sap_number)
    return _Record(fields, f"DFØ {key} {record_id}"), record_id


def _header(
    record: _Record, record_id: str, institution: str, fetched_at: datetime
) -> dict[str, object]:
    """The fields every DFØ record shares."""
    if not institution.strip():
        raise MappingError(f"{record.label}: no institution given")
    if fetched_at.tzinfo is None or fetched_at.utcoffset() is None:
        raise MappingError(f"{record.label}: fetched_at must be timezone-aware")
    return {
        "institution": institution.strip(),
        "source_system": SOURCE_SYSTEM,
        "source_id": record_id,
        "source_timestamp": fetched_at.astimezone(UTC),
    }


# --- employees ---


def normalise_employee_id(value: object) -> str:
    """An ansattnummer without leading zeros (``"00123456"`` or ``123456`` → ``"123456"``).

    Raises :class:`MappingError` unless ``value`` is a non-negative number or a
    string of digits with at most eight significant digits.
    """
    try:
        return _sap_number(value)
    except _InvalidValueError as problem:
        raise MappingError(f"DFØ employee number {problem}") from None


def _passports(record: _Record, secret: str) -> list[dict[str, object]]:
    """Passports from ``annenId`` (idType 02), as pseudonym and masked number."""
    passports: list[dict[str, object]] = []
    for entry in record.nested("annenId"):
        if entry.get("idType", _id_type) != PASSPORT_ID_TYPE:
            continue
        number = entry.get("idNr", _code)
        if number is None:
            continue
        country = entry.get("idLand", _country)
        passports.append(
            {
                "country": country,
                "pseudonym": pseudonym(secret, "passport", f"{country or ''}-{number}"),
                "masked": mask_identifier(number),
            }
        )
    return passports


def _identity(record: _Record, secret: str) -> dict[str, object]:
    """Who the employee is: identifiers (pseudonymised), names and usernames."""
    national_id = record.get("fnr", _national_id)
    return {
        "national_id_pseudonym": (
            national_id_pseudonym(secret, national_id) if national_id else None
        ),
        "national_id_masked": mask_identifier(national_id) if national_id else None,
        "passports": _passports(record, secret),
        "first_name": record.get("fornavn", _text),
        "last_name": record.get("etternavn", _text),
        "birth_date": record.get("fdato", _date),
        "username": record.get("brukerident", _text),
        "dfo_username": record.get("dfoBrukerident", _text),
        "external_username": record.get("eksternIdent", _text),
    }


def _additional_position(entry: _Record) -> dict[str, object] | None:
    """One ``tilleggsstilling``; None for the placeholder position."""
    position_id = entry.get("stillingId", _sap_number)
    if position_id == PLACEHOLDER_POSITION_ID:
        return None
    return {
        "position_id": position_id,
        "start_date": entry.get("startdato", _date),
        "end_date": entry.get("sluttdato", _date),
        "part_time_percent": entry.get("dellonnsprosent", _percent),
    }


def _employment(record: _Record) -> dict[str, object]:
    """The employment: positions, dates, groups, flags and org placement."""
    additional = (_additional_position(entry) for entry in record.nested("tilleggsstilling"))
    return {
        "main_position_id": record.get("stillingId", _position_ref),
        "employee_group": record.get("medarbeidergruppe", _code),
        "employee_subgroup": record.get("medarbeiderundergruppe", _code),
        "start_date": record.get("startdato", _date),
        "end_date": record.get("sluttdato", _date),
        "part_time_percent": record.get("dellonnsprosent", _percent),
        "title": record.get("tittel", _text),
        "additional_positions": [position for position in additional if position is not None],
        "external": record.get("eksternbruker", _flag),
        "head_of_unit": record.get("lederflagg", _flag),
        "reserved_from_publication": record.get("reservasjonPublisering", _flag),
        "org_unit_id": record.get("organisasjonId", _code),
        "cost_centre": record.get("kostnadssted", _code),
        "end_reason": record.get("sluttarsak", _code),
        "changed_date": record.get("endretDato", _date),
    }


def _contact(record: _Record) -> dict[str, object]:
    """Work contact details; private ones only as whether they are set."""
    return {
        "work_phone": record.get("telefonnummer", _code),
        "service_phone": record.get("tjenestetelefon", _code),
        "mobile": record.get("mobilnummer", _code),
        "email": record.get("epost", _text),
        "has_private_mobile": record.get("mobilPrivat", _is_set),
        "has_private_email": record.get("privatEpost", _is_set),
    }


def map_employee(
    payload: object, *, institution: str, secret: str, fetched_at: datetime
) -> dict[str, object]:
    """Map the body of ``GET ansatte/v2/{id}`` to a ``no.bott.hub.dfo.Employee`` record.

    ``secret`` keys the national ID and passport pseudonyms; ``fetched_at``
    (timezone-aware) becomes ``source_timestamp``, ``endretDato`` becomes
    ``changed_date``. Raises :class:`MappingError` for anything that does not fit.
    """
    record, employee_id = _single_record(payload, "ansatt")
    if not secret:
        raise MappingError(f"{record.label}: no pseudonym secret given")
    return {
        **_header(record, employee_id, institution, fetched_at),
        "employee_id": employee_id,
        **_identity(record, secret),
        **_employment(record),
        **_contact(record),
    }


# --- positions ---


def _holder(entry: _Record) -> dict[str, object]:
    """One ``innehaver`` of a position."""
    return {
        "employee_id": entry.get("innehaverAnsattnr", _sap_number),
        "start_date": entry.get("innehaverStartdato", _date),
        "end_date": entry.get("innehaverSluttdato", _date),
    }


def _category(entry: _Record) -> dict[str, object]:
    """One ``stillingskat`` (position category) of a position."""
    return {
        "category_id": entry.get("stillingskatId", _required(_code)),
        "name": entry.get("stillingskatBetegn", _text),
    }


def map_position(payload: object, *, institution: str, fetched_at: datetime) -> dict[str, object]:
    """Map the body of ``GET stillinger/v2/{id}`` to a ``no.bott.hub.dfo.Position`` record.

    ``fetched_at`` (timezone-aware) becomes ``source_timestamp``. Raises
    :class:`MappingError` for anything that does not fit.
    """
    record, position_id = _single_record(payload, "stilling")
    return {
        **_header(record, position_id, institution, fetched_at),
        "position_id": position_id,
        "position_code": record.get("stillingskode", _code),
        "title": record.get("stillingstittel", _text),
        "occupation_code": record.get("yrkeskode", _code),
        "org_unit_id": record.get("organisasjonId", _code),
        "holders": [_holder(entry) for entry in record.nested("innehaver")],
        "categories": [_category(entry) for entry in record.nested("stillingskat")],
    }
