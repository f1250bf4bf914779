"""Correlation on realistic cases, from canonical source records to persons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connectors.dfo.mapping import map_employee
from hub.correlation.extract import identities_of
from hub.correlation.identifiers import Identifier, Kind
from hub.correlation.index import AssignmentChange, IdentityIndex
from hub.correlation.resolve import LinkStatus
from hub.privacy import national_id_pseudonym, pseudonym
from tests.factories import DATA

SECRET = "test-secret"
NIN_A = "01017012345"
NIN_A_TYPO = "01017012354"
DNR = "41017012345"
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def _nin(value: str) -> str:
    return national_id_pseudonym(SECRET, value)


def employee(
    number: str,
    *,
    nin: str | None = None,
    passport: str | None = None,
    name: tuple[str, str] = ("Kari", "Nordmann"),
) -> dict[str, Any]:
    return {
        "institution": "uio",
        "source_id": number,
        "employee_id": number,
        "source_timestamp": NOW,
        "first_name": name[0],
        "last_name": name[1],
        "national_id_pseudonym": _nin(nin) if nin else None,
        "passports": [
            {"country": "DE", "pseudonym": pseudonym(SECRET, "passport", passport), "masked": "**1"}
        ]
        if passport
        else [],
    }


def greg(greg_id: str, *, nin: str | None = None, passport: str | None = None) -> dict[str, Any]:
    return {
        "institution": "uio",
        "source_id": greg_id,
        "greg_id": greg_id,
        "source_timestamp": NOW,
        "national_id_pseudonym": _nin(nin) if nin else None,
        "feide_id": None,
        "passports": [
            {"country": "DE", "pseudonym": pseudonym(SECRET, "passport", passport), "masked": "**1"}
        ]
        if passport
        else [],
    }


def iam_person(
    person_id: str, *, nin: str | None = None, externals: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "institution": "uio",
        "source_system": "cerebrum",
        "source_id": person_id,
        "iam_person_id": person_id,
        "style": "cerebrum",
        "source_timestamp": NOW,
        "national_id_pseudonym": _nin(nin) if nin else None,
        "passports": [],
        "external_ids": [{"id_type": k, "value": v} for k, v in (externals or {}).items()],
        "usernames": [],
        "primary_username": None,
        "feide_principal_name": None,
    }


class Hub:
    """The correlation state fed with (source, record) pairs."""

    def __init__(self) -> None:
        self.index = IdentityIndex()
        self.changes: list[AssignmentChange] = []
        self.clock = 0

    def feed(self, source: str, record: dict[str, Any]) -> None:
        self.clock += 1
        for identity in identities_of(source, record):
            self.changes.extend(self.index.upsert(identity, self.clock) or [])

    def anchor(self, ref: str) -> Identifier:
        return self.index.assignments[ref].anchor

    def status(self, ref: str) -> LinkStatus:
        return self.index.assignments[ref].status


class TestRealisticCases:
    def test_guest_later_hired_stays_one_person_with_one_key(self) -> None:
        """A Greg guest, their IAM person and the later DFØ hire are one person, whose
        anchor (the national ID) does not change when the hire arrives."""
        hub = Hub()
        hub.feed("source.greg.person", greg("3", nin=NIN_A))
        hub.feed("source.iam.person", iam_person("9", nin=NIN_A, externals={"GREG_PID": "3"}))
        before = hub.anchor("source.greg.person/3")
        hub.feed("source.dfo.employee", employee("00007", nin=NIN_A))
        refs = ["source.greg.person/3", "source.iam.person/9", "source.dfo.employee/00007"]
        assert {hub.anchor(r) for r in refs} == {before}
        assert before.kind is Kind.NIN
        assert all(hub.status(r) is LinkStatus.LINKED for r in refs)

    def test_one_person_two_positions_and_a_shared_position(self) -> None:
        """Both of an employee's positions attach to them; a co-holder of one position
        stays a person of their own."""
        hub = Hub()
        hub.feed("source.dfo.employee", employee("5", nin=NIN_A))
        hub.feed("source.dfo.employee", employee("6", nin="02027012345", name=("Ola", "Hansen")))
        for position, holders in (("300", ["5", "6"]), ("301", ["00005"])):
            hub.feed(
                "source.dfo.position",
                {
                    "institution": "uio",
                    "source_id": position,
                    "position_id": position,
                    "source_timestamp": NOW,
                    "holders": [{"employee_id": h} for h in holders],
                },
            )
        five = hub.anchor("source.dfo.employee/5")
        six = hub.anchor("source.dfo.employee/6")
        assert five != six
        assert hub.anchor("source.dfo.position/300#5") == five
        assert hub.anchor("source.dfo.position/301#5") == five
        assert hub.anchor("source.dfo.position/300#6") == six

    def test_foreign_hire_known_by_passport_then_d_number(self) -> None:
        """A hire known only by passport is one person with their Greg record; when DFØ
        adds a D-number the person keeps every record and takes the D-number as anchor."""
        hub = Hub()
        hub.feed("source.dfo.employee", employee("7", passport="C01X00T47"))
        hub.feed("source.greg.person", greg("4", passport="C01X00T47"))
        assert hub.anchor("source.greg.person/4") == hub.anchor("source.dfo.employee/7")
        assert hub.anchor("source.dfo.employee/7").kind is Kind.DFO
        hub.changes.clear()
        hub.feed("source.dfo.employee", employee("7", passport="C01X00T47", nin=DNR))
        anchor = hub.anchor("source.dfo.employee/7")
        assert anchor.kind is Kind.DNR
        assert hub.anchor("source.greg.person/4") == anchor
        moved = {
            c.ref for c in hub.changes if c.before and c.after and c.before.anchor != c.after.anchor
        }
        assert moved == {"source.dfo.employee/7", "source.greg.person/4"}, "both records move"

    def test_name_change_keeps_the_person(self) -> None:
        """A new surname in DFØ changes nothing about who the person is."""
        hub = Hub()
        hub.feed("source.dfo.employee", employee("8", nin=NIN_A, name=("Kari", "Nordmann")))
        before = hub.anchor("source.dfo.employee/8")
        hub.feed("source.dfo.employee", employee("8", nin=NIN_A, name=("Kari", "Berg")))
        assert hub.anchor("source.dfo.employee/8") == before

    def test_mistyped_national_id_is_disputed_not_merged(self) -> None:
        """An IAM person pointing at employee 7 but with a mistyped national ID is kept
        apart and disputed, naming employee 7's person as the candidate."""
        hub = Hub()
        hub.feed("source.dfo.employee", employee("7", nin=NIN_A))
        hub.feed("source.iam.person", iam_person("9", nin=NIN_A_TYPO, externals={"DFO_PID": "7"}))
        employee_person = hub.anchor("source.dfo.employee/7")
        disputed = hub.index.assignments["source.iam.person/9"]
        assert disputed.status is LinkStatus.DISPUTED
        assert disputed.anchor != employee_person
        assert disputed.candidates == (employee_person,)
        assert [c.kind for c in disputed.conflicts] == [Kind.NIN]
        assert hub.status("source.dfo.employee/7") is not LinkStatus.DISPUTED

    def test_correcting_the_typo_resolves_the_dispute_by_merging(self) -> None:
        """Once IAM's national ID is corrected, the same records become one person."""
        hub = Hub()
        hub.feed("source.dfo.employee", employee("7", nin=NIN_A))
        hub.feed("source.iam.person", iam_person("9", nin=NIN_A_TYPO, externals={"DFO_PID": "7"}))
        hub.feed("source.iam.person", iam_person("9", nin=NIN_A, externals={"DFO_PID": "7"}))
        assert hub.status("source.iam.person/9") is LinkStatus.LINKED
        assert hub.anchor("source.iam.person/9") == hub.anchor("source.dfo.employee/7")

    def test_dfo_dummy_national_ids_link_nobody(self) -> None:
        """Two employees with DFØ's placeholder national ID are two people."""
        hub = Hub()
        body = json.loads((DATA / "dfo" / "ansatt_unwrapped.json").read_text())
        for number in ("111", "222"):
            body["ansatt"]["id"] = number
            body["ansatt"]["fnr"] = "01017000100"
            record = map_employee(body, institution="uio", secret=SECRET, fetched_at=NOW)
            assert record["national_id_pseudonym"] is None
            hub.feed("source.dfo.employee", record)
        assert hub.anchor("source.dfo.employee/111") != hub.anchor("source.dfo.employee/222")
        assert hub.status("source.dfo.employee/111") is LinkStatus.UNMATCHED

    def test_same_name_and_birth_date_are_not_merged(self) -> None:
        """Namesakes born the same day, with different national IDs, stay two people."""
        hub = Hub()
        first = employee("10", nin=NIN_A, name=("Per", "Olsen")) | {"birth_date": None}
        second = employee("11", nin="01017054321", name=("Per", "Olsen"))
        hub.feed("source.dfo.employee", first)
        hub.feed("source.dfo.employee", second)
        assert hub.anchor("source.dfo.employee/10") != hub.anchor("source.dfo.employee/11")
        assert hub.status("source.dfo.employee/11") is LinkStatus.UNMATCHED

    def test_a_later_record_merges_two_people(self) -> None:
        """A guest (by passport) and an employee (by national ID) become one person when
        an IAM person names both; the guest's record moves to the merged person."""
        hub = Hub()
        hub.feed("source.greg.person", greg("3", passport="P123"))
        hub.feed("source.dfo.employee", employee("7", nin=NIN_A))
        assert hub.anchor("source.greg.person/3") != hub.anchor("source.dfo.employee/7")
        hub.changes.clear()
        hub.feed(
            "source.iam.person",
            iam_person("9", nin=NIN_A, externals={"GREG_PID": "3", "DFO_PID": "7"}),
        )
        merged = hub.anchor("source.dfo.employee/7")
        assert hub.anchor("source.greg.person/3") == merged
        assert any(c.ref == "source.greg.person/3" for c in hub.changes)

    def test_payroll_for_an_unknown_employee_starts_a_person(self) -> None:
        """Pay for an employee number HR never sent is a person of its own (unmatched),
        which the payroll rules can then report."""
        hub = Hub()
        hub.feed(
            "source.payroll.result",
            {
                "institution": "uio",
                "source_id": "77/2026-11/r1",
                "employee_id": "77",
                "source_timestamp": NOW,
                "period": "2026-11",
                "run_id": "r1",
                "lines": [],
                "total_amount": 1000.0,
            },
        )
        assert hub.anchor("source.payroll.result/77/2026-11/r1") == Identifier(Kind.DFO, "77")
        assert hub.status("source.payroll.result/77/2026-11/r1") is LinkStatus.UNMATCHED
