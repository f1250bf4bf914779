"""Dead letters: a record that cannot be decoded, validated or mapped is kept, byte for
byte, on ``hub.deadletter``, with headers that say where it came from and why it failed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.privacy import redact_national_ids

__all__ = ["HEADER_PREFIX", "dead_letter_headers", "headers_as_dict", "message_dead_letter_headers"]

HEADER_PREFIX = "hub."
_MAX_ERROR_LENGTH = 2000


def dead_letter_headers(
    *,
    source_topic: str,
    partition: int | None,
    offset: int | None,
    error: BaseException,
    stage: str,
    connector: str | None = None,
) -> list[tuple[str, bytes]]:
    """The headers of a dead letter. The error text never carries a national ID."""
    message = redact_national_ids(str(error))[:_MAX_ERROR_LENGTH]
    headers = {
        "source.topic": source_topic,
        "source.partition": "" if partition is None else str(partition),
        "source.offset": "" if offset is None else str(offset),
        "error": message,
        "error.type": type(error).__name__,
        "stage": stage,
        "failed_at": datetime.now(UTC).isoformat(),
    }
    if connector:
        headers["connector"] = connector
    return [(HEADER_PREFIX + k, v.encode()) for k, v in headers.items()]


def message_dead_letter_headers(
    message: Any, *, error: BaseException, stage: str, connector: str | None = None
) -> list[tuple[str, bytes]]:
    """The headers of a dead letter for a record read from Kafka (anything with
    ``topic``, ``partition`` and ``offset``)."""
    return dead_letter_headers(
        source_topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        error=error,
        stage=stage,
        connector=connector,
    )


def headers_as_dict(headers: object) -> dict[str, str]:
    """Kafka headers (a list of pairs, or a mapping) as a dict of strings."""
    pairs = headers.items() if isinstance(headers, dict) else headers
    result: dict[str, str] = {}
    for key, value in pairs or []:  # type: ignore[attr-defined]
        raw = value if isinstance(value, bytes) else str(value).encode()
        result[str(key)] = raw.decode(errors="replace")
    return result
