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


def correction_task(number: int, now: datetime, **fields: Any) -> dict[str, Any]:
    """A ``no.bott.hub.tasks.CorrectionTask`` as the worker writes it to hub.tasks: task
    ``task-<number>``, an open P1 new hire without an account, opened a day before
    ``now`` and due in five days. ``fields`` override any of it."""
    from hub.clock import business_date  # noqa: PLC0415

    today = business_date(now)
    return {
        "task_id": f"task-{number:04d}",
        "rule_id": "access.new_hire_without_account",
        "state": "OPEN",
        "severity": "P1",
        "owner_group": "iam",
        "queue": None,
        "institution": "uio",
        "subject": f"p-{number}",
        "person_key": f"p-{number:024x}",
        "display_name": f"Person {number}",
        "title_nb": f"Nytilsatt uten brukerkonto {number}",
        "title_en": f"New hire without an account {number}",
        "description_nb": "beskrivelse",
        "description_en": "description",
        "suggested_fix_nb": "tiltak",
        "suggested_fix_en": "create the account",
        "evidence": [
            {
                "system": "dfo_sap",
                "field": "start_date",
                "value": (today + timedelta(days=5)).isoformat(),
                "source_timestamp": now - timedelta(days=1),
            },
        ],
        "resolution_evidence": [],
        "due_date": today + timedelta(days=5),
        "opened_at": now - timedelta(days=1),
        "updated_at": now,
        "resolved_at": None,
        "revision": 1,
        "escalated": False,
        "exception": None,
        **fields,
    }
