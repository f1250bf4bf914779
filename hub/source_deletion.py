"""How a connector says "this record is gone from the source".

A deletion is a tombstone (a Kafka record with no value) on the source topic, keyed
like the record it deletes, with two headers that name it without a value to read:

- ``hub.deleted.institution``: the institution the record belonged to;
- ``hub.deleted.source-id``: the record's ``source_id``.

The source (DFØ employee, Greg person, ...) is the topic. A full reconciliation
emits one when a record it saw last time is no longer listed. A tombstone without
these headers cannot be placed and goes to the dead-letter topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.deadletter import headers_as_dict

__all__ = ["INSTITUTION_HEADER", "SOURCE_ID_HEADER", "SourceDeletion", "deletion_of"]

INSTITUTION_HEADER = "hub.deleted.institution"
SOURCE_ID_HEADER = "hub.deleted.source-id"


@dataclass(frozen=True)
class SourceDeletion:
    """A record removed from its source system."""

    institution: str
    source_id: str

    def headers(self) -> list[tuple[str, bytes]]:
        """The Kafka headers that carry this deletion on a tombstone."""
        return [
            (INSTITUTION_HEADER, self.institution.encode()),
            (SOURCE_ID_HEADER, self.source_id.encode()),
        ]


def deletion_of(headers: object) -> SourceDeletion | None:
    """The deletion a tombstone's headers describe, or None when they describe none."""
    found = headers_as_dict(headers)
    institution = found.get(INSTITUTION_HEADER, "").strip()
    source_id = found.get(SOURCE_ID_HEADER, "").strip()
    if not institution or not source_id:
        return None
    return SourceDeletion(institution, source_id)
