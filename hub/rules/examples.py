"""Builders for the source records that the rules' ``example()`` functions describe.

Each builder fills what every record of its kind carries (institution, source system,
source id, source timestamp and the record's own id field) and takes the rest as
keyword fields, in the order given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["dfo_employee", "dfo_position", "greg_person", "iam_account"]

Record = dict[str, Any]


def _record(
    institution: str, source_system: str, source_id: str, stamp: datetime, **fields: Any
) -> Record:
    """The common head of a source record followed by ``fields``."""
    return {
        "institution": institution,
        "source_system": source_system,
        "source_id": source_id,
        "source_timestamp": stamp,
        **fields,
    }


def dfo_employee(
    employee_id: str,
    first_name: str,
    last_name: str,
    stamp: datetime,
    *,
    institution: str = "uio",
    **fields: Any,
) -> Record:
    """A DFØ employee record, its source id being the employee id."""
    return _record(
        institution,
        "dfo_sap",
        employee_id,
        stamp,
        employee_id=employee_id,
        first_name=first_name,
        last_name=last_name,
        **fields,
    )


def dfo_position(
    position_id: str, stamp: datetime, *, institution: str = "uio", **fields: Any
) -> Record:
    """A DFØ position record, its source id being the position id."""
    return _record(institution, "dfo_sap", position_id, stamp, position_id=position_id, **fields)


def iam_account(
    source_id: str,
    iam_person_id: str,
    stamp: datetime,
    *,
    institution: str = "uio",
    **fields: Any,
) -> Record:
    """An IAM (Cerebrum) account record for the person ``iam_person_id``."""
    return _record(institution, "cerebrum", source_id, stamp, iam_person_id=iam_person_id, **fields)


def greg_person(
    greg_id: str,
    first_name: str,
    last_name: str,
    stamp: datetime,
    *,
    institution: str = "uio",
    **fields: Any,
) -> Record:
    """A Greg guest record, its source id being the Greg id."""
    return _record(
        institution,
        "greg",
        greg_id,
        stamp,
        greg_id=greg_id,
        first_name=first_name,
        last_name=last_name,
        **fields,
    )
