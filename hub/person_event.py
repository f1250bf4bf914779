"""Building PersonEvent records (topic ``hub.person-events``), with every field set."""

from __future__ import annotations

from typing import Any

__all__ = ["person_event"]


def person_event(key: str, institution: str, source: str, **fields: Any) -> dict[str, Any]:
    """A PersonEvent for person ``key``: an UPSERT with no record unless ``fields`` say
    otherwise (``action``, ``record``, ``record_ref``, ``link``, ``moved_to``,
    ``adopted_tasks``, ``assignment_seq``, ``event_time``)."""
    event: dict[str, Any] = {
        "person_key": key,
        "institution": institution,
        "source_topic": source,
        "record": None,
        "action": "UPSERT",
        "record_ref": "",
        "link": None,
        "moved_to": None,
        "adopted_tasks": [],
        "exception": None,
        "assignment_seq": 0,
        "event_time": None,
    }
    unknown = set(fields) - set(event)
    if unknown:
        raise TypeError(f"PersonEvent has no fields {sorted(unknown)}")
    event.update(fields)
    return event
