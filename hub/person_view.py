"""The hub's view of one person: the current record from each source system.

Pure: :func:`apply_record` returns a new view and never does I/O. A record older
than the one the view already holds (by source timestamp) does not replace it:
old data never overrides new.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

__all__ = ["PersonView", "SourceKind", "apply_record"]

Record = dict[str, Any]


class SourceKind:
    """The source topics a person view is built from (their logical names)."""

    DFO_EMPLOYEE = "source.dfo.employee"
    DFO_POSITION = "source.dfo.position"
    IAM_ACCOUNT = "source.iam.account"


@dataclass(frozen=True)
class PersonView:
    """Per person: DFØ's employee record, IAM's accounts, and the person's open tasks."""

    person_key: str
    institution: str
    employee: Record | None = None
    accounts: dict[str, Record] = field(default_factory=dict)
    tasks: dict[str, Record] = field(default_factory=dict)

    @property
    def display_name(self) -> str | None:
        if self.employee is None:
            return None
        parts = [self.employee.get("first_name"), self.employee.get("last_name")]
        name = " ".join(p for p in parts if p)
        return name or None

    @property
    def latest_source_timestamp(self) -> datetime | None:
        stamps = [r["source_timestamp"] for r in self.accounts.values()]
        if self.employee is not None:
            stamps.append(self.employee["source_timestamp"])
        return max(stamps, default=None)


def _newer(current: Record | None, incoming: Record) -> bool:
    return current is None or incoming["source_timestamp"] >= current["source_timestamp"]


def apply_record(view: PersonView, source: str, record: Record) -> PersonView:
    """The view after ``record`` from ``source`` arrived; stale records change nothing."""
    if source == SourceKind.DFO_EMPLOYEE:
        return replace(view, employee=record) if _newer(view.employee, record) else view
    if source == SourceKind.IAM_ACCOUNT:
        account_id = record["source_id"]
        if not _newer(view.accounts.get(account_id), record):
            return view
        return replace(view, accounts={**view.accounts, account_id: record})
    return view
