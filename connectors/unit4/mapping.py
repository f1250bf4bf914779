"""Map Unit4 ERP's native JSON to the hub's ``no.bott.hub.unit4`` Avro records.

Unit4 ERPx serves its data as *Enterprise Documents* through the ObjectAPI:
``GET /v1/objects/{documents}?companyId=…&filter=…`` answers with a JSON list of
documents, each carrying ``lastUpdated {updatedAt, updatedBy}``. :func:`map_resource`
takes one document of ``/v1/objects/resources`` and :func:`map_approver_role` one of
``/v1/objects/approver-roles``. Both are pure: no I/O, no clock; the caller passes the
fetch time.

What is inferred (the hub cannot see a real installation; see docs/sources/unit4.md):

* A resource's id (``resourceId``) equals DFØ's ansattnummer, zero-padded like it
  (``"00123456"``). Ids of digits lose their leading zeros, as DFØ's do; when the id
  is a plausible DFØ number (at most eight significant digits) it also becomes
  ``employee_id``. Other ids (external resources) are kept as given.
* Cost centre and org unit are *relations* of the resource, each an attribute id and
  value valid over a period; the attribute ids and the contact-point type of work
  details differ per installation (:class:`InstallationCodes`). The relation valid
  on the fetch date wins; without one, the one that started last.
* An approver role is a document with the role id (``KOSTNADSGODKJENNER``,
  ``ATTESTANT`` or another), the BDM flag ``budgetAuthority`` and the cost centre it
  is scoped to (``null``, empty or ``*`` for all).
* Unit4 writes an open end date as ``2099-12-31``; it becomes ``None`` like DFØ's
  ``9999-12-31``.

Unknown fields are ignored. Every problem raises :class:`MappingError` naming the
record (``Unit4 resource 123456: dateTo '2025-13-01' is not a date (YYYY-MM-DD)``).
Only work contact details are read: other contact points (home address, private
phone) are never looked at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from connectors.dfo.mapping import normalise_employee_id
from connectors.source_json import (
    InvalidValueError,
    SourceRecord,
    code,
    date_value,
    flag,
    json_type,
    required,
    show,
    source_header,
    text,
)
from hub.errors import MappingError

__all__ = [
    "APPROVER_ROLE_NAMES",
    "SOURCE_SYSTEM",
    "UNIT4_OPEN_ENDED_DATE",
    "InstallationCodes",
    "documents",
    "map_approver_role",
    "map_resource",
    "normalise_resource_id",
]

SOURCE_SYSTEM = "unit4"
UNIT4_OPEN_ENDED_DATE = "2099-12-31"
APPROVER_ROLE_NAMES = frozenset({"kostnadsgodkjenner", "attestant"})
ALL_COST_CENTRES = "*"
MAX_RESOURCE_ID_LENGTH = 25  # Unit4's resource id column

_RESOURCE_ID = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class InstallationCodes:
    """The codes one Unit4 installation uses for what the hub reads (inferred defaults)."""

    cost_centre_attribute: str = "C1"
    org_unit_attribute: str = "ORGID"
    work_contact_point: str = "1"


# --- Unit4's own value converters; the general ones are in connectors.source_json ---


def _day(value: object) -> date | None:
    """A ``YYYY-MM-DD`` date; Unit4's open end ``2099-12-31`` becomes None."""
    if isinstance(value, str) and value.strip() == UNIT4_OPEN_ENDED_DATE:
        return None
    return date_value(value)


def _resource_id(value: object) -> str:
    """A resource id: digits without leading zeros, or a short id of safe characters."""
    found = required(code)(value)
    if not _RESOURCE_ID.fullmatch(found):
        raise InvalidValueError(f"{show(found)} is not a resource id (letters and digits)")
    if len(found) > MAX_RESOURCE_ID_LENGTH:
        raise InvalidValueError(f"has {len(found)} characters, at most {MAX_RESOURCE_ID_LENGTH}")
    return (found.lstrip("0") or "0") if found.isdigit() else found


def _cost_centre_scope(value: object) -> str | None:
    """The cost centre a role is scoped to; None (all) for empty or ``*``."""
    found = code(value)
    return None if found is None or found == ALL_COST_CENTRES else found


def normalise_resource_id(value: object) -> str:
    """A resource id as the hub keys it (``"00123456"`` → ``"123456"``; ``"EXT-7"`` kept).

    Raises :class:`MappingError` for anything that is not a resource id.
    """
    try:
        return _resource_id(value)
    except InvalidValueError as problem:
        raise MappingError(f"Unit4 resource id {problem}") from None


def _employee_id(resource_id: str) -> str | None:
    """The DFØ ansattnummer a resource id stands for (inferred equal), if it can be one."""
    try:
        return normalise_employee_id(resource_id)
    except MappingError:
        return None


# --- documents ---


def _document(payload: object, kind: str, key: str) -> tuple[SourceRecord, str]:
    """One Enterprise Document and its normalised resource id."""
    record = SourceRecord.of(payload, f"Unit4 {kind}")
    resource_id = record.get(key, _resource_id)
    return SourceRecord(record.fields, f"Unit4 {kind} {resource_id}"), resource_id


# --- resources ---


def _relation_on(relations: Sequence[SourceRecord], attribute: str, day: date) -> str | None:
    """The value of the relation to ``attribute`` valid on ``day``, else the latest one."""
    found: list[tuple[date, date | None, str]] = []
    for relation in relations:
        if relation.get("attributeId", required(code)) != attribute:
            continue
        value = relation.get("attributeValue", code)
        start = relation.get("dateFrom", _day) or date.min
        end = relation.get("dateTo", _day)
        if value is not None:
            found.append((start, end, value))
    current = [value for start, end, value in found if start <= day and (end is None or day <= end)]
    if current:
        return current[-1]
    return max(found, key=lambda entry: entry[0])[2] if found else None


def _work_email(record: SourceRecord, codes: InstallationCodes) -> str | None:
    """The e-mail of the first work contact point; other kinds are never read."""
    for contact in record.nested("contactPoints"):
        if contact.get("contactPointType", code) == codes.work_contact_point:
            email = contact.get("eMail", text)
            if email is not None:
                return email
    return None


def _name(record: SourceRecord) -> str | None:
    """The name as Unit4 shows it, or first name and surname."""
    shown = record.get("name", text)
    if shown is not None:
        return shown
    parts = (record.get("firstName", text), record.get("surname", text))
    return " ".join(part for part in parts if part) or None


def map_resource(
    payload: object,
    *,
    institution: str,
    fetched_at: datetime,
    codes: InstallationCodes = InstallationCodes(),
) -> dict[str, object]:
    """Map one ``/v1/objects/resources`` document to a ``no.bott.hub.unit4.Resource`` record.

    ``fetched_at`` (timezone-aware) becomes ``source_timestamp`` and picks the
    relations valid on that day. Raises :class:`MappingError` for anything that
    does not fit.
    """
    record, resource_id = _document(payload, "resource", "resourceId")
    header = source_header(
        record,
        source_system=SOURCE_SYSTEM,
        source_id=resource_id,
        institution=institution,
        fetched_at=fetched_at,
    )
    relations = record.nested("relations")
    day = fetched_at.date()
    return {
        **header,
        "resource_id": resource_id,
        "employee_id": _employee_id(resource_id),
        "name": _name(record),
        "status": record.get("status", code),
        "cost_centre": _relation_on(relations, codes.cost_centre_attribute, day),
        "org_unit_id": _relation_on(relations, codes.org_unit_attribute, day),
        "valid_from": record.get("dateFrom", _day),
        "valid_to": record.get("dateTo", _day),
        "email": _work_email(record, codes),
        "username": record.get("userId", text),
    }


# --- approver roles ---


def _role(value: object) -> str:
    """A role id: the two approver roles by their names, others as given."""
    found = required(text)(value)
    lowered = found.lower()
    return lowered if lowered in APPROVER_ROLE_NAMES else found


def _assignment_id(record: SourceRecord, resource_id: str, role: str, scope: str | None) -> str:
    """Unit4's assignment id, or a key built from resource, role and cost centre."""
    given = record.get("assignmentId", code)
    return given if given is not None else f"{resource_id}-{role}-{scope or 'all'}"


def map_approver_role(
    payload: object, *, institution: str, fetched_at: datetime
) -> dict[str, object]:
    """Map one ``/v1/objects/approver-roles`` document to a
    ``no.bott.hub.unit4.ApproverRole`` record.

    ``fetched_at`` (timezone-aware) becomes ``source_timestamp``. Raises
    :class:`MappingError` for anything that does not fit.
    """
    record, resource_id = _document(payload, "approver role of resource", "resourceId")
    role = record.get("roleId", _role)
    scope = record.get("costCentre", _cost_centre_scope)
    assignment_id = _assignment_id(record, resource_id, role, scope)
    record = SourceRecord(record.fields, f"Unit4 approver role {assignment_id}")
    return {
        **source_header(
            record,
            source_system=SOURCE_SYSTEM,
            source_id=assignment_id,
            institution=institution,
            fetched_at=fetched_at,
        ),
        "assignment_id": assignment_id,
        "resource_id": resource_id,
        "role": role,
        "has_budget_authority": record.get("budgetAuthority", flag),
        "cost_centre": scope,
        "valid_from": record.get("dateFrom", _day),
        "valid_to": record.get("dateTo", _day),
    }


def documents(payload: object, kind: str) -> list[object]:
    """The documents of an ObjectAPI answer, which must be a JSON list."""
    if not isinstance(payload, list):
        raise MappingError(f"Unit4 {kind} answer must be a JSON list, not {json_type(payload)}")
    return list(payload)
