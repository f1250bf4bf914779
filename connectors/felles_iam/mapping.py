"""Map a Felles IAM SCIM User (UiB, UiT) to ``no.bott.hub.iam.Account`` and ``…Person``.

Felles IAM (RapidIdentity, run by Sikt) serves SCIM 2.0 ``/Users``: each User is
an account, and the person's *primary* account also carries the person. Sikt's
description of the API (G4, 2026) gives the User as::

    {"schemas": […], "id": "<UHID>", "externalId": "<UHID>",
     "userName": "gaa041@uib.no", "displayName": "…",
     "name": {"formatted": "…", "givenName": "…", "familyName": "…"},
     "userType": "Employee"|"Student"|"External"|"Other", "active": true,
     "emails": […], "phoneNumbers": […], "roles": […], "groups": […],
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber", …},
     "no:edu:scim:user": {"employeeNumber", "studentNumber", "fsPersonNumber",
        "gregPersonNumber", "eduPersonPrincipalName", "userPrincipalName",
        "accountType": "primary", "primaryOrgUnit": {"symbol", "legacyStedkode", …}},
     "meta": {"resourceType": "User", "created", "lastModified", "location"}}

:func:`map_user` maps one such User (the body of ``GET /Users/{id}`` or one of a
``ListResponse``'s ``Resources``) to the account, and to the person when it is a
primary account with a ``externalId``:

* ``id`` is the account's ``source_id``; ``externalId``, the person's UH-ID
  (``uhid``), is the account's ``iam_person_id`` and the person's id.
* ``userName`` is ``uhun@domain``; ``uhun`` is the username (DFØ's
  ``eksternIdent`` holds it). ``no:edu:scim:user.eduPersonPrincipalName`` is the
  Feide name; an account without it is not in Feide.
* ``active`` gives ``ACTIVE`` or ``DISABLED`` (``UNKNOWN`` when absent); Felles
  IAM deletes accounts 180 days after disabling them, announced by a ``delete``
  notification.
* ``employeeNumber`` (``no:edu:scim:user`` or the enterprise extension; they
  must agree) becomes ``DFO_PID``, ``gregPersonNumber`` ``GREG_PID``, as digits
  without leading zeros. ``norEduPersonNIN``, which older API versions return
  (G4 only searches on it), becomes the national ID pseudonym.
* ``userType`` gives the affiliation: Employee ``ANSATT``, Student ``STUDENT``,
  External ``TILKNYTTET``; Other none. Its unit is
  ``primaryOrgUnit.legacyStedkode``; its status and source are unknown, so an
  ``ANSATT`` affiliation counts as DFØ's for the leaver rule. *Inferred*: the
  SCIM API has no Cerebrum-style affiliations.

Names, usernames, Feide names and unit codes that hold what looks like a
national ID are refused. Unknown fields are ignored. Every other problem raises
:class:`MappingError` naming the user (``Felles IAM user 362ff274…: userName must be a string``),
never quoting a national ID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from connectors.identity_numbers import MappingContext, feide_name, free_code, free_text
from connectors.source_json import (
    SourceRecord,
    flag,
    matching,
    national_id,
    numeric_id,
    required,
    text,
)
from hub.errors import MappingError

__all__ = [
    "ENTERPRISE_EXTENSION",
    "NO_EDU_EXTENSION",
    "SOURCE_SYSTEM",
    "USER_TYPE_AFFILIATIONS",
    "UserRecords",
    "map_user",
    "user_id",
]

SOURCE_SYSTEM = "felles_iam"
ENTERPRISE_EXTENSION = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
NO_EDU_EXTENSION = "no:edu:scim:user"
PRIMARY = "primary"
USER_TYPE_AFFILIATIONS = {"Employee": "ANSATT", "Student": "STUDENT", "External": "TILKNYTTET"}
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}(?:@[^@\s]+)?")


@dataclass(frozen=True)
class UserRecords:
    """What one SCIM User says: always an account; a person for a primary account."""

    account: dict[str, object]
    person: dict[str, object] | None


# --- converters ---


user_id = matching(_USER_ID, "a user id")
"""A SCIM User id or UH-ID (a GUID, with or without dashes)."""


def _uhun(value: object) -> str:
    """The username in ``userName`` (``uhun@domain`` → ``uhun``)."""
    written = matching(_USER_NAME, "a username (uhun@domain)")(value)
    return required(free_text)(written.partition("@")[0])


def _status(value: object) -> str:
    if value is None:
        return "UNKNOWN"
    return "ACTIVE" if flag(value) else "DISABLED"


# --- the parts of a User ---


def _employee_number(record: SourceRecord, no_edu: SourceRecord | None) -> str | None:
    """The DFØ employee number, from either extension; the two must agree."""
    enterprise = record.child(ENTERPRISE_EXTENSION)
    numbers = {
        number
        for number in (
            no_edu.get("employeeNumber", _optional_id) if no_edu else None,
            enterprise.get("employeeNumber", _optional_id) if enterprise else None,
        )
        if number is not None
    }
    if len(numbers) > 1:
        raise MappingError(f"{record.label}: the two extensions give different employee numbers")
    return numbers.pop() if numbers else None


def _optional_id(value: object) -> str | None:
    return None if value is None or value == "" else numeric_id(value)


def _affiliations(record: SourceRecord, no_edu: SourceRecord | None) -> list[dict[str, object]]:
    """The affiliation ``userType`` gives, at the primary unit."""
    affiliation = USER_TYPE_AFFILIATIONS.get(record.get("userType", text) or "")
    if affiliation is None:
        return []
    unit = no_edu.child("primaryOrgUnit") if no_edu else None
    return [
        {
            "affiliation": affiliation,
            "status": None,
            "org_unit_id": unit.get("legacyStedkode", free_code) if unit else None,
            "source_system": None,
        }
    ]


def _optional_user_id(value: object) -> str | None:
    return None if value is None else user_id(value)


@dataclass(frozen=True)
class _About:
    """What the account and the person share."""

    uhid: str | None
    username: str
    feide: str | None
    national_id: dict[str, object]
    affiliations: list[dict[str, object]]
    linked_ids: list[dict[str, object]]  # DFO_PID, GREG_PID
    primary: bool


def _about(record: SourceRecord, context: MappingContext) -> _About:
    no_edu = record.child(NO_EDU_EXTENSION)
    employee = _employee_number(record, no_edu)
    greg = no_edu.get("gregPersonNumber", _optional_id) if no_edu else None
    pairs = (("DFO_PID", employee), ("GREG_PID", greg))
    return _About(
        uhid=record.get("externalId", _optional_user_id),
        username=record.get("userName", _uhun),
        feide=no_edu.get("eduPersonPrincipalName", feide_name) if no_edu else None,
        national_id=context.national_id(
            no_edu.get("norEduPersonNIN", national_id) if no_edu else None
        ),
        affiliations=_affiliations(record, no_edu),
        linked_ids=[{"id_type": kind, "value": value} for kind, value in pairs if value],
        primary=no_edu is not None and no_edu.get("accountType", text) == PRIMARY,
    )


def _account(head: dict[str, object], record: SourceRecord, about: _About) -> dict[str, object]:
    national = about.national_id["national_id_pseudonym"]
    numbers = [{"id_type": "NO_BIRTHNO", "value": national}] if national else []
    return {
        **head,
        "iam_person_id": about.uhid,
        "username": about.username,
        "feide_principal_name": about.feide,
        "status": record.get("active", _status),
        "expires_on": None,
        "affiliations": about.affiliations,
        "external_ids": [*numbers, *about.linked_ids],
        "publicly_visible": None,
    }


def _person(
    head: dict[str, object], record: SourceRecord, uhid: str, about: _About
) -> dict[str, object]:
    names = record.child("name")
    return {
        **head,
        "iam_person_id": uhid,
        "style": SOURCE_SYSTEM,
        "uhid": uhid,
        "first_name": names.get("givenName", free_text) if names else None,
        "last_name": names.get("familyName", free_text) if names else None,
        "birth_date": None,
        **about.national_id,
        "passports": [],
        "external_ids": about.linked_ids,
        "affiliations": about.affiliations,
        "usernames": [about.username],
        "primary_username": about.username,
        "feide_principal_name": about.feide,
        "public_visibility_consent": None,
        "reserved_from_publication": None,
    }


# --- the records ---


def map_user(
    payload: object, *, institution: str, secret: str, fetched_at: datetime
) -> UserRecords:
    """Map one SCIM User to its account record and, for a primary account, its person.

    ``secret`` keys the national ID pseudonym; ``fetched_at`` (timezone-aware)
    becomes ``source_timestamp``. Raises :class:`MappingError` for anything that
    does not fit.
    """
    account_id = SourceRecord.of(payload, "Felles IAM user").get("id", user_id)
    record = SourceRecord.of(payload, f"Felles IAM user {account_id}")
    context = MappingContext(institution, secret, fetched_at)
    account_head = context.header(record, SOURCE_SYSTEM, account_id)
    about = _about(record, context)
    account = _account(account_head, record, about)
    if not about.primary or about.uhid is None:
        return UserRecords(account, None)
    person_head = context.header(record, SOURCE_SYSTEM, about.uhid)
    return UserRecords(account, _person(person_head, record, about.uhid, about))
