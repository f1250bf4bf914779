"""Tests for the rule identity.collision (mismatch 13: one identity, two records)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.correlation.extract import PERSON_SOURCES
from hub.correlation.stage import CorrelationStage
from hub.findings import Finding, Severity
from hub.person_view import LinkedRecord, PersonView, SourceKind, upsert_record
from hub.privacy import mask_identifier, national_id_pseudonym, pseudonym
from hub.rules import RuleSettings, identity_collision
from hub.rules.identity_collision import RULE_ID, is_collision
from hub.topics import TopicCatalog
from tests import rule_builders as build
from tests.rule_builders import only

DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STAMP = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SEEN = date(2026, 11, 20)
DEFAULTS = RuleSettings()
PERSON_KEY = "p-0123456789abcdef01234567"
SECRET = "test-secret"
NIN = "01017012345"
OTHER_NIN = "02027054321"


def employee(number: str = "412399", **overrides: Any) -> dict[str, Any]:
    """A DFØ employee record (the fields the rule reads)."""
    fields: dict[str, Any] = {
        "first_name": "Ingrid",
        "last_name": "Solberg",
        "start_date": date(2026, 12, 1),
        "end_date": None,
    }
    return build.employee(number, STAMP, **(fields | overrides))


def guest(**overrides: Any) -> dict[str, Any]:
    """A Greg guest record (the fields the rule reads)."""
    fields: dict[str, Any] = {
        "first_name": "Lukas",
        "last_name": "Schmidt",
        "roles": [
            {
                "role_id": "77",
                "type": "guest-researcher",
                "start_date": date(2027, 1, 4),
                "end_date": date(2027, 6, 30),
            }
        ],
    }
    return build.greg_person("2041", STAMP, **(fields | overrides))


def dfo_link(**overrides: Any) -> dict[str, Any]:
    """The link of a DFØ employee sharing a national ID with employee 398765."""
    link: dict[str, Any] = {
        "status": "DISPUTED",
        "anchor": "dfo:412399",
        "shared": ["nin:*********45"],
        "candidates": [{"person_key": "p-other", "anchor": "nin:*********45"}],
        "conflicts": [{"kind": "dfo", "ours": ["dfo:412399"], "theirs": ["dfo:398765"]}],
    }
    link.update(overrides)
    return link


def greg_link(**overrides: Any) -> dict[str, Any]:
    """The link of a guest whose passport belongs to a person with another national ID."""
    link: dict[str, Any] = {
        "status": "DISPUTED",
        "anchor": "nin:*********21",
        "shared": ["passport:*******67"],
        "candidates": [{"person_key": "p-other", "anchor": "nin:*********45"}],
        "conflicts": [{"kind": "nin", "ours": ["nin:*********21"], "theirs": ["nin:*********45"]}],
    }
    link.update(overrides)
    return link


def linked(topic: str, record: dict[str, Any], link: dict[str, Any] | None) -> LinkedRecord:
    """A record as the person view holds it."""
    return LinkedRecord(f"{topic}/{record['source_id']}", topic, record, link)


def view(*records: LinkedRecord) -> PersonView:
    """A person view holding the linked records."""
    return PersonView(PERSON_KEY, "uio", records={r.ref: r for r in records})


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = DEFAULTS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(identity_collision.evaluate(person, now, settings))


class TestIsCollision:
    def test_dfo_employee_disputed_over_the_employee_number(self) -> None:
        """A DFØ employee disputed with a 'dfo' conflict is a collision."""
        assert is_collision(linked(SourceKind.DFO_EMPLOYEE, employee(), dfo_link()))

    def test_dfo_employee_disputed_over_the_national_id_only(self) -> None:
        """A DFØ employee disputed only over a national ID is left to identity.disputed."""
        nin_only = [{"kind": "nin", "ours": ["nin:*1"], "theirs": ["nin:*2"]}]
        record = linked(SourceKind.DFO_EMPLOYEE, employee(), dfo_link(conflicts=nin_only))
        assert not is_collision(record)

    def test_guest_with_shared_passport_and_other_national_id(self) -> None:
        """A guest disputed over nin or dnr while sharing a passport is a collision."""
        assert is_collision(linked(SourceKind.GREG_PERSON, guest(), greg_link()))
        dnr = [{"kind": "dnr", "ours": ["dnr:*1"], "theirs": ["dnr:*2"]}]
        assert is_collision(linked(SourceKind.GREG_PERSON, guest(), greg_link(conflicts=dnr)))

    def test_guest_without_a_shared_passport(self) -> None:
        """A guest disputed over a national ID but sharing only a Feide name is not one."""
        record = linked(SourceKind.GREG_PERSON, guest(), greg_link(shared=["eppn:ls@uio.no"]))
        assert not is_collision(record)

    @pytest.mark.parametrize("status", ["LINKED", "UNMATCHED"])
    def test_undisputed_records_are_not_collisions(self, status: str) -> None:
        """Only disputed records can be collisions."""
        record = linked(SourceKind.DFO_EMPLOYEE, employee(), dfo_link(status=status))
        assert not is_collision(record)
        assert not is_collision(linked(SourceKind.DFO_EMPLOYEE, employee(), None))

    def test_other_sources_are_not_collisions(self) -> None:
        """An IAM person disputed over the employee number is identity.disputed's case."""
        iam = {"institution": "uio", "source_id": "9", "source_timestamp": STAMP}
        assert not is_collision(linked(SourceKind.IAM_PERSON, iam, dfo_link()))


class TestDfoCollision:
    def test_fires_p1_for_hr(self) -> None:
        """A DFØ employee on another's national ID is a P1 finding for HR about that record."""
        finding = only(evaluate(view(linked(SourceKind.DFO_EMPLOYEE, employee(), dfo_link()))))
        assert finding.rule_id == RULE_ID
        assert finding.subject == f"{PERSON_KEY}/employee:412399"
        assert finding.severity is Severity.P1
        assert finding.owner_group == "hr"
        assert finding.due_date == SEEN + timedelta(days=3)
        for text in (finding.title_nb, finding.title_en, finding.description_nb):
            assert "Ingrid Solberg" in text
            assert "412399" in text
            assert "398765" in text
        assert "fødselsnummer" in finding.title_nb
        assert "national ID" in finding.title_en

    def test_evidence_is_masked_and_complete(self) -> None:
        """The evidence names the shared identifier, candidate and conflict, masked."""
        finding = only(evaluate(view(linked(SourceKind.DFO_EMPLOYEE, employee(), dfo_link()))))
        by_field = {(e.field, e.value) for e in finding.evidence}
        assert ("shared identifier", "nin:*********45") in by_field
        assert ("candidate person", "p-other (nin:*********45)") in by_field
        assert ("conflicting dfo", "dfo:412399 vs dfo:398765") in by_field
        assert ("start_date", "2026-12-01") in by_field
        assert all(e.source_timestamp == STAMP for e in finding.evidence)

    def test_no_finding_for_an_ordinary_employee(self) -> None:
        """A linked DFØ employee gives nothing."""
        record = linked(SourceKind.DFO_EMPLOYEE, employee(), dfo_link(status="LINKED"))
        assert evaluate(view(record)) == []

    def test_start_date_before_due_days_is_the_due_date(self) -> None:
        """A start date one day before seen + due_days is the due date; at it, the same."""
        early = employee(start_date=SEEN + timedelta(days=2))
        record = linked(SourceKind.DFO_EMPLOYEE, early, dfo_link())
        assert only(evaluate(view(record))).due_date == SEEN + timedelta(days=2)
        later = employee(start_date=SEEN + timedelta(days=4))
        record = linked(SourceKind.DFO_EMPLOYEE, later, dfo_link())
        assert only(evaluate(view(record))).due_date == SEEN + timedelta(days=3)

    def test_a_past_start_date_does_not_set_the_due_date(self) -> None:
        """A long-employed person's old start date does not make the finding born overdue."""
        old = employee(start_date=date(2015, 8, 1))
        record = linked(SourceKind.DFO_EMPLOYEE, old, dfo_link())
        assert only(evaluate(view(record))).due_date == SEEN + timedelta(days=3)

    def test_due_days_come_from_the_settings(self) -> None:
        """The due date moves with the parameter due_days."""
        settings = RuleSettings.tuned(RULE_ID, params={"due_days": 1})
        record = linked(SourceKind.DFO_EMPLOYEE, employee(), dfo_link())
        assert only(evaluate(view(record), settings=settings)).due_date == SEEN + timedelta(days=1)

    def test_appears_at_once_and_needs_no_recheck(self) -> None:
        """No grace: the finding is there the moment the record is, and no re-check is due."""
        record = linked(SourceKind.DFO_EMPLOYEE, employee(), dfo_link())
        only(evaluate(view(record), now=STAMP))
        assert identity_collision.next_check(view(record), STAMP, DEFAULTS) is None

    def test_two_employee_numbers_in_one_person(self) -> None:
        """A person holding two DFØ employee records gets one finding naming both numbers."""
        first = linked(SourceKind.DFO_EMPLOYEE, employee("398765"), None)
        second = linked(SourceKind.DFO_EMPLOYEE, employee("412399"), None)
        finding = only(evaluate(view(first, second)))
        assert finding.subject == f"{PERSON_KEY}/employees:398765+412399"
        assert "398765, 412399" in finding.title_nb
        assert finding.severity is Severity.P1

    def test_evaluation_is_pure(self) -> None:
        """Evaluating twice gives equal findings."""
        person = view(linked(SourceKind.DFO_EMPLOYEE, employee(), dfo_link()))
        assert evaluate(person) == evaluate(person)


class TestGuestCollision:
    def test_fires_p1_for_hr(self) -> None:
        """A guest's passport on a person with another national ID is a P1 finding for HR,
        due three days after the record (the role starts later)."""
        finding = only(evaluate(view(linked(SourceKind.GREG_PERSON, guest(), greg_link()))))
        assert finding.subject == f"{PERSON_KEY}/guest:2041"
        assert finding.severity is Severity.P1
        assert finding.owner_group == "hr"
        assert finding.due_date == SEEN + timedelta(days=3)
        for text in (finding.title_nb, finding.title_en, finding.description_en):
            assert "Lukas Schmidt" in text
            assert "2041" in text
        assert "fødselsnummer" in finding.title_nb

    def test_role_start_within_due_days_is_the_due_date(self) -> None:
        """The guest's earliest role start, when sooner, is the due date."""
        soon = guest(roles=[{"role_id": "1", "type": "grader", "start_date": SEEN}])
        finding = only(evaluate(view(linked(SourceKind.GREG_PERSON, soon, greg_link()))))
        assert finding.due_date == SEEN


class TestRealisticRecords:
    @staticmethod
    def _correlate(records: list[tuple[str, dict[str, Any]]]) -> dict[str, PersonView]:
        """Run the records through correlation and build each person's view from the
        person events, as the pipeline does."""
        topics = TopicCatalog()
        schemas = {t: topics[t].value_schema or "" for t in PERSON_SOURCES}
        stage = CorrelationStage(secret=SECRET, schemas=schemas)
        views: dict[str, PersonView] = {}
        for topic, record in records:
            _, events = stage.process(topic, record)
            for out in events:
                event = out.event
                if event["action"] != "UPSERT":
                    continue
                current = views.get(out.person_key, PersonView(out.person_key, "uio"))
                item = LinkedRecord(
                    event["record_ref"], topic, record, event["link"], event["assignment_seq"]
                )
                views[out.person_key] = upsert_record(current, item)
        return views

    @staticmethod
    def _hire(
        number: str, fnr: str, annen_id: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        body = json.loads((DATA / "dfo" / "ansatt_future_hire.json").read_text())
        body["ansatt"][0].update({"id": number, "fnr": fnr, "annenId": annen_id or []})
        return map_employee(body, institution="uio", secret=SECRET, fetched_at=STAMP)

    def test_one_national_id_on_two_native_employees(self) -> None:
        """Two native DFØ ansatt bodies with one fnr: correlation disputes the second, and
        the rule reports it without ever showing the national ID or its pseudonym."""
        views = self._correlate(
            [
                (SourceKind.DFO_EMPLOYEE, self._hire("00234567", NIN)),
                (SourceKind.DFO_EMPLOYEE, self._hire("00234999", NIN)),
            ]
        )
        findings = [f for v in views.values() for f in evaluate(v)]
        finding = only(findings)
        assert finding.subject.endswith("/employee:234999")
        assert "234567" in finding.description_nb
        assert "Sigrid Bjørnstad" in finding.title_en
        everything = repr(finding)
        assert NIN not in everything
        assert national_id_pseudonym(SECRET, NIN).split(":", 1)[1] not in everything

    def test_guest_passport_on_an_employee_with_another_national_id(self) -> None:
        """A Greg guest with the passport of a DFØ employee but another national ID is
        disputed and reported as a collision."""
        passport = [{"idType": "02", "idLand": "DE", "idNr": "C01X00T47"}]
        hire = self._hire("00234567", NIN, passport)
        visitor = {
            "institution": "uio",
            "source_system": "greg",
            "source_id": "2041",
            "source_timestamp": STAMP + timedelta(hours=1),
            "greg_id": "2041",
            "first_name": "Sigrid",
            "last_name": "Bjørnstad",
            "national_id_pseudonym": national_id_pseudonym(SECRET, OTHER_NIN),
            "national_id_masked": mask_identifier(OTHER_NIN),
            "passports": [
                {
                    "country": "DE",
                    "pseudonym": pseudonym(SECRET, "passport", "DE-C01X00T47"),
                    "masked": mask_identifier("C01X00T47"),
                }
            ],
            "roles": [],
            "consents": [],
        }
        views = self._correlate(
            [(SourceKind.DFO_EMPLOYEE, hire), (SourceKind.GREG_PERSON, visitor)]
        )
        finding = only([f for v in views.values() for f in evaluate(v)])
        assert finding.subject.endswith("/guest:2041")
        assert ("shared identifier", "passport:*******47") in {
            (e.field, e.value) for e in finding.evidence
        }
        assert OTHER_NIN not in repr(finding)


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example gives a finding."""
        person, now = identity_collision.example()
        only(list(identity_collision.evaluate(person, now, DEFAULTS)))
