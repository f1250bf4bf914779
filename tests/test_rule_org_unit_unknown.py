"""Tests for the rule org.unknown_unit."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee, map_position
from hub.clock import start_of_day
from hub.findings import Finding, Severity
from hub.person_view import PersonView, ReferenceData, SourceKind
from hub.rules import org_unit_unknown as rule
from hub.rules.employment import record_time
from hub.rules.settings import RuleSettings
from tests import rule_builders as build
from tests.factories import DATA
from tests.rule_builders import only

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 22)
EMPLOYEE_STAMP = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
POSITION_STAMP = datetime(2026, 11, 19, 6, 0, tzinfo=UTC)
ORGREG_STAMP = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
SETTINGS = RuleSettings()
PERSON_KEY = "p-92eb5ffee6ae2fec3ad71c77"
EMPLOYEE_ID = "789012"
KNOWN, CLOSED, NEW = "50001430", "50001431", "50001488"
CLOSED_ON = date(2026, 6, 30)


def orgreg_unit(ou_id: str, dfo_id: str, valid_to: date | None, name: str) -> dict[str, Any]:
    """An OrgReg unit (GET /v3/ou/{ouId}) with its DFØ external key."""
    return {
        "institution": "uio",
        "source_system": "orgreg",
        "source_id": ou_id,
        "source_timestamp": ORGREG_STAMP,
        "ou_id": ou_id,
        "parent_id": "1000",
        "valid_from": date(2010, 1, 1),
        "valid_to": valid_to,
        "names": {"name_nob": name, "name_nno": None, "name_eng": None},
        "external_keys": [{"source_system": "dfo_sap", "type": "dfo_org_id", "value": dfo_id}],
    }


REFERENCE = ReferenceData(
    orgreg_units={
        "1430": orgreg_unit("1430", KNOWN, None, "Institutt for biovitenskap"),
        "1431": orgreg_unit("1431", CLOSED, CLOSED_ON, "Seksjon for genetikk"),
    },
)


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee placed in a unit OrgReg does not know."""
    fields: dict[str, Any] = {
        "first_name": "Per",
        "last_name": "Olsen",
        "start_date": date(2021, 8, 1),
        "end_date": None,
        "org_unit_id": NEW,
        "changed_date": None,
    }
    return build.employee(EMPLOYEE_ID, EMPLOYEE_STAMP, **(fields | overrides))


def position(
    unit: str,
    *,
    holder: str = EMPLOYEE_ID,
    start: date = date(2021, 8, 1),
    end: date | None = None,
    position_id: str = "30045678",
) -> dict[str, Any]:
    """A DFØ position in ``unit`` held by ``holder``."""
    return {
        "institution": "uio",
        "source_system": "dfo_sap",
        "source_id": position_id,
        "source_timestamp": POSITION_STAMP,
        "position_id": position_id,
        "position_code": "20001013",
        "title": "Professor",
        "occupation_code": "2310101",
        "org_unit_id": unit,
        "holders": [{"employee_id": holder, "start_date": start, "end_date": end}],
        "categories": [{"category_id": "50078120", "name": "Vitenskapelig"}],
    }


def view(
    employee_record: dict[str, Any] | None,
    *positions: dict[str, Any],
    reference: ReferenceData = REFERENCE,
) -> PersonView:
    """A person view with the employee, positions and reference data."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, employee_record),
        *[(SourceKind.DFO_POSITION, p) for p in positions],
        key=PERSON_KEY,
        reference=reference,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = SETTINGS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(rule.evaluate(person, now, settings))


class TestWhenItFires:
    def test_an_employment_in_an_unknown_unit_is_found(self) -> None:
        """An active employment in a unit OrgReg has no key for is found, per unit."""
        finding = only(evaluate(view(employee())))
        assert finding.subject == f"{PERSON_KEY}/unit:{NEW}"
        assert "Ukjent enhet" in finding.title_nb

    def test_no_finding_for_a_known_open_unit(self) -> None:
        """An employment in a unit OrgReg knows and holds open is fine."""
        assert evaluate(view(employee(org_unit_id=KNOWN))) == []

    def test_a_unit_closed_in_orgreg_is_found(self) -> None:
        """An employment in a unit OrgReg closed in June is found as closed."""
        finding = only(evaluate(view(employee(org_unit_id=CLOSED))))
        assert "Nedlagt enhet" in finding.title_nb
        assert CLOSED_ON.isoformat() in finding.description_en

    def test_no_finding_without_orgreg_reference_data(self) -> None:
        """With OrgReg's reference data not loaded, nothing is reported."""
        assert evaluate(view(employee(), reference=ReferenceData())) == []

    def test_an_orgreg_index_counts_as_loaded(self) -> None:
        """OrgReg data given only as an index by DFØ id is used."""
        index = {KNOWN: REFERENCE.orgreg_units["1430"]}
        reference = ReferenceData(orgreg_by_dfo_id=index)
        assert evaluate(view(employee(org_unit_id=KNOWN), reference=reference)) == []
        only(evaluate(view(employee(), reference=reference)))

    def test_an_ended_employment_is_not_checked(self) -> None:
        """An employment that ended yesterday no longer needs its unit in OrgReg."""
        assert evaluate(view(employee(end_date=TODAY - timedelta(days=1)))) == []

    def test_a_held_position_in_an_unknown_unit_is_found(self) -> None:
        """A position the person holds, in a unit OrgReg does not know, is found."""
        person = view(employee(org_unit_id=KNOWN), position("50001499"))
        finding = only(evaluate(person))
        assert finding.subject == f"{PERSON_KEY}/unit:50001499"
        assert "stilling 30045678" in finding.description_nb
        assert "position 30045678" in finding.description_en

    def test_a_position_held_by_someone_else_is_ignored(self) -> None:
        """A position's holder entry for another employee is not this person's placement."""
        person = view(employee(org_unit_id=KNOWN), position("50001499", holder="111222"))
        assert evaluate(person) == []

    def test_a_position_no_longer_held_is_ignored(self) -> None:
        """A holding that ended last month does not place the person in the unit."""
        held = position("50001499", end=date(2026, 10, 31))
        assert evaluate(view(employee(org_unit_id=KNOWN), held)) == []

    def test_one_finding_per_unit(self) -> None:
        """Employment and position in the same unknown unit give one finding naming both."""
        finding = only(evaluate(view(employee(), position(NEW))))
        assert "arbeidsforholdet, stilling 30045678" in finding.description_nb
        assert len([e for e in finding.evidence if e.system == "dfo_sap"]) == 2

    def test_two_unknown_units_give_two_findings(self) -> None:
        """Employment and position in two different unknown units give two findings."""
        findings = evaluate(view(employee(), position("50001499")))
        assert [f.subject for f in findings] == [
            f"{PERSON_KEY}/unit:{NEW}",
            f"{PERSON_KEY}/unit:50001499",
        ]

    def test_no_finding_without_an_employee_record(self) -> None:
        """Without DFØ's employee record the person's holdings cannot be told apart."""
        assert evaluate(view(None, position(NEW))) == []

    def test_evaluation_is_pure(self) -> None:
        """The same view and time give equal findings twice."""
        person = view(employee(), position(CLOSED))
        assert evaluate(person) == evaluate(person)


class TestTiming:
    def test_no_finding_one_minute_before_the_grace_ends(self) -> None:
        """A DFØ record known for a minute less than the grace (24 h) is not reported."""
        person = view(employee())
        assert evaluate(person, now=EMPLOYEE_STAMP + timedelta(hours=24, minutes=-1)) == []

    def test_finding_when_the_grace_ends(self) -> None:
        """At exactly the DFØ record's timestamp plus the grace, the finding appears."""
        only(evaluate(view(employee()), now=EMPLOYEE_STAMP + timedelta(hours=24)))

    def test_next_check_is_the_end_of_the_grace(self) -> None:
        """Within the grace, next_check returns its end."""
        now = EMPLOYEE_STAMP + timedelta(hours=2)
        assert rule.next_check(view(employee()), now, SETTINGS) == EMPLOYEE_STAMP + timedelta(
            hours=24
        )

    def test_refetching_unchanged_data_does_not_restart_the_grace(self) -> None:
        """A fresh fetch of a record DFØ last changed a week ago is reported at once."""
        refetched = employee(source_timestamp=NOW, changed_date=date(2026, 11, 10))
        only(evaluate(view(refetched)))
        assert record_time(refetched) == start_of_day(date(2026, 11, 11))

    def test_grace_setting_changes_the_outcome(self) -> None:
        """With the grace tuned to 0 minutes a fresh record is reported at once."""
        person = view(employee(source_timestamp=NOW - timedelta(minutes=1)))
        assert evaluate(person) == []
        only(evaluate(person, settings=RuleSettings.tuned(rule.RULE_ID, grace_minutes=0)))

    def test_a_unit_closing_today_is_still_open(self) -> None:
        """A unit whose last valid day is today is open; closed from tomorrow."""
        reference = ReferenceData(
            orgreg_units={"1431": orgreg_unit("1431", CLOSED, TODAY, "Seksjon for genetikk")}
        )
        person = view(employee(org_unit_id=CLOSED), reference=reference)
        assert evaluate(person) == []
        tomorrow = start_of_day(TODAY + timedelta(days=1))
        assert rule.next_check(person, NOW, SETTINGS) == tomorrow
        assert evaluate(person, now=tomorrow - timedelta(minutes=1)) == []
        only(evaluate(person, now=tomorrow))

    def test_a_new_hire_is_checked_from_six_days_before_the_start(self) -> None:
        """A hire starting in 6 days is checked (IAM's early affiliation); in 7 days not yet."""
        assert evaluate(view(employee(start_date=TODAY + timedelta(days=7)))) == []
        only(evaluate(view(employee(start_date=TODAY + timedelta(days=6)))))

    def test_next_check_for_a_future_hire_is_start_less_lead_days(self) -> None:
        """For a hire starting in 7 days, next_check is tomorrow: the start less 6 days."""
        person = view(employee(start_date=TODAY + timedelta(days=7)))
        assert rule.next_check(person, NOW, SETTINGS) == start_of_day(TODAY + timedelta(days=1))

    def test_lead_days_setting_changes_the_outcome(self) -> None:
        """With lead days tuned to 0 a hire starting in 6 days is not checked yet."""
        person = view(employee(start_date=TODAY + timedelta(days=6)))
        assert evaluate(person, settings=RuleSettings.tuned(rule.RULE_ID, lead_days=0)) == []

    def test_next_check_is_none_without_reference_data(self) -> None:
        """With OrgReg's data not loaded, no date can change the answer."""
        assert rule.next_check(view(employee(), reference=ReferenceData()), NOW, SETTINGS) is None


class TestDueDate:
    def test_due_a_week_after_it_appeared(self) -> None:
        """Appearing on 19 November (record of the 18th plus a day), due 26 November."""
        assert only(evaluate(view(employee()))).due_date == date(2026, 11, 26)

    def test_due_on_the_start_date_when_that_comes_sooner(self) -> None:
        """A hire starting on 25 November is due on the start date."""
        person = view(employee(start_date=date(2026, 11, 25)))
        assert only(evaluate(person)).due_date == date(2026, 11, 25)

    def test_a_unit_closed_recently_is_due_a_week_after_it_closed(self) -> None:
        """A unit closed after 20 November is due a week after the first day it was closed."""
        reference = ReferenceData(
            orgreg_units={"1431": orgreg_unit("1431", CLOSED, date(2026, 11, 20), "Genetikk")}
        )
        person = view(employee(org_unit_id=CLOSED), reference=reference)
        assert only(evaluate(person)).due_date == date(2026, 11, 28)

    def test_days_setting_changes_the_due_date(self) -> None:
        """With days tuned to 2, the finding is due two days after it appeared."""
        tuned = RuleSettings.tuned(rule.RULE_ID, params={"days": 2})
        assert only(evaluate(view(employee()), settings=tuned)).due_date == date(2026, 11, 21)


class TestTheFinding:
    def test_classification(self) -> None:
        """The finding is P2, owned by the org registry's owner, about the person."""
        finding = only(evaluate(view(employee())))
        assert finding.rule_id == "org.unknown_unit"
        assert finding.severity is Severity.P2
        assert finding.owner_group == "org"
        assert finding.display_name == "Per Olsen"

    def test_evidence_shows_dfo_placement_and_orgreg(self) -> None:
        """The evidence holds DFØ's unit with its timestamp and OrgReg's 'none'."""
        finding = only(evaluate(view(employee())))
        dfo = [e for e in finding.evidence if e.system == "dfo_sap"]
        assert [(e.field, e.source_timestamp) for e in dfo] == [
            ("employment org_unit_id", EMPLOYEE_STAMP)
        ]
        assert NEW in (dfo[0].value or "")
        orgreg = [e for e in finding.evidence if e.system == "orgreg"]
        assert [e.value for e in orgreg] == ["none"]

    def test_evidence_for_a_closed_unit_gives_its_dates(self) -> None:
        """For a closed unit the OrgReg evidence names the unit and its validTo."""
        finding = only(evaluate(view(employee(org_unit_id=CLOSED))))
        orgreg = [e for e in finding.evidence if e.system == "orgreg"]
        assert len(orgreg) == 1
        assert "ou 1431" in (orgreg[0].value or "")
        assert CLOSED_ON.isoformat() in (orgreg[0].value or "")
        assert orgreg[0].source_timestamp == ORGREG_STAMP

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_person_and_the_unit(self, text: str) -> None:
        """Each title and description names the person and the unit id."""
        finding = only(evaluate(view(employee())))
        assert "Per Olsen" in getattr(finding, text)
        assert NEW in getattr(finding, text)

    def test_titles_give_dfos_unit_name_when_known(self) -> None:
        """When DFØ's org unit data names the unit, the titles give the name too."""
        dfo_units = {NEW: {"org_unit_id": NEW, "name": "Senter for bioinformatikk"}}
        reference = dataclasses.replace(REFERENCE, dfo_org_units=dfo_units)
        finding = only(evaluate(view(employee(), reference=reference)))
        assert "Senter for bioinformatikk" in finding.title_nb

    def test_texts_are_translations(self) -> None:
        """The nb and en texts differ."""
        finding = only(evaluate(view(employee())))
        assert finding.title_nb != finding.title_en
        assert finding.suggested_fix_nb != finding.suggested_fix_en

    def test_evidence_function_says_when_reference_data_is_missing(self) -> None:
        """evidence(view) says OrgReg's reference data is not loaded."""
        items = rule.evidence(view(employee(), reference=ReferenceData()))
        assert any(e.system == "orgreg" and e.value == "not loaded" for e in items)


class TestRealisticRecords:
    def test_a_professor_whose_unit_has_not_reached_orgreg(self) -> None:
        """Kari Nordmann and her professorship, mapped from DFØ, sit in a unit OrgReg lacks."""
        fetched = datetime(2026, 10, 16, 5, 0, tzinfo=UTC)
        ansatt = json.loads((DATA / "dfo" / "ansatt_regular.json").read_text())
        stilling = json.loads((DATA / "dfo" / "stilling_professor.json").read_text())
        kari = map_employee(ansatt, institution="uib", secret="test-secret", fetched_at=fetched)
        professor = map_position(stilling, institution="uib", fetched_at=fetched)
        person = view(kari, professor)
        finding = only(evaluate(person))
        assert finding.subject == f"{PERSON_KEY}/unit:50001234"
        assert "Kari Nordmann" in finding.title_en
        assert "employment, position 30012345" in finding.description_en
        # endretDato 15 Oct: known by that day's end, a day's grace, appears 17 Oct, + 7 days
        assert finding.due_date == date(2026, 10, 24)
        known = dataclasses.replace(
            REFERENCE,
            orgreg_units={"1234": orgreg_unit("1234", "50001234", None, "Fysisk institutt")},
        )
        assert evaluate(view(kari, professor, reference=known)) == []


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example produces a finding with default settings."""
        person, now = rule.example()
        finding = only(list(rule.evaluate(person, now, RuleSettings())))
        assert finding.display_name == "Per Olsen"
        assert finding.severity is Severity.P2
