"""The person pages' change listing: what the next poll asks for and what it says changed.

The web system pushes nothing; the connector polls ``GET /api/profiles/changes``
(inferred, see docs/sources/web.md) with ``since`` (the sequence number of the last
change read; none at first) and ``limit``. The answer is thin, like a notification:
which pages changed or were deleted, in order, and the ``next`` cursor. The connector
then fetches each changed page (``GET /api/profiles{uri}``) and publishes a
tombstone for each deleted one.

>>> page = parse_changes(
...     b'{"changes": [{"sequence": 8, "uri": "/personer/adm/kari", "change": "modified",'
...     b' "at": "2026-11-20T08:15:02Z"}], "next": "8", "more": false}',
...     since="7",
... )
>>> page.changes[0].fetch_path, page.next_since, page.more
('/api/profiles/personer/adm/kari', '8', False)
>>> changes_query(page.next_since, limit=100)
{'since': '8', 'limit': '100'}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from connectors.source_json import (
    InvalidValueError,
    SourceRecord,
    flag,
    json_type,
    required,
    show,
    text,
    timestamp,
)
from connectors.web.mapping import page_uri
from hub.errors import MappingError

__all__ = [
    "CHANGES_PATH",
    "PROFILES_PATH",
    "ChangePage",
    "ProfileChange",
    "changes_query",
    "parse_changes",
]

PROFILES_PATH = "/api/profiles"
CHANGES_PATH = "/api/profiles/changes"
MAX_BODY_BYTES = 5_000_000
MAX_CHANGES = 10_000
MAX_SEQUENCE_DIGITS = 18
CHANGE_KINDS = frozenset({"modified", "deleted"})


@dataclass(frozen=True)
class ProfileChange:
    """One page that changed: which, how (modified or deleted), when, and its place."""

    sequence: int
    uri: str
    deleted: bool
    at: datetime

    @property
    def fetch_path(self) -> str:
        """Where to fetch the page (nothing to fetch when it was deleted)."""
        return f"{PROFILES_PATH}{self.uri}"


@dataclass(frozen=True)
class ChangePage:
    """One page of the change listing and where the next poll starts."""

    changes: tuple[ProfileChange, ...]
    next_since: str | None
    more: bool


def _sequence(value: object) -> int:
    """A change's sequence number: a positive whole number."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidValueError(f"must be a whole number, not {json_type(value)}")
    digits = str(value).strip()
    if not digits.isdigit() or len(digits) > MAX_SEQUENCE_DIGITS or int(digits) == 0:
        raise InvalidValueError(f"{show(digits)} is not a positive whole number")
    return int(digits)


def _since(value: str | None) -> int:
    if value is None:
        return 0
    try:
        return _sequence(value)
    except InvalidValueError as problem:
        raise MappingError(f"Web profile changes: since {problem}") from None


def changes_query(since: str | None, *, limit: int) -> dict[str, str]:
    """The query of the next poll after the cursor ``since`` (None: from the start)."""
    if not 1 <= limit <= MAX_CHANGES:
        raise MappingError(f"Web profile changes: limit must be between 1 and {MAX_CHANGES}")
    if since is None:
        return {"limit": str(limit)}
    return {"since": str(_since(since)), "limit": str(limit)}


def _kind(value: object) -> str:
    kind = required(text)(value)
    if kind not in CHANGE_KINDS:
        raise InvalidValueError(f"{show(kind)} is neither modified nor deleted")
    return kind


def _change(entry: SourceRecord) -> ProfileChange:
    return ProfileChange(
        sequence=entry.get("sequence", _sequence),
        uri=entry.get("uri", page_uri),
        deleted=entry.get("change", _kind) == "deleted",
        at=entry.get("at", required(timestamp)),
    )


def _body(body: bytes) -> SourceRecord:
    if len(body) > MAX_BODY_BYTES:
        raise MappingError(f"Web profile changes: the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MappingError("Web profile changes: the body is not UTF-8 JSON") from None
    return SourceRecord.of(payload, "Web profile changes")


def parse_changes(body: bytes, *, since: str | None) -> ChangePage:
    """Parse one answer of the change listing asked for with ``since``.

    Strict: the changes must come after ``since`` in increasing order, and ``next``
    must be the last change's sequence (or ``since`` when there is none). Raises
    :class:`MappingError` on anything else; the cursor then stays where it was.
    """
    record = _body(body)
    if not isinstance(record.fields.get("changes"), list):
        found = json_type(record.fields.get("changes"))
        raise MappingError(f"Web profile changes: changes must be a list, not {found}")
    changes = tuple(_change(entry) for entry in record.nested("changes"))
    previous = _since(since)
    for change in changes:
        if change.sequence <= previous:
            raise MappingError(
                f"Web profile changes: sequence {change.sequence} is not after {previous}"
            )
        previous = change.sequence
    next_since = record.get("next", _optional_sequence)
    expected = previous if changes or since is not None else None
    if (int(next_since) if next_since is not None else None) != expected:
        raise MappingError("Web profile changes: next does not follow the last change")
    more = record.get("more", flag)
    if more and not changes:
        raise MappingError("Web profile changes: more is promised on an empty page")
    return ChangePage(changes, next_since, more)


def _optional_sequence(value: object) -> str | None:
    return None if value is None else str(_sequence(value))
