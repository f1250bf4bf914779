"""DFØ's thin change notifications (AMQP): ``{"id": "00123456", "uri": "dfo:ansatte",
"gyldigEtter": "2025-08-01"}``, sent as ``application/octet-stream`` but UTF-8 JSON.

:func:`parse_notification` is pure and raises :class:`MappingError` for anything else;
the message never quotes the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from connectors.dfo.mapping import sap_number
from connectors.sdk.items import parse_json
from connectors.source_json import InvalidValueError, date_value, json_type, show
from hub.errors import MappingError

__all__ = [
    "EMPLOYEES",
    "ORG_UNITS",
    "POSITIONS",
    "DfoNotification",
    "fetch_date",
    "parse_notification",
]

EMPLOYEES = "dfo:ansatte"
POSITIONS = "dfo:stillinger"
ORG_UNITS = "dfo:orgenhet"  # inferred: DFØ's documented feed names only the two above
KNOWN_URIS = (EMPLOYEES, POSITIONS, ORG_UNITS)
_ORIGIN = "DFØ notification"


@dataclass(frozen=True)
class DfoNotification:
    """What changed: the object's kind (``uri``), its id (no leading zeros) and the first
    day the change is valid (``gyldigEtter``; None when not given)."""

    uri: str
    object_id: str
    valid_from: date | None


def parse_notification(body: bytes) -> DfoNotification:
    """Read one notification body; raise MappingError when it is not one."""
    payload = parse_json(body, _ORIGIN)
    if not isinstance(payload, dict):
        raise MappingError(f"{_ORIGIN} must be a JSON object, not {json_type(payload)}")
    uri = payload.get("uri")
    if not isinstance(uri, str) or uri.strip() not in KNOWN_URIS:
        shown = show(uri.strip()) if isinstance(uri, str) else json_type(uri)
        raise MappingError(f"{_ORIGIN}: uri {shown} is not one of {', '.join(KNOWN_URIS)}")
    try:
        object_id = sap_number(payload.get("id"))
    except InvalidValueError as problem:
        raise MappingError(f"{_ORIGIN} ({uri.strip()}): id {problem}") from None
    try:
        valid_from = date_value(payload.get("gyldigEtter"))
    except InvalidValueError as problem:
        label = f"{_ORIGIN} ({uri.strip()} {object_id})"
        raise MappingError(f"{label}: gyldigEtter {problem}") from None
    return DfoNotification(uri.strip(), object_id, valid_from)


def fetch_date(valid_from: date | None, today: date) -> date | None:
    """The ``dato`` to ask DFØ for: the change's first day when that lies ahead (DFØ
    then answers with the state on that day), else None (today's state)."""
    return valid_from if valid_from is not None and valid_from > today else None
