"""What a rule reports: a finding about one subject, with the evidence behind it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = ["Evidence", "Finding", "Severity"]


class Severity(enum.StrEnum):
    """The seed report's priority order."""

    P1 = "P1"  # blocks the right pay to the right person at the right time
    P2 = "P2"  # significant extra work for administrative roles
    P3 = "P3"  # frustration, or significant extra work centrally


@dataclass(frozen=True)
class Evidence:
    """What one system says about one field, and as of when."""

    system: str
    field: str
    value: str | None
    source_timestamp: datetime | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "field": self.field,
            "value": self.value,
            "source_timestamp": self.source_timestamp,
        }


@dataclass(frozen=True)
class Finding:
    """One mismatch about one subject, explained in Norwegian bokmål and English."""

    rule_id: str
    subject: str
    severity: Severity
    owner_group: str
    due_date: date | None
    title_nb: str
    title_en: str
    description_nb: str
    description_en: str
    suggested_fix_nb: str
    suggested_fix_en: str
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    display_name: str | None = None
