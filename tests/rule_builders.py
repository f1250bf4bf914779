"""Builders for the source records and person views the rule tests evaluate.

Each record builder fills in the envelope every source record carries (institution,
source system, source id and timestamp) and the record's own key; the test passes the
rest as keyword fields, which also override anything the builder set.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

from hub.findings import Finding
from hub.person_view import PersonView, ReferenceData

__all__ = [
    "NOW",
    "TODAY",
    "account",
    "employee",
    "greg_person",
    "greg_role",
    "only",
    "payroll_result",
    "person",
    "source_record",
]

Record = dict[str, Any]

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
TODAY = date(2026, 11, 22)


def source_record(
    source_system: str,
    source_id: str,
    stamp: datetime,
    /,
    *,
    institution: str = "uio",
    **fields: Any,
) -> Record:
    """A source record: the envelope, then ``fields``."""
    return {
        "institution": institution,
        "source_system": source_system,
        "source_id": source_id,
        "source_timestamp": stamp,
        **fields,
    }


def employee(employee_id: str, stamp: datetime, /, **fields: Any) -> Record:
    """A DFØ employee record (``dfo_sap``) of ``employee_id``."""
    return source_record("dfo_sap", employee_id, stamp, **{"employee_id": employee_id, **fields})


def account(account_id: str, stamp: datetime, /, **fields: Any) -> Record:
    """An IAM account record (Cerebrum unless ``source_system`` is given)."""
    return source_record("cerebrum", account_id, stamp, **fields)


def greg_person(greg_id: str, stamp: datetime, /, **fields: Any) -> Record:
    """A Greg person record of ``greg_id``."""
    return source_record("greg", greg_id, stamp, **{"greg_id": greg_id, **fields})


def greg_role(
    role_id: str, start: date | None, end: date | None, kind: str = "guest-researcher"
) -> Record:
    """A Greg role (person_role) as the Greg connector maps it."""
    return {
        "role_id": role_id,
        "type": kind,
        "start_date": start,
        "end_date": end,
        "sponsor_id": "233",
        "org_unit_id": "17",
        "org_unit_active": True,
    }


def payroll_result(
    employee_id: str,
    period: str,
    run_id: str,
    stamp: datetime,
    *,
    amount: float,
    lines: list[Record],
    paid_on: date | None,
    run_type: str = "regular",
    source_system: str = "dfo_sap_payroll",
) -> Record:
    """A payroll result of ``employee_id`` for one period and run (from DFØ unless
    ``source_system`` says otherwise)."""
    return source_record(
        source_system,
        f"{employee_id}/{period}/{run_id}",
        stamp,
        employee_id=employee_id,
        period=period,
        run_id=run_id,
        run_type=run_type,
        paid_on=paid_on,
        lines=lines,
        total_amount=amount,
    )


def person(
    *records: tuple[str, Record | None],
    key: str,
    institution: str = "uio",
    tasks: dict[str, Record] | None = None,
    reference: ReferenceData | None = None,
) -> PersonView:
    """A person view of the ``(kind, record)`` pairs (a None record is left out), with
    the open tasks and reference data given."""
    view = PersonView.of(key, institution, [(kind, r) for kind, r in records if r is not None])
    if tasks:
        view = dataclasses.replace(view, tasks=tasks)
    if reference is not None:
        view = dataclasses.replace(view, reference=reference)
    return view


def only(findings: list[Finding]) -> Finding:
    """The single finding, failing the test when there is not exactly one."""
    assert len(findings) == 1, findings
    return findings[0]
