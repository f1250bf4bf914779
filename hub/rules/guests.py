"""Facts about a Greg guest record that several rules report."""

from __future__ import annotations

from typing import Any

from hub.findings import Evidence

__all__ = ["registration_evidence"]


def registration_evidence(guest: dict[str, Any]) -> Evidence:
    """Greg's word on when the guest completed registration, or that they have not."""
    completed = guest.get("registration_completed")
    return Evidence(
        "greg",
        "registration_completed",
        completed.isoformat() if completed is not None else "not completed",
        guest["source_timestamp"],
    )
