"""Map OrgReg's native JSON to the hub's ``no.bott.hub.orgreg.OrgUnit`` Avro record.

OrgReg (UiO's org unit registry) answers ``GET /v3/ou/{ouId}`` with one unit and
``GET /v3/ou`` with a JSON list of every unit. :func:`map_org_unit` takes one unit
object; :func:`units` checks a listing. Both are pure: the caller passes the fetch
time.

What the mapping reads, as UiO's Cerebrum client reads it: ``ouId`` (a whole number);
``parent`` (the parent's ouId; ``0`` for the root, which becomes None); ``validFrom``
(required) and ``validTo`` (``YYYY-MM-DD``, empty or missing for open-ended);
``name {nob, nno, eng}``; ``externalKeys [{sourceSystem, type, value}]``, each part
required. The ``dfo_sap/dfo_org_id`` key ties a unit to DFØ's organisasjonId, and its
value is kept exactly as OrgReg gives it (trimmed), as the rules compare it with
DFØ's. Other fields (``children``, ``tags``, addresses, …) are ignored.

Every problem raises :class:`MappingError` naming the unit
(``OrgReg unit 1430: validFrom is missing``).
"""

from __future__ import annotations

import re
from datetime import datetime

from connectors.source_json import (
    InvalidValueError,
    SourceRecord,
    code,
    date_value,
    json_type,
    required,
    show,
    source_header,
    text,
)
from hub.errors import MappingError

__all__ = ["LANGUAGES", "SOURCE_SYSTEM", "map_org_unit", "normalise_ou_id", "units"]

SOURCE_SYSTEM = "orgreg"
LANGUAGES = ("nob", "nno", "eng")
ROOT_PARENT = "0"
MAX_OU_DIGITS = 12

_DIGITS = re.compile(r"[0-9]+")


def _ou_ref(value: object) -> str | None:
    """An ouId reference: a non-negative whole number, as a string without leading zeros."""
    if isinstance(value, bool):
        raise InvalidValueError("must be a number, not a boolean")
    found = code(value)
    if found is None:
        return None
    if not _DIGITS.fullmatch(found):
        raise InvalidValueError(f"{show(found)} is not an OrgReg unit id (digits)")
    digits = found.lstrip("0") or "0"
    if len(digits) > MAX_OU_DIGITS:
        raise InvalidValueError(f"has {len(digits)} digits, at most {MAX_OU_DIGITS}")
    return digits


def _parent(value: object) -> str | None:
    """The parent's ouId; OrgReg's ``0`` for the root becomes None."""
    parent = _ou_ref(value)
    return None if parent == ROOT_PARENT else parent


def normalise_ou_id(value: object) -> str:
    """An ouId as the hub keys it (``1430`` or ``"01430"`` → ``"1430"``).

    Raises :class:`MappingError` unless ``value`` is a non-negative whole number.
    """
    try:
        return required(_ou_ref)(value)
    except InvalidValueError as problem:
        raise MappingError(f"OrgReg unit id {problem}") from None


def _names(record: SourceRecord) -> dict[str, object]:
    """The unit's name in bokmål, nynorsk and English."""
    names = record.child("name")
    return {
        f"name_{language}": names.get(language, text) if names else None for language in LANGUAGES
    }


def _external_key(entry: SourceRecord) -> dict[str, object]:
    return {
        "source_system": entry.get("sourceSystem", required(text)),
        "type": entry.get("type", required(text)),
        "value": entry.get("value", required(code)),
    }


def map_org_unit(payload: object, *, institution: str, fetched_at: datetime) -> dict[str, object]:
    """Map one OrgReg unit (``GET /v3/ou/{ouId}``) to a ``no.bott.hub.orgreg.OrgUnit`` record.

    ``fetched_at`` (timezone-aware) becomes ``source_timestamp``. Raises
    :class:`MappingError` for anything that does not fit.
    """
    ou_id = SourceRecord.of(payload, "OrgReg unit").get("ouId", required(_ou_ref))
    record = SourceRecord.of(payload, f"OrgReg unit {ou_id}")
    return {
        **source_header(
            record,
            source_system=SOURCE_SYSTEM,
            source_id=ou_id,
            institution=institution,
            fetched_at=fetched_at,
        ),
        "ou_id": ou_id,
        "parent_id": record.get("parent", _parent),
        "valid_from": record.get("validFrom", required(date_value)),
        "valid_to": record.get("validTo", date_value),
        "names": _names(record),
        "external_keys": [_external_key(entry) for entry in record.nested("externalKeys")],
    }


def units(payload: object) -> list[object]:
    """The units of a ``GET /v3/ou`` listing, which must be a JSON list."""
    if not isinstance(payload, list):
        raise MappingError(f"OrgReg unit listing must be a JSON list, not {json_type(payload)}")
    return list(payload)
