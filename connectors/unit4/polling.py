"""What the next poll of Unit4's ObjectAPI asks for: a cursor on ``lastUpdated``.

Unit4 pushes nothing to the hub; the connector polls. Every Enterprise Document
carries ``lastUpdated/updatedAt``, and the ObjectAPI filters and orders on it
(``filter=lastUpdated/updatedAt ge 2025-04-25T23:33:01.053Z``), pages with
``limit``/``offset`` and stops when a page holds fewer than ``limit`` documents.

Offset paging skips a document when another one moves (is changed) while the pages
are read. So the cursor is a *keyset*: the last document's ``updatedAt`` and its
unique key (``resourceId`` for resources, ``assignmentId`` for approver roles), and
the next page asks for what comes after that pair in the order ``updatedAt, key``.
A new poll cycle may :func:`rewind` the cursor by an overlap, as Unit4 advises
(``ge``), so that a change committed late with an earlier timestamp is not lost;
what is read twice is read twice, never lost.

>>> start = poll_query(PollCursor(), RESOURCES, company_id="UH", limit=2)
>>> start["filter"] is None, start["orderBy"]
(True, 'lastUpdated/updatedAt,resourceId')
>>> page = [
...     {"resourceId": "00000007", "lastUpdated": {"updatedAt": "2026-11-20T08:00:00Z"}},
...     {"resourceId": "00000009", "lastUpdated": {"updatedAt": "2026-11-20T08:00:00Z"}},
... ]
>>> cursor = advance(PollCursor(), page, RESOURCES)
>>> after = poll_query(cursor, RESOURCES, company_id="UH", limit=2)["filter"]
>>> after.startswith("lastUpdated/updatedAt gt 2026-11-20T08:00:00.000Z or (")
True
>>> after.endswith("and resourceId gt '00000009')")
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.source_json import SourceRecord, code, json_type, required, timestamp
from hub.errors import MappingError

__all__ = [
    "APPROVER_ROLES",
    "RESOURCES",
    "Endpoint",
    "PollCursor",
    "advance",
    "decode_cursor",
    "encode_cursor",
    "format_timestamp",
    "is_last_page",
    "poll_query",
    "position",
    "rewind",
]

UPDATED_AT = "lastUpdated/updatedAt"
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class Endpoint:
    """One ObjectAPI list endpoint and the property that makes its documents unique."""

    documents: str
    key: str

    @property
    def path(self) -> str:
        """The endpoint's path: ``/v1/objects/{documents}``."""
        return f"/v1/objects/{self.documents}"


RESOURCES = Endpoint("resources", "resourceId")
APPROVER_ROLES = Endpoint("approver-roles", "assignmentId")


@dataclass(frozen=True)
class PollCursor:
    """Where the last poll stopped: the last document's ``updatedAt`` and key.

    ``key`` None means "from ``updated_at`` on, inclusive" (a fresh or rewound
    cursor); both None means "from the beginning".
    """

    updated_at: datetime | None = None
    key: str | None = None


def format_timestamp(moment: datetime) -> str:
    """A timestamp as the ObjectAPI filter takes it: UTC, milliseconds, ``Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise MappingError("Unit4 cursor: a timestamp must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _quoted(value: str) -> str:
    """A string literal in a filter expression (a quote is doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _filter(cursor: PollCursor, endpoint: Endpoint) -> str | None:
    if cursor.updated_at is None:
        return None
    stamp = format_timestamp(cursor.updated_at)
    if cursor.key is None:
        return f"{UPDATED_AT} ge {stamp}"
    return (
        f"{UPDATED_AT} gt {stamp} or"
        f" ({UPDATED_AT} eq {stamp} and {endpoint.key} gt {_quoted(cursor.key)})"
    )


def poll_query(
    cursor: PollCursor, endpoint: Endpoint, *, company_id: str, limit: int
) -> dict[str, str | None]:
    """The query parameters of the next page after ``cursor`` (``filter`` None: no filter)."""
    if not company_id.strip():
        raise MappingError("Unit4 cursor: no companyId given")
    if not 1 <= limit <= MAX_LIMIT:
        raise MappingError(f"Unit4 cursor: limit must be between 1 and {MAX_LIMIT}")
    return {
        "companyId": company_id.strip(),
        "filter": _filter(cursor, endpoint),
        "orderBy": f"{UPDATED_AT},{endpoint.key}",
        "limit": str(limit),
        "offset": "0",
    }


def rewind(cursor: PollCursor, overlap: timedelta) -> PollCursor:
    """The cursor a new poll cycle starts from: ``overlap`` earlier, inclusive."""
    if cursor.updated_at is None:
        return cursor
    return PollCursor(cursor.updated_at - overlap, None)


def position(document: object, endpoint: Endpoint, index: int = 0) -> tuple[datetime, str]:
    """A document's place in the poll order: its ``updatedAt`` and key (MappingError if
    it has none)."""
    label = f"Unit4 {endpoint.documents} page, document {index}"
    record = SourceRecord.of(document, label)
    key = record.get(endpoint.key, required(code))
    updated = record.child("lastUpdated")
    if updated is None:
        raise MappingError(f"{label}: lastUpdated is missing")
    return updated.get("updatedAt", required(timestamp)), key


def advance(cursor: PollCursor, page: Sequence[object], endpoint: Endpoint) -> PollCursor:
    """The cursor after reading ``page``, which must be in the order asked for.

    Raises :class:`MappingError` when a document has no ``updatedAt`` or key, or an
    ``updatedAt`` goes back in time: the cursor then stays where it was and the poll
    must stop. (Keys with one ``updatedAt`` are ordered by Unit4's collation, which
    the hub does not second-guess.)
    """
    latest = cursor
    for index, document in enumerate(page):
        updated_at, key = position(document, endpoint, index)
        if latest.updated_at is not None and updated_at < latest.updated_at:
            raise MappingError(
                f"Unit4 {endpoint.documents} page, document {index}: out of order after the cursor"
            )
        latest = PollCursor(updated_at, key)
    return latest


def is_last_page(page: Sequence[object], limit: int) -> bool:
    """Whether a poll cycle is done: the page held fewer documents than asked for."""
    return len(page) < limit


def encode_cursor(cursor: PollCursor) -> str:
    """The cursor as a checkpoint string."""
    stamp = format_timestamp(cursor.updated_at) if cursor.updated_at is not None else None
    return json.dumps({"updatedAt": stamp, "key": cursor.key}, separators=(",", ":"))


def decode_cursor(checkpoint: str) -> PollCursor:
    """A cursor from its checkpoint string; raises :class:`MappingError` if it is not one."""
    try:
        fields: object = json.loads(checkpoint)
    except ValueError:
        raise MappingError("Unit4 cursor checkpoint is not JSON") from None
    if not isinstance(fields, Mapping) or set(fields) != {"updatedAt", "key"}:
        raise MappingError(
            f"Unit4 cursor checkpoint must be an object with updatedAt and key,"
            f" not {json_type(fields)}"
        )
    record = SourceRecord(fields, "Unit4 cursor checkpoint")
    updated_at = record.get("updatedAt", timestamp)
    key = record.get("key", code)
    if updated_at is None and key is not None:
        raise MappingError("Unit4 cursor checkpoint: a key without updatedAt")
    return PollCursor(updated_at, key)
