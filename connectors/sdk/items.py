"""What a connector's generators yield: records to publish, deletions, source data that
cannot be mapped, and checkpoints.

Every item may carry a ``cursor`` (committed as the connector's checkpoint once the item
is on Kafka) and an ``acknowledge`` callback (called after that, e.g. to ack an AMQP
message). A unit of work that emits several records puts them on its last item, or ends
with a :class:`Checkpoint`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.errors import HubError, MappingError

__all__ = [
    "Acknowledge",
    "Checkpoint",
    "Delete",
    "Failed",
    "Item",
    "Record",
    "Upsert",
    "mapped",
    "parse_json",
]

Record = Mapping[str, Any]
Acknowledge = Callable[[], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class _Item:
    cursor: str | None = None
    acknowledge: Acknowledge | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class Upsert(_Item):
    """A mapped record for the connector's topic.

    ``raw`` (the source bytes) goes to the dead-letter topic if the record does not fit
    the schema; ``origin`` names where it came from (``dfo:ansatte/123``). ``valid_on``
    is set when the record shows the source's state on a future date (DFØ's ``dato``):
    a reconciliation leaves such a record alone until that day.
    """

    record: Record
    raw: bytes = b""
    origin: str = ""
    valid_on: date | None = None


@dataclass(frozen=True, kw_only=True)
class Delete(_Item):
    """The record with this key is gone from the source: a tombstone (hub/source_deletion)."""

    key: str
    institution: str
    source_id: str


@dataclass(frozen=True, kw_only=True)
class Failed(_Item):
    """Source data that cannot be read or mapped: it goes, byte for byte, to the dead-letter
    topic with ``error`` as the reason. ``key`` is the record's key when known, so that a
    reconciliation does not mistake an unreadable record for a deleted one."""

    raw: bytes
    error: HubError
    origin: str = ""
    key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Checkpoint(_Item):
    """Nothing to publish, but a unit of work is done: commit its cursor, acknowledge it."""


Item = Upsert | Delete | Failed | Checkpoint


def parse_json(raw: bytes, origin: str) -> object:
    """Parse a UTF-8 JSON body, or raise MappingError naming ``origin`` (never quoting it)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MappingError(f"{origin}: the body is not UTF-8 ({exc.reason})") from None
    except RecursionError:
        raise MappingError(f"{origin}: the body is nested too deeply") from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "malformed"
        raise MappingError(f"{origin}: the body is not valid JSON ({reason})") from None


def mapped(
    raw: bytes,
    mapper: Callable[[object], Record],
    *,
    origin: str,
    key: str | None = None,
    cursor: str | None = None,
    acknowledge: Acknowledge | None = None,
    valid_on: date | None = None,
) -> Upsert | Failed:
    """Parse ``raw`` as JSON and map it: an :class:`Upsert`, or a :class:`Failed` that keeps
    the bytes and the reason. ``mapper`` raises :class:`~hub.errors.HubError` for data
    that does not fit."""
    try:
        record = mapper(parse_json(raw, origin))
    except HubError as exc:
        return Failed(
            raw=raw, error=exc, origin=origin, key=key, cursor=cursor, acknowledge=acknowledge
        )
    return Upsert(
        record=record,
        raw=raw,
        origin=origin,
        cursor=cursor,
        acknowledge=acknowledge,
        valid_on=valid_on,
    )
