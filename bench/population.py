"""A synthetic population for benchmarks: canonical source records, as the connectors
publish them, for ``people`` employees of one institution, or spread over several.

Each person has a DFØ employee record, a position of their own and, unless
``without_account`` says otherwise, an IAM account that names the employee number (so
correlation links the two). Identity
numbers are pseudonyms of synthetic numbers; nothing here is a real person.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.privacy import mask_identifier, national_id_pseudonym

__all__ = ["PSEUDONYM_KEY", "SourceEvent", "account", "employee", "population", "position"]

PSEUDONYM_KEY = "bench-only-pseudonym-key"
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SourceEvent:
    """One record for a source topic (catalogue name), with its key."""

    topic: str
    key: str
    record: dict[str, Any]


def _synthetic_nin(number: int) -> str:
    # Day 41-71 marks a D-number; with these digits no real person has it.
    return f"{41 + number % 28:02d}0180{number % 100000:05d}"


def position(number: int, stamp: datetime, institution: str = "uio") -> dict[str, Any]:
    """The employee's own position: technical-administrative (category 50078118)."""
    return {
        "institution": institution,
        "source_system": "dfo_sap",
        "source_id": f"9{number}",
        "source_timestamp": stamp,
        "position_id": f"9{number}",
        "position_code": "20001434",
        "title": "Rådgiver",
        "org_unit_id": f"5000{number % 50:04d}",
        "holders": [{"employee_id": str(number), "start_date": None, "end_date": None}],
        "categories": [{"category_id": "50078118", "name": "Teknisk/administrativ"}],
    }


def employee(number: int, start: date, stamp: datetime, institution: str = "uio") -> dict[str, Any]:
    nin = _synthetic_nin(number)
    return {
        "institution": institution,
        "source_system": "dfo_sap",
        "source_id": str(number),
        "source_timestamp": stamp,
        "employee_id": str(number),
        "national_id_pseudonym": national_id_pseudonym(PSEUDONYM_KEY, nin),
        "national_id_masked": mask_identifier(nin),
        "passports": [],
        "first_name": f"Person{number}",
        "last_name": "Benchmark",
        "start_date": start,
        "end_date": None,
        "main_position_id": f"9{number}",
        "employee_group": "1",
        "employee_subgroup": "01",
        "org_unit_id": f"5000{number % 50:04d}",
        "title": "Rådgiver",
        "additional_positions": [],
        "has_private_mobile": True,
        "has_private_email": True,
    }


def account(number: int, stamp: datetime, institution: str = "uio") -> dict[str, Any]:
    return {
        "institution": institution,
        "source_system": "cerebrum",
        "source_id": f"acc-{number}",
        "source_timestamp": stamp,
        "iam_person_id": f"p-{number}",
        "username": f"user{number}",
        "feide_principal_name": f"user{number}@{institution}.no",
        "status": "ACTIVE",
        "expires_on": None,
        "affiliations": [
            {
                "affiliation": "ANSATT",
                "status": "tekadm",
                "org_unit_id": None,
                "source_system": None,
            }
        ],
        "external_ids": [{"id_type": "DFO_PID", "value": str(number)}],
        "publicly_visible": True,
    }


def population(
    people: int,
    *,
    seed: int = 7,
    first: int = 1_000_000,
    without_account: float = 0.0,
    start_in_days: int | None = None,
    institutions: Sequence[str] = ("uio",),
) -> Iterator[SourceEvent]:
    """Employees, their positions and their accounts, interleaved as sources send them;
    person ``n`` works at ``institutions[n % len(institutions)]``."""
    rng = random.Random(seed)
    for offset in range(people):
        number = first + offset
        institution = institutions[offset % len(institutions)]
        stamp = EPOCH + timedelta(seconds=offset)
        days = -rng.randint(30, 3000) if start_in_days is None else start_in_days
        start = (EPOCH + timedelta(days=days)).date()
        yield SourceEvent(
            "source.dfo.employee", str(number), employee(number, start, stamp, institution)
        )
        yield SourceEvent("source.dfo.position", f"9{number}", position(number, stamp, institution))
        if rng.random() >= without_account:
            yield SourceEvent(
                "source.iam.account", f"acc-{number}", account(number, stamp, institution)
            )
