"""Felles IAM's SCIM change notifications, list pages and polling cursor, read strictly.

Felles IAM publishes a notification for each User change on the routing key
``no.{inst}.iga.scim.user.{add|modify|delete|activate|deactivate}``, with a body
after draft-hunt-scim-notify (no values, IntArk prefers thin messages)::

    {"schemas": ["urn:ietf:params:scim:schemas:notify:2.0:Event"],
     "type": "MODIFY", "time": "2026-02-05T10:30:00Z",
     "resourceUris": ["https://gw-uib.intark.uh-it.no/scim/v2/Users/<id>"],
     "attributes": ["displayName", "name.givenName"]}

>>> note = parse_notification(
...     "no.uib.iga.scim.user.modify",
...     b'{"schemas": ["urn:ietf:params:scim:schemas:notify:2.0:Event"], "type": "MODIFY",'
...     b' "resourceUris": ["https://gw-uib.intark.uh-it.no/scim/v2/Users/362ff274"]}')
>>> note.institution, note.user_paths, note.deleted
('uib', ('/Users/362ff274',), False)

The consumer fetches each User again (``GET /Users/{id}``), or sends a tombstone
after ``delete``; only the id is taken from a ``resourceUris`` link.

An institution runs the message queue itself, and may not have one. Then the
connector polls: :func:`poll_query` asks ``GET /Users`` for the Users modified
since a cursor (``filter=meta.lastModified ge "…"``, which the SCIM API supports),
:func:`read_list` takes each ``ListResponse`` page apart and says where the next
one starts, and :func:`advance` moves the cursor to the newest ``lastModified``
seen. ``ge`` rather than ``gt`` re-reads the Users of the cursor's own second,
so that none modified in that second is missed. A deleted User is not listed:
deletions reach the hub through notifications or a full reconciliation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from connectors.felles_iam.mapping import user_id
from connectors.source_json import (
    InvalidValueError,
    SourceRecord,
    json_document,
    json_type,
    names,
    objects,
    required,
    show,
    text,
    timestamp,
)
from hub.errors import MappingError

__all__ = [
    "DEFAULT_COUNT",
    "EVENT_SCHEMA",
    "LIST_SCHEMA",
    "MAX_COUNT",
    "MAX_NOTIFICATION_BYTES",
    "VERBS",
    "ListPage",
    "UserNotification",
    "advance",
    "parse_notification",
    "poll_query",
    "read_list",
]

EVENT_SCHEMA = "urn:ietf:params:scim:schemas:notify:2.0:Event"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
VERBS = frozenset({"add", "modify", "delete", "activate", "deactivate"})
MAX_NOTIFICATION_BYTES = 256 * 1024
MAX_URIS = 1000
MAX_ATTRIBUTES = 500
DEFAULT_COUNT = 100
MAX_COUNT = 1000
_ROUTING_KEY = re.compile(r"no\.([a-z][a-z0-9-]{1,29})\.iga\.scim\.user\.([a-z]+)")
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


@dataclass(frozen=True)
class UserNotification:
    """One notification: the institution, the verb, the Users it names, what changed."""

    institution: str
    verb: str
    user_ids: tuple[str, ...]
    time: datetime | None
    attributes: tuple[str, ...]

    @property
    def deleted(self) -> bool:
        """Whether the Users are gone (tombstones, not fetches)."""
        return self.verb == "delete"

    @property
    def user_paths(self) -> tuple[str, ...]:
        """The paths to fetch, below the SCIM base URL; none after a delete."""
        return () if self.deleted else tuple(f"/Users/{user}" for user in self.user_ids)


# --- notifications ---


def _routing(routing_key: object, institution: str | None) -> tuple[str, str]:
    found = _ROUTING_KEY.fullmatch(routing_key) if isinstance(routing_key, str) else None
    if found is None or found.group(2) not in VERBS:
        shown = show(routing_key) if isinstance(routing_key, str) else json_type(routing_key)
        raise MappingError(
            f"Felles IAM notification: routing key {shown} is not"
            " no.<institution>.iga.scim.user.<add|modify|delete|activate|deactivate>"
        )
    if institution is not None and found.group(1) != institution:
        raise MappingError(
            f"Felles IAM notification: routing key is for {found.group(1)}, expected {institution}"
        )
    return found.group(1), found.group(2)


def _strings(limit: int) -> Callable[[object], tuple[str, ...]]:
    """A converter: a list of at most ``limit`` short printable strings."""
    return names(_PRINTABLE, "a name or link", limit)


def _user_of(link: str) -> str:
    """The User id at the end of a resource link (``…/Users/<id>``)."""
    parts = urlsplit(link)
    steps = parts.path.rstrip("/").split("/")
    if parts.scheme not in ("", "http", "https") or len(steps) < 2 or steps[-2] != "Users":
        raise InvalidValueError(f"holds {show(link)}, which is not a link to a User")
    return user_id(unquote(steps[-1]))


def _users(value: object) -> tuple[str, ...]:
    links = _strings(MAX_URIS)(value)
    if not links:
        raise InvalidValueError("names no User")
    return tuple(dict.fromkeys(_user_of(link) for link in links))


def parse_notification(
    routing_key: str, body: bytes, *, institution: str | None = None
) -> UserNotification:
    """Parse one Felles IAM notification from its routing key and body.

    ``institution`` (``uib``), when given, is the only one accepted. The body's
    ``type`` must be the routing key's verb. Raises :class:`MappingError` for
    anything that is not exactly such a notification.
    """
    inst, verb = _routing(routing_key, institution)
    label = f"Felles IAM notification ({inst} {verb})"
    record = SourceRecord.of(json_document(body, label, max_bytes=MAX_NOTIFICATION_BYTES), label)
    if EVENT_SCHEMA not in record.get("schemas", _strings(10)):
        raise MappingError(f"{label}: schemas does not name {EVENT_SCHEMA}")
    if record.get("type", text) != verb.upper():
        raise MappingError(f"{label}: type is not {verb.upper()!r} as the routing key says")
    return UserNotification(
        institution=inst,
        verb=verb,
        user_ids=record.get("resourceUris", _users),
        time=record.get("time", timestamp),
        attributes=record.get("attributes", _strings(MAX_ATTRIBUTES)),
    )


# --- list pages ---


@dataclass(frozen=True)
class ListPage:
    """One ``ListResponse`` page: its Users, and where the next page starts (or None)."""

    resources: tuple[Mapping[str, object], ...]
    total_results: int
    next_start_index: int | None


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValueError(f"must be a whole number, not {json_type(value)}")
    return value


def _start_index(value: object) -> int:
    """``startIndex``: 1-based, 1 when absent."""
    return 1 if value is None else max(1, _whole(value))


def read_list(payload: object, label: str = "Felles IAM user list") -> ListPage:
    """Take apart one page of ``GET /Users``: a SCIM ``ListResponse``.

    ``startIndex`` is 1-based; the next page starts after the Users on this one,
    unless they reach ``totalResults``. Raises :class:`MappingError` for a body
    that is not such a page.
    """
    record = SourceRecord.of(payload, label)
    if LIST_SCHEMA not in record.get("schemas", _strings(10)):
        raise MappingError(f"{label}: schemas does not name {LIST_SCHEMA}")
    total = record.get("totalResults", required(_whole))
    start = record.get("startIndex", _start_index)
    resources = tuple(record.get("Resources", objects))
    following = start + len(resources)
    more = bool(resources) and following <= total
    return ListPage(resources, total, following if more else None)


# --- polling ---


def poll_query(
    since: datetime | None, *, start_index: int = 1, count: int = DEFAULT_COUNT
) -> dict[str, str]:
    """The query of ``GET /Users`` for one page of Users modified at or after ``since``.

    Without ``since``, every User (the first poll is a full listing).
    """
    if since is not None and (since.tzinfo is None or since.utcoffset() is None):
        raise ValueError("since must be timezone-aware")
    if not 1 <= count <= MAX_COUNT or start_index < 1:
        raise ValueError(f"count must be 1-{MAX_COUNT} and start_index at least 1")
    query = {"startIndex": str(start_index), "count": str(count)}
    if since is not None:
        moment = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query["filter"] = f'meta.lastModified ge "{moment}"'
    return query


def _modified(user: Mapping[str, object]) -> datetime | None:
    record = SourceRecord(user, "Felles IAM user")
    meta = record.child("meta")
    return meta.get("lastModified", timestamp) if meta else None


def advance(since: datetime | None, users: Iterable[Mapping[str, object]]) -> datetime | None:
    """The cursor after ``users``: the newest ``meta.lastModified`` seen, never earlier
    than ``since``. Raises :class:`MappingError` for a ``lastModified`` that is not a
    timestamp."""
    moments = [moment for moment in map(_modified, users) if moment is not None]
    if since is not None:
        moments.append(since)
    return max(moments, default=None)
