"""Map a published person page's native JSON to the hub's ``no.bott.hub.web.Profile`` record.

UiO's person pages (Vortex *personpresentasjon*) are structured resources: a JSON
document with its ``uri``, ``resourcetype`` ``person``, whether it is ``published``,
its ``lastModified`` time and the page's ``properties``. The hub reads them through
a profile export (inferred, see docs/sources/web.md): ``GET /api/profiles{uri}`` for
one page and ``GET /api/profiles`` for all of them. :func:`map_profile` takes one
document; it is pure, and the caller passes the fetch time.

Where the page's person data came from matters to the stale-overwrite rule
(``web.profile_stale``). A page with ``getExternalPersonInfo`` shows name, title,
unit and phone from IAM: ``data_source`` is ``iam`` and ``data_taken_at`` is when
the page last took them (``externalPersonInfoFetched``). A page without it was
written by hand in the CMS: ``data_source`` is ``manual`` and ``data_taken_at`` is
None, because its values were never taken from HR at any moment, and an old
manual value is the web editors' to fix, not a precedence problem in IAM.

The unit's ``id`` is inferred to be DFØ's organisasjonId (as IAM passes it on), the
value the rules compare with DFØ's. ``employeeNumber``, when a page carries it, is
a DFØ ansattnummer and is normalised like DFØ's (no leading zeros).

Every problem raises :class:`MappingError` naming the page
(``Web profile /personer/adm/kari: published 'kanskje' is not a yes/no value``).
"""

from __future__ import annotations

from datetime import datetime

from connectors.dfo.mapping import normalise_employee_id
from connectors.source_json import (
    InvalidValueError,
    SourceRecord,
    code,
    flag,
    json_type,
    required,
    show,
    source_header,
    text,
    timestamp,
)
from hub.errors import MappingError

__all__ = ["PERSON_RESOURCE_TYPE", "SOURCE_SYSTEM", "map_profile", "page_uri", "profiles"]

SOURCE_SYSTEM = "vortex"
PERSON_RESOURCE_TYPE = "person"
FROM_IAM = "iam"
BY_HAND = "manual"
MAX_TOTAL = 10**9


def page_uri(value: object) -> str:
    """A page's path in the web system (``/personer/adm/kari``); raises InvalidValueError."""
    uri = required(text)(value)
    if not uri.startswith("/") or any(c.isspace() or c in "?#\\" for c in uri):
        raise InvalidValueError(f"{show(uri)} is not a page path (/…, no spaces, ? or #)")
    return uri


def _employee_number(value: object) -> str | None:
    """A DFØ ansattnummer without leading zeros, or None."""
    if value is None or value == "":
        return None
    try:
        return normalise_employee_id(value)
    except MappingError as problem:
        raise InvalidValueError(str(problem).removeprefix("DFØ employee number ")) from None


def _resource_type(value: object) -> str:
    kind = required(text)(value)
    if kind != PERSON_RESOURCE_TYPE:
        raise InvalidValueError(f"{show(kind)} is not a person page")
    return kind


def _published_name(properties: SourceRecord) -> str | None:
    parts = (properties.get("firstName", text), properties.get("surname", text))
    return " ".join(part for part in parts if part) or None


def _provenance(properties: SourceRecord) -> dict[str, object]:
    """Where the page's person data came from, and when it was taken (IAM only)."""
    if not properties.get("getExternalPersonInfo", flag):
        return {"data_source": BY_HAND, "data_taken_at": None}
    return {
        "data_source": FROM_IAM,
        "data_taken_at": properties.get("externalPersonInfoFetched", timestamp),
    }


def _shown(properties: SourceRecord) -> dict[str, object]:
    """What the page shows about the person."""
    unit = properties.child("unit") or SourceRecord({}, properties.label)
    return {
        "username": properties.get("username", text),
        "employee_id": properties.get("employeeNumber", _employee_number),
        "published_name": _published_name(properties),
        "title": properties.get("position", text),
        "org_unit_id": unit.get("id", code),
        "org_unit_name": unit.get("name", text),
        "phone": properties.get("phone", code),
        "email": properties.get("email", text),
    }


def map_profile(payload: object, *, institution: str, fetched_at: datetime) -> dict[str, object]:
    """Map one person page document to a ``no.bott.hub.web.Profile`` record.

    ``fetched_at`` (timezone-aware) becomes ``source_timestamp``. Raises
    :class:`MappingError` for anything that does not fit, including a page that is
    not a person page.
    """
    uri = SourceRecord.of(payload, "Web profile").get("uri", page_uri)
    record = SourceRecord.of(payload, f"Web profile {uri}")
    record.get("resourcetype", _resource_type)
    properties = record.child("properties") or SourceRecord({}, record.label)
    return {
        **source_header(
            record,
            source_system=SOURCE_SYSTEM,
            source_id=uri,
            institution=institution,
            fetched_at=fetched_at,
        ),
        "profile_id": uri,
        **_shown(properties),
        "visible": record.get("published", flag),
        **_provenance(properties),
    }


def profiles(payload: object) -> tuple[list[object], int]:
    """The documents of a ``GET /api/profiles`` page, and how many pages there are in all."""
    if not isinstance(payload, dict):
        raise MappingError(f"Web profile listing must be a JSON object, not {json_type(payload)}")
    documents = payload.get("profiles")
    if not isinstance(documents, list):
        raise MappingError(
            f"Web profile listing: profiles must be a list, not {json_type(documents)}"
        )
    total = payload.get("total")
    if isinstance(total, bool) or not isinstance(total, int) or not 0 <= total <= MAX_TOTAL:
        raise MappingError("Web profile listing: total must be a count of pages")
    return list(documents), total
