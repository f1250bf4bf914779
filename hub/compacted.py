"""Reading a compacted topic from its start to its current end: the latest record per
key, as tables of state (``hub.tasks``, ``hub.ticket-refs``) are kept."""

from __future__ import annotations

from typing import Any

from hub.avro.codec import AvroCodec
from hub.errors import HubError
from hub.topic_tail import StartAt, tail

__all__ = ["latest_by_key"]


async def latest_by_key(bootstrap: str, topic: str, codec: AvroCodec) -> dict[str, Any]:
    """Every key's latest decoded value (a tombstone removes the key)."""
    latest: dict[str, Any] = {}
    async for record in tail(bootstrap, topic, codec, start=StartAt("beginning"), follow=False):
        key = (record.key or b"").decode()
        if record.problem is not None:
            raise HubError(f"{topic}[{record.partition}]@{record.offset}: {record.problem}")
        if record.value is None:
            latest.pop(key, None)
        else:
            latest[key] = record.value
    return latest
