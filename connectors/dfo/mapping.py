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

import re
from datetime import datetime

from connectors.source_json import (
    MAX_LIST_LENGTH,
    MAX_TEXT_LENGTH,
    OPEN_ENDED_DATE,
    InvalidValueError,
    SourceRecord,
    code,
    country,
    date_value,
    flag,
    is_set,
    json_type,
    national_id,
    percent,
    required,
    show,
    source_header,
    text,
)
from hub.errors import MappingError
from hub.privacy import mask_identifier, national_id_pseudonym, pseudonym

__all__ = [
    "MAX_LIST_LENGTH",
    "MAX_TEXT_LENGTH",
    "OPEN_ENDED_DATE",
    "PLACEHOLDER_POSITION_ID",
    "dfo_header",
    "map_employee",
    "map_position",
    "normalise_employee_id",
    "position_ref",
    "sap_number",
    "single_record",
]

SOURCE_SYSTEM = "dfo_sap"
PLACEHOLDER_POSITION_ID = "99999999"
PASSPORT_ID_TYPE = "02"
MAX_ID_DIGITS = 8  # SAP's PERNR and PLANS are NUMC 8

_DIGITS = re.compile(r"[0-9]+")


# --- DFØ's own value converters; the general ones are in connectors.source_json ---


def sap_number(value: object) -> str:
    """A zero-padded SAP number (ansattnummer, stilling id) without leading zeros."""
    if value is None or value == "":
        raise InvalidValueError("is missing")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidValueError(f"must be a number or a string of digits, not {json_type(value)}")
    if isinstance(value, int):
        if value < 0:
            raise InvalidValueError(
                f"is negative ({value})" if value > -(10**15) else "is negative"
            )
        if value >= 10**MAX_ID_DIGITS:
            raise InvalidValueError(f"has more than {MAX_ID_DIGITS} digits")
        return str(value)
    stripped = value.strip()
    if not _DIGITS.fullmatch(stripped):
        raise InvalidValueError(f"{show(stripped)} is not a number (digits only)")
    digits = stripped.lstrip("0") or "0"
    if len(digits) > MAX_ID_DIGITS:
        raise InvalidValueError(f"has {len(digits)} digits, at most {MAX_ID_DIGITS}")
    return digits


def position_ref(value: object) -> str | None:
    """A reference to a position; None when empty or the placeholder 99999999."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    position_id = sap_number(value)
    return None if position_id == PLACEHOLDER_POSITION_ID else position_id


def _id_type(value: object) -> str | None:
    """An ``annenId`` type code, zero-padded to two digits (``2`` → ``"02"``)."""
    found = code(value)
    return found.zfill(2) if found is not None and found.isdigit() else found


# --- records ---


def single_record(payload: object, key: str) -> tuple[SourceRecord, str]:
    """The one object in ``{key: [{…}]}`` or ``{key: {…}}`` and its normalised id."""
    response = f"DFØ {key} response"
    if not isinstance(payload, dict):
        raise MappingError(f"{response} must be a JSON object, not {json_type(payload)}")
    if key not in payload:
        raise MappingError(f"{response} has no '{key}' field")
    value = payload[key]
    entries = [value] if isinstance(value, dict) else value
    if not isinstance(entries, list):
        raise MappingError(
            f"{response}: '{key}' must be a list or an object, not {json_type(value)}"
        )
    if len(entries) != 1:
        raise MappingError(f"{response}: '{key}' holds {len(entries)} records, expected exactly 1")
    fields = entries[0]
    if not isinstance(fields, dict):
        raise MappingError(f"{response}: '{key}' holds {json_type(fields)}, not an object")
    record_id = SourceRecord(fields, f"DFØ {key}").get("id", sap_number)
    return SourceRecord(fields, f"DFØ {key} {record_id}"), record_id


def dfo_header(
    record: SourceRecord, record_id: str, institution: str, fetched_at: datetime
) -> dict[str, object]:
    """The fields every DFØ record starts with (source system ``dfo_sap``)."""
    return source_header(
        record,
        source_system=SOURCE_SYSTEM,
        source_id=record_id,
        institution=institution,
        fetched_at=fetched_at,
    )


# --- employees ---


def normalise_employee_id(value: object) -> str:
    """An ansattnummer without leading zeros (``"00123456"`` or ``123456`` → ``"123456"``).

    Raises :class:`MappingError` unless ``value`` is a non-negative number or a
    string of digits with at most eight significant digits.
    """
    try:
        return sap_number(value)
    except InvalidValueError as problem:
        raise MappingError(f"DFØ employee number {problem}") from None


def _passports(record: SourceRecord, secret: str) -> list[dict[str, object]]:
    """Passports from ``annenId`` (idType 02), as pseudonym and masked number."""
    passports: list[dict[str, object]] = []
    for entry in record.nested("annenId"):
        if entry.get("idType", _id_type) != PASSPORT_ID_TYPE:
            continue
        number = entry.get("idNr", code)
        if number is None:
            continue
        issued_in = entry.get("idLand", country)
        passports.append(
            {
                "country": issued_in,
                "pseudonym": pseudonym(secret, "passport", f"{issued_in or ''}-{number}"),
                "masked": mask_identifier(number),
            }
        )
    return passports


def _identity(record: SourceRecord, secret: str) -> dict[str, object]:
    """Who the employee is: identifiers (pseudonymised), names and usernames."""
    fnr = record.get("fnr", national_id)
    return {
        "national_id_pseudonym": national_id_pseudonym(secret, fnr) if fnr else None,
        "national_id_masked": mask_identifier(fnr) if fnr else None,
        "passports": _passports(record, secret),
        "first_name": record.get("fornavn", text),
        "last_name": record.get("etternavn", text),
        "birth_date": record.get("fdato", date_value),
        "username": record.get("brukerident", text),
        "dfo_username": record.get("dfoBrukerident", text),
        "external_username": record.get("eksternIdent", text),
    }


def _additional_position(entry: SourceRecord) -> dict[str, object] | None:
    """One ``tilleggsstilling``; None for the placeholder position."""
    position_id = entry.get("stillingId", sap_number)
    if position_id == PLACEHOLDER_POSITION_ID:
        return None
    return {
        "position_id": position_id,
        "start_date": entry.get("startdato", date_value),
        "end_date": entry.get("sluttdato", date_value),
        "part_time_percent": entry.get("dellonnsprosent", percent),
    }


def _employment(record: SourceRecord) -> dict[str, object]:
    """The employment: positions, dates, groups, flags and org placement."""
    additional = (_additional_position(entry) for entry in record.nested("tilleggsstilling"))
    return {
        "main_position_id": record.get("stillingId", position_ref),
        "employee_group": record.get("medarbeidergruppe", code),
        "employee_subgroup": record.get("medarbeiderundergruppe", code),
        "start_date": record.get("startdato", date_value),
        "end_date": record.get("sluttdato", date_value),
        "part_time_percent": record.get("dellonnsprosent", percent),
        "title": record.get("tittel", text),
        "additional_positions": [position for position in additional if position is not None],
        "external": record.get("eksternbruker", flag),
        "head_of_unit": record.get("lederflagg", flag),
        "reserved_from_publication": record.get("reservasjonPublisering", flag),
        "org_unit_id": record.get("organisasjonId", code),
        "cost_centre": record.get("kostnadssted", code),
        "end_reason": record.get("sluttarsak", code),
        "changed_date": record.get("endretDato", date_value),
    }


def _contact(record: SourceRecord) -> dict[str, object]:
    """Work contact details; private ones only as whether they are set."""
    return {
        "work_phone": record.get("telefonnummer", code),
        "service_phone": record.get("tjenestetelefon", code),
        "mobile": record.get("mobilnummer", code),
        "email": record.get("epost", text),
        "has_private_mobile": record.get("mobilPrivat", is_set),
        "has_private_email": record.get("privatEpost", is_set),
    }


def map_employee(
    payload: object, *, institution: str, secret: str, fetched_at: datetime
) -> dict[str, object]:
    """Map the body of ``GET ansatte/v2/{id}`` to a ``no.bott.hub.dfo.Employee`` record.

    ``secret`` keys the national ID and passport pseudonyms; ``fetched_at``
    (timezone-aware) becomes ``source_timestamp``, ``endretDato`` becomes
    ``changed_date``. Raises :class:`MappingError` for anything that does not fit.
    """
    record, employee_id = single_record(payload, "ansatt")
    if not secret:
        raise MappingError(f"{record.label}: no pseudonym secret given")
    return {
        **dfo_header(record, employee_id, institution, fetched_at),
        "employee_id": employee_id,
        **_identity(record, secret),
        **_employment(record),
        **_contact(record),
    }


# --- positions ---


def _holder(entry: SourceRecord) -> dict[str, object]:
    """One ``innehaver`` of a position."""
    return {
        "employee_id": entry.get("innehaverAnsattnr", sap_number),
        "start_date": entry.get("innehaverStartdato", date_value),
        "end_date": entry.get("innehaverSluttdato", date_value),
    }


def _category(entry: SourceRecord) -> dict[str, object]:
    """One ``stillingskat`` (position category) of a position."""
    return {
        "category_id": entry.get("stillingskatId", required(code)),
        "name": entry.get("stillingskatBetegn", text),
    }


def map_position(payload: object, *, institution: str, fetched_at: datetime) -> dict[str, object]:
    """Map the body of ``GET stillinger/v2/{id}`` to a ``no.bott.hub.dfo.Position`` record.

    ``fetched_at`` (timezone-aware) becomes ``source_timestamp``. Raises
    :class:`MappingError` for anything that does not fit.
    """
    record, position_id = single_record(payload, "stilling")
    return {
        **dfo_header(record, position_id, institution, fetched_at),
        "position_id": position_id,
        "position_code": record.get("stillingskode", code),
        "title": record.get("stillingstittel", text),
        "occupation_code": record.get("yrkeskode", code),
        "org_unit_id": record.get("organisasjonId", code),
        "holders": [_holder(entry) for entry in record.nested("innehaver")],
        "categories": [_category(entry) for entry in record.nested("stillingskat")],
    }
