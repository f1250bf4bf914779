"""Which person a source record is about: the hub's person key.

The walking skeleton links on the DFØ employee number only: a DFØ employee is the
person ``dfo:<institution>:<employee number>``, and an IAM account joins that
person through its ``DFO_PID`` external id. Accounts without one get a person of
their own, keyed by the IAM person id. The identity graph (national ID, passport,
Greg id, usernames, merges and disputes) replaces this in the correlation stage.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from hub.errors import MappingError
from hub.person_view import SourceKind

__all__ = ["person_key", "person_key_for"]


def person_key(secret: str, institution: str, kind: str, value: str) -> str:
    """A stable, pseudonymous person key for one identifier."""
    digest = hmac.new(
        secret.encode(), f"{institution}|{kind}|{value}".encode(), hashlib.sha256
    ).hexdigest()
    return f"p-{digest[:24]}"


def person_key_for(secret: str, source: str, record: dict[str, Any]) -> str:
    """The person key for a decoded source record from the logical topic ``source``."""
    institution = record["institution"]
    if source == SourceKind.DFO_EMPLOYEE:
        return person_key(secret, institution, "dfo", record["employee_id"])
    if source == SourceKind.IAM_ACCOUNT:
        for external in record.get("external_ids", []):
            if external["id_type"] == "DFO_PID":
                return person_key(secret, institution, "dfo", external["value"].lstrip("0") or "0")
        owner = record.get("iam_person_id") or record["source_id"]
        return person_key(secret, institution, "iam", owner)
    raise MappingError(f"no person can be derived from a record of {source}")
