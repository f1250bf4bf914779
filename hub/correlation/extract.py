"""What each kind of source record says about identity: its :class:`RecordIdentity`.

*Linking* records assert that their identifiers belong to one person: DFØ
employees, IAM persons and accounts, Greg persons and Unit4 resources. *Attached*
records only point at a person: a position's holder (one per holder), a payroll
result, an approver role and a web profile. A web profile names a username and an
employee number, but if the two disagree that is a mismatch to report, not a
reason to join two people. DFØ's written-back username (``eksternIdent``) is not
used for linking either: rule 12 compares it with IAM's.

Org units are reference data, not about a person, and have no identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.correlation.identifiers import Identifier, Kind
from hub.correlation.resolve import RecordIdentity

__all__ = ["PERSON_SOURCES", "REFERENCE_SOURCES", "identities_of", "masked_forms", "record_ref"]


Record = dict[str, Any]

REFERENCE_SOURCES = ("source.dfo.orgunit", "source.orgreg.orgunit")

_EXTERNAL_ID_KINDS = {
    "DFO_PID": Kind.DFO,
    "GREG_PID": Kind.GREG,
    "UHID": Kind.UHID,
    "PASSNR": Kind.PASSPORT,
}


def record_ref(source: str, record: Record) -> str:
    """The record's name in the correlation state: ``<source>/<source id>``."""
    return f"{source}/{record['source_id']}"


def _employee_number(value: str) -> str:
    return value.lstrip("0") or "0"


def _pseudonymous(pseudonym: str | None) -> Identifier | None:
    """An identity-number pseudonym (``nin:…``, ``dnr:…``, ``passport:…``) as an identifier."""
    if not pseudonym:
        return None
    kind, _, value = pseudonym.partition(":")
    try:
        return Identifier(Kind(kind), value) if value else None
    except ValueError:
        return None


def _identity_numbers(record: Record) -> Iterable[Identifier | None]:
    yield _pseudonymous(record.get("national_id_pseudonym"))
    for passport in record.get("passports") or []:
        yield _pseudonymous(passport["pseudonym"])


def _external_ids(record: Record) -> Iterable[Identifier | None]:
    for external in record.get("external_ids") or []:
        id_type, value = external["id_type"], external["value"]
        if id_type == "NO_BIRTHNO":
            yield _pseudonymous(value)
        elif id_type == "PASSNR":
            yield _pseudonymous(value) if ":" in value else Identifier(Kind.PASSPORT, value)
        elif id_type in _EXTERNAL_ID_KINDS:
            kind = _EXTERNAL_ID_KINDS[id_type]
            yield Identifier(kind, _employee_number(value) if kind is Kind.DFO else value)


def _iam_id(record: Record, value: str | None) -> Identifier | None:
    if not value:
        return None
    felles = record.get("source_system") == "felles_iam" or record.get("style") == "felles_iam"
    return Identifier(Kind.UHID if felles else Kind.IAM, value)


def _linking(ref: str, identifiers: Iterable[Identifier | None]) -> list[RecordIdentity]:
    found = frozenset(i for i in identifiers if i is not None)
    return [RecordIdentity(ref, found, linking=True)] if found else []


def _attached(ref: str, identifier: Identifier | None) -> list[RecordIdentity]:
    return [RecordIdentity(ref, frozenset({identifier}), linking=False)] if identifier else []


def _dfo_employee(ref: str, record: Record) -> list[RecordIdentity]:
    return _linking(
        ref,
        [
            Identifier(Kind.DFO, _employee_number(record["employee_id"])),
            *_identity_numbers(record),
        ],
    )


def _feide(record: Record, field: str) -> Identifier | None:
    return Identifier(Kind.EPPN, record[field]) if record.get(field) else None


def _iam_account(ref: str, record: Record) -> list[RecordIdentity]:
    return _linking(
        ref,
        [
            _iam_id(record, record.get("iam_person_id")),
            Identifier(Kind.USERNAME, record["username"]),
            _feide(record, "feide_principal_name"),
            *_external_ids(record),
        ],
    )


def _iam_person(ref: str, record: Record) -> list[RecordIdentity]:
    usernames = {*(record.get("usernames") or []), record.get("primary_username")}
    return _linking(
        ref,
        [
            _iam_id(record, record.get("iam_person_id")),
            Identifier(Kind.UHID, record["uhid"]) if record.get("uhid") else None,
            *(Identifier(Kind.USERNAME, u) for u in sorted(u for u in usernames if u)),
            _feide(record, "feide_principal_name"),
            *_identity_numbers(record),
            *_external_ids(record),
        ],
    )


def _greg_person(ref: str, record: Record) -> list[RecordIdentity]:
    return _linking(
        ref,
        [
            Identifier(Kind.GREG, record["greg_id"]),
            _feide(record, "feide_id"),
            *_identity_numbers(record),
        ],
    )


def _employee_of(record: Record) -> Identifier | None:
    employee = record.get("employee_id")
    return Identifier(Kind.DFO, _employee_number(employee)) if employee else None


def _unit4_resource(ref: str, record: Record) -> list[RecordIdentity]:
    return _linking(ref, [Identifier(Kind.UNIT4, record["resource_id"]), _employee_of(record)])


def _position_holders(ref: str, record: Record) -> list[RecordIdentity]:
    holders = {_employee_number(h["employee_id"]) for h in record.get("holders") or []}
    return [
        RecordIdentity(f"{ref}#{number}", frozenset({Identifier(Kind.DFO, number)}), False)
        for number in sorted(holders)
    ]


def _payroll_result(ref: str, record: Record) -> list[RecordIdentity]:
    return _attached(ref, _employee_of(record))


def _approver_role(ref: str, record: Record) -> list[RecordIdentity]:
    return _attached(ref, Identifier(Kind.UNIT4, record["resource_id"]))


def _web_profile(ref: str, record: Record) -> list[RecordIdentity]:
    if record.get("username"):
        return _attached(ref, Identifier(Kind.USERNAME, record["username"]))
    return _attached(ref, _employee_of(record))


_EXTRACTORS = {
    "source.dfo.employee": _dfo_employee,
    "source.iam.account": _iam_account,
    "source.iam.person": _iam_person,
    "source.greg.person": _greg_person,
    "source.unit4.resource": _unit4_resource,
    "source.dfo.position": _position_holders,
    "source.payroll.result": _payroll_result,
    "source.unit4.approver-role": _approver_role,
    "source.web.profile": _web_profile,
}


def identities_of(source: str, record: Record) -> list[RecordIdentity]:
    """The identities a record from the logical topic ``source`` carries (most have one;
    a position has one per holder; org units and unknown sources have none)."""
    extract = _EXTRACTORS.get(source)
    return extract(record_ref(source, record), record) if extract else []


PERSON_SOURCES = tuple(_EXTRACTORS)


def masked_forms(record: Record) -> dict[Identifier, str]:
    """How to show a record's identity numbers: their masked forms, by identifier."""
    forms: dict[Identifier, str] = {}
    national = _pseudonymous(record.get("national_id_pseudonym"))
    if national is not None and record.get("national_id_masked"):
        forms[national] = record["national_id_masked"]
    for passport in record.get("passports") or []:
        identifier = _pseudonymous(passport["pseudonym"])
        if identifier is not None:
            forms[identifier] = passport["masked"]
    return forms
