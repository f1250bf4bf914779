"""Greg's change events and list pages, read strictly: what changed and what to fetch.

Greg publishes an AMQP message for each change of a guest or of what belongs to
one (a role, an identity, a consent)::

    {"id": 100, "source": "greg:uio:prod", "type": "person_role.add",
     "data": {"person_id": 1, "role_id": 2}}

The message is thin: the consumer re-fetches the person (``GET /v1/persons/{id}``)
whatever changed, as Cerebrum's Greg import does; an event without a
``person_id`` (an org unit's, say) concerns no guest. After ``person.delete`` the
person is gone: the connector sends a tombstone rather than fetching.

>>> event = parse_event(b'{"id": 100, "source": "greg:uio:prod", '
...                     b'"type": "person_role.add", "data": {"person_id": 1, "role_id": 2}}')
>>> event.person_id, event.person_path, event.deletes_person
('1', '/v1/persons/1', False)

For a full reconciliation, ``GET /v1/persons`` (and ``/v1/orgunits``) lists
everything in pages: ``{"count": …, "next": URL or null, "previous": …,
"results": […]}``. :func:`read_page` takes one page apart and says which query
parameters ask for the next one. Only the query of ``next`` is used, with a fixed
set of names, never its host or path: a page cannot send the connector elsewhere.

Inferred, not documented by Greg: event types other than ``person.update`` and
``person_role.add`` are named ``<object>.<add|update|delete>`` (``person.delete``,
``person_identity.update``, …); the parser accepts any such name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from connectors.source_json import (
    InvalidValueError,
    SourceRecord,
    code,
    json_document,
    json_type,
    matching,
    numeric_id,
    objects,
    show,
    text,
)
from hub.errors import MappingError

__all__ = [
    "MAX_EVENT_BYTES",
    "PAGE_PARAMETERS",
    "GregEvent",
    "Page",
    "list_query",
    "parse_event",
    "read_page",
]

MAX_EVENT_BYTES = 64 * 1024
MAX_DATA_ENTRIES = 50
PAGE_PARAMETERS = frozenset(
    {"page", "page_size", "cursor", "active", "verified", "first_name", "last_name"}
)
_EVENT_TYPE = re.compile(r"[a-z][a-z_]{0,39}\.[a-z][a-z_]{0,39}")
_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_DATA_KEY = re.compile(r"[a-z][a-z_]{0,39}")
_MAX_PARAMETER_LENGTH = 200
PERSON_DELETED = "person.delete"


@dataclass(frozen=True)
class GregEvent:
    """One Greg event: its id, where it came from, its type and its references."""

    event_id: str
    source: str
    type: str
    data: tuple[tuple[str, str], ...]

    @property
    def person_id(self) -> str | None:
        """The guest the event is about, if any."""
        return dict(self.data).get("person_id")

    @property
    def deletes_person(self) -> bool:
        """Whether the guest is gone from Greg (a tombstone, not a fetch)."""
        return self.type == PERSON_DELETED and self.person_id is not None

    @property
    def person_path(self) -> str | None:
        """The path to fetch for this event, or None (no guest, or the guest is deleted)."""
        if self.person_id is None or self.deletes_person:
            return None
        return f"/v1/persons/{self.person_id}"


def _data(value: object) -> tuple[tuple[str, str], ...]:
    """The event's references: ``*_id`` keys are Greg ids, other values short texts."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise InvalidValueError(f"must be an object, not {json_type(value)}")
    if len(value) > MAX_DATA_ENTRIES:
        raise InvalidValueError(f"has {len(value)} entries, at most {MAX_DATA_ENTRIES}")
    found: list[tuple[str, str]] = []
    for key, entry in value.items():
        if not _DATA_KEY.fullmatch(key):
            raise InvalidValueError(f"has a key {show(key)} that is not a name")
        try:
            converted = numeric_id(entry) if key.endswith("_id") else code(entry)
        except InvalidValueError as problem:
            raise InvalidValueError(f"{key} {problem}") from None
        if converted is not None:
            found.append((key, converted))
    return tuple(found)


def parse_event(body: bytes, *, source: str | None = None) -> GregEvent:
    """Parse one Greg event message body.

    ``source``, when given, is the only source accepted (``greg:uio:prod``), so
    that a test system's events on a production queue are refused. Raises
    :class:`MappingError` for a body that is not exactly such an event.
    """
    payload = json_document(body, "Greg event", max_bytes=MAX_EVENT_BYTES)
    event_id = SourceRecord.of(payload, "Greg event").get("id", numeric_id)
    record = SourceRecord.of(payload, f"Greg event {event_id}")
    event = GregEvent(
        event_id=event_id,
        source=record.get("source", matching(_SOURCE, "a source name (greg:uio:prod)")),
        type=record.get("type", matching(_EVENT_TYPE, "an event type (object.operation)")),
        data=record.get("data", _data),
    )
    if source is not None and event.source != source:
        raise MappingError(f"{record.label}: comes from {event.source}, expected {source}")
    return event


# --- list pages ---


@dataclass(frozen=True)
class Page:
    """One page of a Greg list: its objects, and the query that asks for the next page."""

    results: tuple[Mapping[str, object], ...]
    next_query: Mapping[str, str] | None
    count: int | None


def _next_query(value: object) -> dict[str, str] | None:
    """The query parameters of a ``next`` link, restricted to the known names."""
    link = text(value)
    if link is None:
        return None
    parts = urlsplit(link)
    if parts.scheme not in ("", "http", "https"):
        raise InvalidValueError(f"{show(link)} is not an http(s) link")
    query: dict[str, str] = {}
    for name, argument in parse_qsl(parts.query, keep_blank_values=True):
        if name not in PAGE_PARAMETERS:
            raise InvalidValueError(f"has an unexpected parameter {show(name)}")
        if len(argument) > _MAX_PARAMETER_LENGTH or name in query:
            raise InvalidValueError(f"has a bad or repeated parameter {show(name)}")
        query[name] = argument
    if not query:
        raise InvalidValueError(f"{show(link)} has no query to ask for the next page")
    return query


def _count(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValueError(f"must be a whole number, not {json_type(value)}")
    return value


def read_page(payload: object, label: str = "Greg list page") -> Page:
    """Take apart one page of ``GET /v1/persons`` or ``GET /v1/orgunits``.

    ``next_query`` holds the query parameters to send, on the same path, for the
    next page, or is None on the last page. Raises :class:`MappingError` for a
    body that is not such a page.
    """
    record = SourceRecord.of(payload, label)
    if not isinstance(record.fields.get("results"), list):
        raise MappingError(f"{label} has no 'results' list")
    return Page(
        results=tuple(record.get("results", objects)),
        next_query=record.get("next", _next_query),
        count=record.get("count", _count),
    )


def list_query(*, active: bool | None = None, verified: bool | None = None) -> dict[str, str]:
    """The query of the first page of ``GET /v1/persons``: every guest when both are None."""
    flags = {"active": active, "verified": verified}
    return {name: str(value).lower() for name, value in flags.items() if value is not None}
