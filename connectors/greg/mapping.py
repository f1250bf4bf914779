"""Map Greg's native person JSON to the hub's ``no.bott.hub.greg.Person`` record.

:func:`map_person` takes the parsed body of ``GET /v1/persons/{id}`` (or one entry
of ``results`` in a ``GET /v1/persons`` page): a person object, not wrapped. It is
pure: no I/O, no clock; the caller passes the fetch time.

Greg's person, as UiO's Greg API returns it and Cerebrum's Greg import reads it::

    {"id": 2, "first_name": "…", "last_name": "…", "date_of_birth": "1998-06-28",
     "registration_completed_date": "2021-11-23", "created": "…", "updated": "…",
     "identities": [{"id": 6, "person": 2, "source": "…", "type": "feide_id",
                     "value": "…", "verified": "manual", "verified_at": "…",
                     "invalid": null}, …],
     "roles": [{"id": 32, "type": "guest-researcher", "start_date": "…",
                "end_date": "…", "sponsor": 2,
                "orgunit": {"id": 3, "active": true, "deleted": false,
                            "identifiers": [{"source": "orgreg", "name": "orgreg_id",
                                             "value": "3"}], …}}, …],
     "consents": [{"type": {"identifier": "publish", …}, "choice": "no", …}]}

How it is mapped:

* Ids (person, role, sponsor, org unit) are JSON numbers or strings of digits;
  they become digit strings without leading zeros (``"0321"`` → ``"321"``).
  ``sponsor`` and ``orgunit`` may be a bare id or an object with an ``id``.
* ``registration_completed_date`` is a date (``YYYY-MM-DD``, midnight UTC) or a
  timestamp with a time zone.
* Identities: every identity appears in ``identities`` as its type, verification
  and ``invalid`` flag, never its value. Only *trusted* identities — verified
  ``automatic`` or ``manual`` and not marked invalid — give identifiers, as in
  Cerebrum's Greg import: the national ID (``norwegian_national_id_number``; a
  dummy number is dropped) as a keyed pseudonym and a masked form, passports
  (``passport_number``, written ``NO-123456789``) likewise, and the first
  ``feide_id`` (which must read ``uid@realm``) as ``feide_id``. An unverified
  identity is a claim, and linking on
  it could merge two people. Two different trusted national IDs are an error to
  fix in Greg. ``private_mobile`` never leaves Greg.
* A role's ``org_unit_active`` is ``orgunit.active`` (true when absent) and not
  ``orgunit.deleted``. A consent's ``choice`` is ``yes`` or ``no``.

Free text copied into the record (names, identity, role and consent types)
must not hold what looks like a national ID. Unknown fields are ignored. Every
other problem raises :class:`MappingError`
naming the record (``Greg person 2: roles[0].start_date '2021-13-03' is not a date
(YYYY-MM-DD)``), never quoting an identity value.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from connectors.identity_numbers import (
    MappingContext,
    feide_name,
    free_code,
    free_text,
    one_value,
    passport_parts,
)
from connectors.source_json import (
    InvalidValueError,
    SourceRecord,
    date_value,
    flag,
    national_id,
    numeric_id,
    required,
    timestamp,
)
from hub.errors import MappingError

__all__ = [
    "FEIDE_ID",
    "NATIONAL_ID",
    "PASSPORT",
    "SOURCE_SYSTEM",
    "TRUSTED_VERIFICATIONS",
    "map_person",
    "normalise_greg_id",
]

SOURCE_SYSTEM = "greg"
NATIONAL_ID = "norwegian_national_id_number"
PASSPORT = "passport_number"
FEIDE_ID = "feide_id"
TRUSTED_VERIFICATIONS = frozenset({"automatic", "manual"})
_DATE_LENGTH = len("2021-11-23")


# --- Greg's own value converters; the general ones are in connectors.source_json ---


def _reference(value: object) -> str | None:
    """A reference to another Greg object: a bare id or an object with an ``id``."""
    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("id") is None:
            raise InvalidValueError("is an object without an id")
        return numeric_id(value["id"])
    return numeric_id(value)


def _registration(value: object) -> datetime | None:
    """``registration_completed_date``: a date (midnight UTC) or a timestamp."""
    if isinstance(value, str) and len(value.strip()) == _DATE_LENGTH:
        day: date | None = date_value(value)
        return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
    return timestamp(value)


def _true_unless_false(value: object) -> bool:
    """A flag that is true when absent (``orgunit.active``)."""
    return value is None or flag(value)


def normalise_greg_id(value: object) -> str:
    """A Greg id as a digit string without leading zeros (``"0321"`` or ``321`` → ``"321"``).

    Raises :class:`MappingError` unless ``value`` is a non-negative number or a
    string of at most 18 digits.
    """
    try:
        return numeric_id(value)
    except InvalidValueError as problem:
        raise MappingError(f"Greg id {problem}") from None


# --- identities ---


def _summary(entry: SourceRecord) -> dict[str, object]:
    """One identity without its value: type, verification and the invalid flag."""
    return {
        "type": entry.get("type", required(free_text)),
        "verified": entry.get("verified", free_code),
        "verified_at": entry.get("verified_at", timestamp),
        "invalid": entry.get("invalid", flag),
    }


def _identities(record: SourceRecord, context: MappingContext) -> dict[str, object]:
    """Identity summaries, and identifiers from the trusted identities."""
    summaries: list[dict[str, object]] = []
    national_ids: list[str | None] = []
    passports: dict[object, dict[str, object]] = {}
    feide_ids: list[str | None] = []
    for entry in record.nested("identities"):
        summary = _summary(entry)
        summaries.append(summary)
        if summary["verified"] not in TRUSTED_VERIFICATIONS or summary["invalid"]:
            continue
        if summary["type"] == NATIONAL_ID:
            national_ids.append(entry.get("value", national_id))
        elif summary["type"] == PASSPORT:
            parts = entry.get("value", passport_parts)
            if parts is not None:
                ref = context.passport(*parts)
                passports.setdefault(ref["pseudonym"], ref)
        elif summary["type"] == FEIDE_ID:
            feide_ids.append(entry.get("value", feide_name))
    number = one_value(record, "identities", national_ids, "trusted national IDs")
    return {
        **context.national_id(number),
        "passports": list(passports.values()),
        "feide_id": next((feide for feide in feide_ids if feide), None),
        "identities": summaries,
    }


# --- roles and consents ---


def _role(entry: SourceRecord) -> dict[str, object]:
    """One role at a unit, with its sponsor."""
    unit = entry.fields.get("orgunit")
    details = entry.child("orgunit") if isinstance(unit, dict) else None
    active = details is None or (
        details.get("active", _true_unless_false) and not details.get("deleted", flag)
    )
    return {
        "role_id": entry.get("id", numeric_id),
        "type": entry.get("type", required(free_text)),
        "start_date": entry.get("start_date", date_value),
        "end_date": entry.get("end_date", date_value),
        "sponsor_id": entry.get("sponsor", _reference),
        "org_unit_id": entry.get("orgunit", _reference),
        "org_unit_active": active,
    }


def _consent(entry: SourceRecord) -> dict[str, object]:
    """One consent: the consent type's identifier and the yes/no choice."""
    kind = entry.child("type")
    if kind is None:
        raise MappingError(f"{entry.label}: {entry.path}type is missing")
    return {
        "type": kind.get("identifier", required(free_text)),
        "choice": entry.get("choice", flag),
    }


# --- the record ---


def map_person(
    payload: object, *, institution: str, secret: str, fetched_at: datetime
) -> dict[str, object]:
    """Map the body of ``GET /v1/persons/{id}`` to a ``no.bott.hub.greg.Person`` record.

    ``secret`` keys the national ID and passport pseudonyms; ``fetched_at``
    (timezone-aware) becomes ``source_timestamp``. Raises :class:`MappingError`
    for anything that does not fit.
    """
    person_id = SourceRecord.of(payload, "Greg person").get("id", numeric_id)
    record = SourceRecord.of(payload, f"Greg person {person_id}")
    context = MappingContext(institution, secret, fetched_at)
    return {
        **context.header(record, SOURCE_SYSTEM, person_id),
        "greg_id": person_id,
        "first_name": record.get("first_name", free_text),
        "last_name": record.get("last_name", free_text),
        "birth_date": record.get("date_of_birth", date_value),
        "registration_completed": record.get("registration_completed_date", _registration),
        **_identities(record, context),
        "roles": [_role(entry) for entry in record.nested("roles")],
        "consents": [_consent(entry) for entry in record.nested("consents")],
    }
