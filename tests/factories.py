"""Builders for native source payloads and canonical records used across tests."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
SAMPLE_FNR = "15059912345"  # the fake national ID in tests/data/dfo/ansatt_future_hire.json


def dfo_new_hire_body(start_in_days: int = 5, employee_id: str = "00234567") -> bytes:
    """A native GET ansatte/v2/{id} body for a hire starting in ``start_in_days`` days."""
    body = json.loads((DATA / "dfo" / "ansatt_future_hire.json").read_text())
    person = body["ansatt"][0]
    person["id"] = employee_id
    person["startdato"] = (date.today() + timedelta(days=start_in_days)).isoformat()
    person["endretDato"] = date.today().isoformat()
    return json.dumps(body).encode()


def iam_account(
    *,
    employee_id: str = "00234567",
    username: str = "sigridb",
    status: str = "ACTIVE",
    institution: str = "uio",
    account_id: str = "acc-1",
) -> dict[str, Any]:
    """A canonical no.bott.hub.iam.Account record, as the IAM connector publishes it."""
    return {
        "institution": institution,
        "source_system": "cerebrum",
        "source_id": account_id,
        "source_timestamp": datetime.now(UTC),
        "iam_person_id": "cer-991",
        "username": username,
        "feide_principal_name": f"{username}@uio.no",
        "status": status,
        "expires_on": None,
        "affiliations": [
            {
                "affiliation": "ANSATT",
                "status": "vitenskapelig",
                "org_unit_id": "50001300",
                "source_system": "DFO_SAP",
            }
        ],
        "external_ids": [{"id_type": "DFO_PID", "value": employee_id}],
        "publicly_visible": True,
    }


def dfo_hire_event(start: date, stamp: datetime, institution: str = "uio") -> dict[str, Any]:
    """A PersonEvent carrying Ola Nordmann's DFØ employee record (employee 7, person
    ``p-7``), starting on ``start``, as correlation sends it to his person."""
    from hub.person_event import person_event  # noqa: PLC0415

    record = {
        "institution": institution,
        "source_system": "dfo_sap",
        "source_id": "7",
        "employee_id": "7",
        "source_timestamp": stamp,
        "first_name": "Ola",
        "last_name": "Nordmann",
        "start_date": start,
        "end_date": None,
        "passports": [],
        "additional_positions": [],
    }
    return person_event(
        "p-7",
        institution,
        "source.dfo.employee",
        record=record,
        record_ref="source.dfo.employee/7",
        event_time=stamp,
    )
