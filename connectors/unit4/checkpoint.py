"""The Unit4 connectors' checkpoint: the keyset cursor, and what was delivered lately.

A poll cycle starts ``overlap`` before the cursor (:func:`connectors.unit4.polling.rewind`),
so that a change committed late, stamped earlier than documents already read, is not
lost. Documents in that overlap that were delivered before are not delivered again:
the checkpoint remembers the positions (``updatedAt`` and key) delivered within the
overlap before the cursor. A new version of a document has a new ``updatedAt``, so it
is a new position and is delivered.

>>> from datetime import UTC, datetime, timedelta
>>> at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
>>> state = PollState().after((at, "7"), timedelta(minutes=2))
>>> state.start(timedelta(minutes=2)).updated_at == at - timedelta(minutes=2)
True
>>> state.delivered((at, "7")), decode_state(encode_state(state)) == state
(True, True)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.source_json import (
    InvalidValueError,
    SourceRecord,
    code,
    json_type,
    required,
    timestamp,
)
from connectors.unit4.polling import PollCursor, format_timestamp, rewind
from hub.errors import MappingError

__all__ = ["MAX_RECENT", "PollState", "Position", "decode_state", "encode_state"]

Position = tuple[datetime, str]
MAX_RECENT = 2_000  # positions kept; more (a bulk update) are re-read, never lost
_LABEL = "Unit4 checkpoint"


@dataclass(frozen=True)
class PollState:
    """The cursor (the last position delivered in poll order) and the positions delivered
    within the overlap before it."""

    cursor: PollCursor = field(default_factory=PollCursor)
    recent: frozenset[Position] = field(default_factory=frozenset)

    def start(self, overlap: timedelta) -> PollCursor:
        """Where the next poll cycle reads from: ``overlap`` before the cursor, inclusive
        (or just after the cursor when ``overlap`` is zero)."""
        return rewind(self.cursor, overlap) if overlap > timedelta(0) else self.cursor

    def delivered(self, position: Position) -> bool:
        """Whether the document at ``position`` was delivered already."""
        return _stored(position) in self.recent

    def after(self, position: Position, overlap: timedelta) -> PollState:
        """The state once the document at ``position`` is delivered."""
        position = _stored(position)
        cursor = self.cursor
        if cursor.updated_at is None or position > (cursor.updated_at, cursor.key or ""):
            cursor = PollCursor(*position)
        assert cursor.updated_at is not None  # noqa: S101 - set just above or before
        return PollState(cursor, _window(self.recent | {position}, cursor.updated_at - overlap))


def _stored(position: Position) -> Position:
    """A position as a checkpoint keeps it (milliseconds, as the filter takes them)."""
    at, key = position
    return at.replace(microsecond=at.microsecond // 1000 * 1000), key


def _window(positions: Iterable[Position], since: datetime) -> frozenset[Position]:
    """The positions from ``since`` on, at most the newest MAX_RECENT."""
    kept = sorted(p for p in positions if p[0] >= since)
    return frozenset(kept[-MAX_RECENT:])


def encode_state(state: PollState) -> str:
    """The state as a checkpoint string."""
    cursor = state.cursor
    stamp = format_timestamp(cursor.updated_at) if cursor.updated_at is not None else None
    recent = [[format_timestamp(at), key] for at, key in sorted(state.recent)]
    return json.dumps(
        {"updatedAt": stamp, "key": cursor.key, "recent": recent}, separators=(",", ":")
    )


def _position(value: object) -> Position:
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidValueError(f"must hold [updatedAt, key] pairs, not {json_type(value)}")
    return required(timestamp)(value[0]), required(code)(value[1])


def _positions(value: object) -> frozenset[Position]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or len(value) > MAX_RECENT:
        raise InvalidValueError(f"must be a list of at most {MAX_RECENT} positions")
    return frozenset(_position(entry) for entry in value)


def decode_state(checkpoint: str) -> PollState:
    """A state from its checkpoint string (a plain cursor without ``recent`` too); raises
    :class:`MappingError` if it is not one."""
    try:
        fields: object = json.loads(checkpoint)
    except (ValueError, RecursionError):
        raise MappingError(f"{_LABEL} is not JSON") from None
    if not isinstance(fields, dict) or not {"updatedAt", "key"} <= set(fields) <= {
        "updatedAt",
        "key",
        "recent",
    }:
        raise MappingError(f"{_LABEL} must be an object with updatedAt, key and recent")
    record = SourceRecord(fields, _LABEL)
    updated_at = record.get("updatedAt", timestamp)
    key = record.get("key", code)
    if updated_at is None and key is not None:
        raise MappingError(f"{_LABEL}: a key without updatedAt")
    recent = record.get("recent", _positions)
    if updated_at is None and recent:
        raise MappingError(f"{_LABEL}: recent positions without a cursor")
    if updated_at is not None:
        updated_at = _stored((updated_at, ""))[0]
    return PollState(PollCursor(updated_at, key), frozenset(_stored(p) for p in recent))
