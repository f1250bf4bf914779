"""Cerebrum's SCIM-style events, read strictly: what changed and what to do about it.

Cerebrum's event publisher sends each change to AMQP with the routing key
``no.uio.cerebrum.scim.{entity_type}.{verb}`` and a thin body (after
draft-hunt-idevent-scim)::

    {"jti": "…", "eventUris": ["urn:ietf:params:event:SCIM:modify"],
     "iat": 1732258800, "iss": "cerebrum", "aud": ["…"],
     "sub": "https://cerebrum.uio.no/v1/persons/5501", "resourceType": "persons",
     "urn:ietf:params:event:SCIM:modify": {"attributes": ["birthDate"]},
     "nbf": 1732345200}

The body names the subject and which attributes changed, never their values: the
consumer fetches the object. ``iat`` and ``nbf`` are Unix seconds; an event with
``nbf`` in the future is not to be acted on before then (Cerebrum schedules
re-checks this way). A person (or org unit) is addressed by entity id, an
account (or group) by name.

>>> event = parse_event(
...     "no.uio.cerebrum.scim.persons.modify",
...     b'{"jti": "5e2b", "eventUris": ["urn:ietf:params:event:SCIM:modify"],'
...     b' "iat": 1732258800, "iss": "cerebrum", "resourceType": "persons",'
...     b' "sub": "https://cerebrum.uio.no/v1/persons/5501"}')
>>> [(change.resource, change.entity_id, change.action.value) for change in event.changes()]
[('persons', '5501', 'fetch')]

Only the subject's id is taken from ``sub`` (and from an event's ``object``
links); the connector fetches from its own configured base URL, never from a URL
in a message.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from connectors.cerebrum.mapping import account_name
from connectors.source_json import (
    InvalidValueError,
    SourceRecord,
    json_document,
    json_type,
    matching,
    names,
    numeric_id,
    required,
    show,
    text,
)
from hub.errors import MappingError

__all__ = [
    "ENTITY_TYPES",
    "KEY_PREFIX",
    "MAX_EVENT_BYTES",
    "SCIM_EVENT_URI",
    "VERBS",
    "Action",
    "CerebrumEvent",
    "Change",
    "parse_event",
]

KEY_PREFIX = "no.uio.cerebrum.scim"
SCIM_EVENT_URI = "urn:ietf:params:event:SCIM"
ENTITY_TYPES = frozenset({"persons", "accounts", "groups", "ous", "entities"})
VERBS = frozenset(
    {"create", "modify", "delete", "activate", "deactivate", "add", "remove", "password", "join"}
)
MAX_EVENT_BYTES = 64 * 1024
MAX_NAMES = 200
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,99}")
_JTI = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_LINK = re.compile(r"[^\x00-\x20\x7f]{1,500}")
_LATEST_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


class Action(enum.Enum):
    """What the connector does about one object an event names."""

    FETCH = "fetch"  # fetch the object again and publish it
    DELETE = "delete"  # the object is gone: publish a tombstone


@dataclass(frozen=True)
class Change:
    """One object to fetch or to delete: ``persons``/``accounts`` and its id or name."""

    resource: str
    entity_id: str
    action: Action


@dataclass(frozen=True)
class CerebrumEvent:
    """One Cerebrum event: its subject, verb, times and the attributes that changed."""

    jti: str
    entity_type: str
    verb: str
    entity_id: str
    issuer: str
    issued_at: datetime
    not_before: datetime | None
    attributes: tuple[str, ...]
    objects: tuple[str, ...]

    def is_due(self, now: datetime) -> bool:
        """Whether the event may be acted on at ``now`` (its ``nbf`` has come)."""
        return self.not_before is None or self.not_before <= now

    def changes(self) -> tuple[Change, ...]:
        """The persons and accounts to fetch again or to delete, in order.

        A person's change fetches the person; the connector also fetches the
        person's accounts, whose records copy the person's affiliations and ids.
        ``join`` merges the objects (old persons) into the subject: they are
        deleted. A password change, and groups and org units, change nothing the
        hub maps.
        """
        if self.entity_type not in ("persons", "accounts") or self.verb == "password":
            return ()
        if self.verb == "delete":
            return (Change(self.entity_type, self.entity_id, Action.DELETE),)
        subject = Change(self.entity_type, self.entity_id, Action.FETCH)
        if self.verb == "join" and self.entity_type == "persons":
            merged = (Change("persons", old, Action.DELETE) for old in self.objects)
            return (subject, *(change for change in merged if change.entity_id != self.entity_id))
        return (subject,)


# --- converters ---


def _seconds(value: object) -> datetime | None:
    """Unix seconds (``iat``, ``nbf``) as a UTC time."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValueError(f"must be a number of seconds, not {json_type(value)}")
    if not 0 <= value <= _LATEST_SECONDS:  # also rejects NaN
        raise InvalidValueError("is not a time (seconds since 1970)")
    return datetime.fromtimestamp(value, UTC)


_names = names(_NAME, "an attribute name", MAX_NAMES)
_links = names(_LINK, "a link", MAX_NAMES)


def _subject(link: str) -> tuple[str, str]:
    """The entity type and id at the end of a subject link (``…/v1/persons/5501``)."""
    parts = urlsplit(link)
    if parts.scheme not in ("", "http", "https") or parts.query or parts.fragment:
        raise InvalidValueError(f"{show(link)} is not a link to a Cerebrum object")
    steps = parts.path.rstrip("/").split("/")
    if len(steps) < 2 or steps[-2] not in ENTITY_TYPES:
        raise InvalidValueError(f"{show(link)} does not end in /<entity type>/<id>")
    return steps[-2], unquote(steps[-1])


def _entity_id(entity_type: str, raw: str) -> str:
    """An account's or group's name (as Cerebrum's events name them), else a numeric id."""
    return account_name(raw) if entity_type in ("accounts", "groups") else numeric_id(raw)


def _subject_in(entity_type: str) -> Callable[[object], str]:
    """A converter: the id in a link to an object of ``entity_type``."""

    def subject_id(value: object) -> str:
        kind, raw = _subject(required(text)(value))
        if kind != entity_type:
            raise InvalidValueError(f"is not a link to {entity_type}, as the routing key says")
        return _entity_id(kind, raw)

    return subject_id


def _object_ids(value: object) -> tuple[str, ...]:
    """The ids in a list of links to objects (the old persons of a join)."""
    return tuple(_entity_id(*_subject(link)) for link in _links(value))


def _routing(routing_key: str, prefix: str) -> tuple[str, str]:
    """The entity type and verb in ``<prefix>.<entity_type>.<verb>``."""
    head, _, rest = routing_key.partition(f"{prefix}.")
    entity_type, _, verb = rest.partition(".")
    if head or entity_type not in ENTITY_TYPES or verb not in VERBS:
        raise MappingError(
            f"Cerebrum event: routing key {show(routing_key)} is not {prefix}.<entity type>.<verb>"
        )
    return entity_type, verb


# --- the event ---


def parse_event(routing_key: str, body: bytes, *, key_prefix: str = KEY_PREFIX) -> CerebrumEvent:
    """Parse one Cerebrum event from its AMQP routing key and body.

    The routing key, ``eventUris``, ``resourceType`` and ``sub`` must agree on
    what happened to which object. Raises :class:`MappingError` for anything that
    is not exactly such an event.
    """
    entity_type, verb = _routing(routing_key, key_prefix)
    payload = json_document(body, "Cerebrum event", max_bytes=MAX_EVENT_BYTES)
    jti = SourceRecord.of(payload, "Cerebrum event").get("jti", matching(_JTI, "an event id"))
    record = SourceRecord.of(payload, f"Cerebrum event {jti}")
    uri = f"{SCIM_EVENT_URI}:{verb}"
    if record.get("eventUris", _links) != (uri,):
        raise MappingError(f"{record.label}: eventUris is not [{uri!r}] as the routing key says")
    if record.get("resourceType", text) != entity_type:
        raise MappingError(f"{record.label}: resourceType is not {entity_type!r}")
    details = record.child(uri)
    return CerebrumEvent(
        jti=jti,
        entity_type=entity_type,
        verb=verb,
        entity_id=record.get("sub", _subject_in(entity_type)),
        issuer=record.get("iss", required(text)),
        issued_at=record.get("iat", required(_seconds)),
        not_before=record.get("nbf", _seconds),
        attributes=details.get("attributes", _names) if details else (),
        objects=details.get("object", _object_ids) if details else (),
    )
