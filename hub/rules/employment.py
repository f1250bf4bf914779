"""Facts about a person's employment that several rules ask: is it active on a day or in
a span of days, is it hourly paid, what affiliation does it give in IAM, and when DFØ's
record was last known to change.

The classification follows UiO's published mapping from DFØ to Cerebrum:
employee group (MG) and subgroup (MUG) 9/90, 9/91, 9/94 give ``TILKNYTTET/ekst_partner``,
9/93 emeritus, 9/95 ``gjesteforsker``, 8/50 is ignored; otherwise the position's
category gives ``ANSATT/tekadm`` (50078118, 50078119) or ``ANSATT/vitenskapelig``
(50078120). DFØ shows an affiliation as active from the start date less 6 days.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from hub.clock import start_of_day

__all__ = [
    "AFFILIATION_EARLY_DAYS",
    "HOURLY_SUBGROUPS",
    "active_on",
    "affiliation_of",
    "employed_in",
    "ended_before",
    "is_hourly",
    "record_time",
]

Record = dict[str, Any]

AFFILIATION_EARLY_DAYS = 6
# DFØ's employee subgroups for hourly paid staff ("timelønnet") and assignment
# contracts ("oppdrag"); SAP's position type XT1 marks an overlapping hourly contract.
HOURLY_SUBGROUPS = frozenset({"timelønnet", "timelonnet", "oppdrag", "XT1", "T", "35", "36"})

_BY_GROUP = {
    ("9", "90"): ("TILKNYTTET", "ekst_partner"),
    ("9", "91"): ("TILKNYTTET", "ekst_partner"),
    ("9", "94"): ("TILKNYTTET", "ekst_partner"),
    ("9", "93"): ("TILKNYTTET", "emeritus"),
    ("9", "95"): ("TILKNYTTET", "gjesteforsker"),
}
_BY_CATEGORY = {
    "50078118": ("ANSATT", "tekadm"),
    "50078119": ("ANSATT", "tekadm"),
    "50078120": ("ANSATT", "vitenskapelig"),
}
IGNORED = ("IGNORED", None)


def active_on(employee: Record, day: date, *, early_days: int = 0) -> bool:
    """Whether the employment covers ``day`` (from ``early_days`` before the start)."""
    start: date | None = employee.get("start_date")
    end: date | None = employee.get("end_date")
    if start is None:
        return False
    return start - timedelta(days=early_days) <= day and (end is None or day <= end)


def _spans(employee: Record) -> list[tuple[str, date | None, date | None]]:
    """The employment's main span and its additional positions' spans."""
    spans: list[tuple[str, date | None, date | None]] = [
        ("main", employee.get("start_date"), employee.get("end_date"))
    ]
    for extra in employee.get("additional_positions") or []:
        spans.append(
            (f"position {extra.get('position_id')}", extra.get("start_date"), extra.get("end_date"))
        )
    return spans


def employed_in(employee: Record, first: date, last: date) -> bool:
    """Whether the employment or one of its additional positions covers a day in
    ``first``..``last`` (a span without a start date covers nothing)."""
    return any(
        start is not None and start <= last and (end is None or end >= first)
        for _, start, end in _spans(employee)
    )


def record_time(record: Record) -> datetime:
    """When DFØ's data was last known to change: the source timestamp, or the end of
    ``changed_date`` (endretDato) when that is earlier, so that re-fetching an unchanged
    record does not restart the grace period."""
    stamp: datetime = record["source_timestamp"]
    changed: date | None = record.get("changed_date")
    if changed is None:
        return stamp
    return min(stamp, start_of_day(changed + timedelta(days=1)))


def ended_before(employee: Record, day: date) -> bool:
    """Whether the employment ended before ``day``."""
    end: date | None = employee.get("end_date")
    return end is not None and end < day


def is_hourly(employee: Record, subgroups: Iterable[str] = HOURLY_SUBGROUPS) -> bool:
    """Whether DFØ marks the employee as hourly paid or on an assignment contract."""
    subgroup = (employee.get("employee_subgroup") or "").strip()
    return subgroup in set(subgroups) or subgroup.lower() in {s.lower() for s in subgroups}


def affiliation_of(employee: Record, positions: Iterable[Record]) -> tuple[str, str | None] | None:
    """The IAM affiliation (``ANSATT``/``TILKNYTTET``, status) the employment gives,
    ``IGNORED`` for MG/MUG 8/50, or None when nothing classifies it."""
    group = (employee.get("employee_group") or "").strip()
    subgroup = (employee.get("employee_subgroup") or "").strip()
    if (group, subgroup) == ("8", "50"):
        return IGNORED
    if (group, subgroup) in _BY_GROUP:
        return _BY_GROUP[(group, subgroup)]
    main = employee.get("main_position_id")
    for position in positions:
        if main is not None and position.get("position_id") != main:
            continue
        for category in position.get("categories") or []:
            found = _BY_CATEGORY.get(str(category.get("category_id")))
            if found is not None:
                return found
    return None
