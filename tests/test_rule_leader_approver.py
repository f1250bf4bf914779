"""Tests for the rule finance.leader_without_approver."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.clock import start_of_day
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import leader_approver as rule
from hub.rules.settings import RuleSettings
from tests import rule_builders as build
from tests.factories import DATA
from tests.rule_builders import only

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 22)
EMPLOYEE_STAMP = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
ROLE_STAMP = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)
SETTINGS = RuleSettings()
PERSON_KEY = "p-4a8a08f09d37b73795649038"
EMPLOYEE_ID = "890123"


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee flagged as head of unit (lederflagg), changed on 1 November."""
    fields: dict[str, Any] = {
        "first_name": "Anne",
        "last_name": "Dahl",
        "start_date": date(2012, 8, 1),
        "end_date": None,
        "head_of_unit": True,
        "org_unit_id": "50001430",
        "cost_centre": "143000",
        "changed_date": date(2026, 11, 1),
        "additional_positions": [],
    }
    return build.employee(EMPLOYEE_ID, EMPLOYEE_STAMP, **(fields | overrides))


def role(assignment: str = "a-1", **overrides: Any) -> dict[str, Any]:
    """A Unit4 cost approver role with budget authority (BDM) for cost centre 143000."""
    record: dict[str, Any] = {
        "institution": "uio",
        "source_system": "unit4",
        "source_id": assignment,
        "source_timestamp": ROLE_STAMP,
        "assignment_id": assignment,
        "resource_id": EMPLOYEE_ID,
        "role": "kostnadsgodkjenner",
        "has_budget_authority": True,
        "cost_centre": "143000",
        "valid_from": date(2020, 1, 1),
        "valid_to": None,
    }
    record.update(overrides)
    return record


def view(employee_record: dict[str, Any] | None, *roles: dict[str, Any]) -> PersonView:
    """A person view with the employee record (if any) and Unit4 approver roles."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, employee_record),
        *[(SourceKind.UNIT4_APPROVER_ROLE, r) for r in roles],
        key=PERSON_KEY,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = SETTINGS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(rule.evaluate(person, now, settings))


class TestHeadWithoutRole:
    def test_a_head_without_any_role_is_found(self) -> None:
        """A head of unit with no Unit4 approver role is found."""
        finding = only(evaluate(view(employee())))
        assert finding.subject == f"{PERSON_KEY}/head_of_unit"

    @pytest.mark.parametrize("name", ["kostnadsgodkjenner", "attestant", " Kostnadsgodkjenner "])
    def test_a_role_with_budget_authority_is_enough(self, name: str) -> None:
        """A cost approver or attestant role with BDM valid today satisfies the rule."""
        assert evaluate(view(employee(), role(role=name))) == []

    def test_a_role_without_budget_authority_is_not_enough(self) -> None:
        """An attestant role without BDM does not give a leader budget authority."""
        only(evaluate(view(employee(), role(role="attestant", has_budget_authority=False))))

    def test_another_role_with_budget_authority_is_not_enough(self) -> None:
        """A Unit4 role other than cost approver or attestant does not count."""
        only(evaluate(view(employee(), role(role="innkjøper"))))

    def test_an_expired_role_does_not_count(self) -> None:
        """A role that ended two days ago is found, due the day after it ended."""
        finding = only(evaluate(view(employee(), role(valid_to=date(2026, 11, 20)))))
        assert finding.due_date == date(2026, 11, 21)

    def test_a_future_role_does_not_move_the_due_date(self) -> None:
        """A BDM role that starts next year and ends in 2030 leaves the due date on DFØ's date."""
        future = role(valid_from=date(2027, 1, 1), valid_to=date(2030, 12, 31))
        finding = only(evaluate(view(employee(), future)))
        assert finding.due_date == date(2026, 11, 1)

    def test_a_role_ending_today_still_counts(self) -> None:
        """A role valid through today is valid; next_check is tomorrow's start."""
        person = view(employee(), role(valid_to=TODAY))
        assert evaluate(person) == []
        assert rule.next_check(person, NOW, SETTINGS) == start_of_day(TODAY + timedelta(days=1))

    def test_a_role_starting_tomorrow_does_not_count_yet(self) -> None:
        """A role valid from tomorrow leaves today's finding; next_check is its start."""
        person = view(employee(), role(valid_from=TODAY + timedelta(days=1)))
        only(evaluate(person))
        assert rule.next_check(person, NOW, SETTINGS) == start_of_day(TODAY + timedelta(days=1))

    def test_no_finding_for_staff_who_are_not_heads(self) -> None:
        """Without the leader flag, no approver role is required."""
        assert evaluate(view(employee(head_of_unit=False))) == []

    def test_no_finding_for_a_head_who_has_left(self) -> None:
        """A head whose employment ended has no need of a role."""
        assert evaluate(view(employee(end_date=date(2026, 11, 1)))) == []

    def test_no_finding_before_a_new_head_starts(self) -> None:
        """A head starting in three days is not checked yet with no lead days."""
        assert evaluate(view(employee(start_date=TODAY + timedelta(days=3)))) == []

    def test_lead_days_setting_changes_the_outcome(self) -> None:
        """With 3 lead days a head starting in three days is found, due on the start date."""
        start = TODAY + timedelta(days=3)
        tuned = RuleSettings.tuned(rule.RULE_ID, lead_days=3)
        finding = only(evaluate(view(employee(start_date=start)), settings=tuned))
        assert finding.due_date == start

    def test_due_on_the_dfo_records_date(self) -> None:
        """A long-standing head made leader on 1 November is due on 1 November."""
        assert only(evaluate(view(employee()))).due_date == date(2026, 11, 1)

    def test_due_on_the_record_timestamps_date_without_endretdato(self) -> None:
        """Without endretDato the DFØ record's timestamp gives the date."""
        finding = only(evaluate(view(employee(changed_date=None))))
        assert finding.due_date == date(2026, 11, 2)


class TestHeadTiming:
    def test_no_finding_one_minute_before_the_grace_ends(self) -> None:
        """A leader flag known for a minute less than the grace (a day) is not reported."""
        fresh = employee(changed_date=None, source_timestamp=NOW - timedelta(days=1, minutes=-1))
        assert evaluate(view(fresh)) == []

    def test_finding_when_the_grace_ends(self) -> None:
        """At exactly the DFØ record's timestamp plus a day, the finding appears."""
        fresh = employee(changed_date=None, source_timestamp=NOW - timedelta(days=1))
        only(evaluate(view(fresh)))

    def test_next_check_is_the_end_of_the_grace(self) -> None:
        """Within the grace, next_check returns its end."""
        stamp = NOW - timedelta(hours=3)
        person = view(employee(changed_date=None, source_timestamp=stamp))
        assert rule.next_check(person, NOW, SETTINGS) == stamp + timedelta(days=1)

    def test_grace_setting_changes_the_outcome(self) -> None:
        """With the grace tuned to 0 minutes a fresh leader flag is reported at once."""
        person = view(employee(changed_date=None, source_timestamp=NOW - timedelta(minutes=1)))
        assert evaluate(person) == []
        only(evaluate(person, settings=RuleSettings.tuned(rule.RULE_ID, grace_minutes=0)))


class TestLeaverWithRole:
    END = date(2026, 11, 20)
    APPEARS = start_of_day(date(2026, 11, 22))  # the end of the end date plus a day's grace

    def leaver(self, **overrides: Any) -> dict[str, Any]:
        """Anne Dahl, no longer head, whose employment ended on 20 November."""
        return employee(end_date=self.END, head_of_unit=False, **overrides)

    def test_a_leaver_keeping_a_role_is_found(self) -> None:
        """A role still valid two days after the employment ended is found, per role."""
        finding = only(evaluate(view(self.leaver(), role("a-7"))))
        assert finding.subject == f"{PERSON_KEY}/role:a-7"
        assert finding.due_date == date(2026, 11, 22)
        assert "2026-11-20" in finding.description_nb

    def test_no_finding_one_minute_before_the_grace_ends(self) -> None:
        """A minute before the day's grace after the end date runs out, nothing is reported."""
        person = view(self.leaver(), role())
        assert evaluate(person, now=self.APPEARS - timedelta(minutes=1)) == []

    def test_finding_when_the_grace_ends(self) -> None:
        """At the end of the grace the finding appears."""
        only(evaluate(view(self.leaver(), role()), now=self.APPEARS))

    def test_next_check_is_the_end_of_the_grace(self) -> None:
        """On the day after the end, next_check returns the end of the grace."""
        person = view(self.leaver(), role())
        now = start_of_day(date(2026, 11, 21)) + timedelta(hours=10)
        assert rule.next_check(person, now, SETTINGS) == self.APPEARS

    def test_a_role_ended_within_the_grace_is_fine(self) -> None:
        """A role ending the day after the employment is within the grace."""
        assert evaluate(view(self.leaver(), role(valid_to=self.END + timedelta(days=1)))) == []

    def test_grace_setting_changes_the_outcome(self) -> None:
        """With the grace tuned to 0 the role is reported from the day after the end date."""
        person = view(self.leaver(), role())
        now = start_of_day(date(2026, 11, 21))
        assert evaluate(person, now=now) == []
        tuned = RuleSettings.tuned(rule.RULE_ID, grace_minutes=0)
        finding = only(evaluate(person, now=now, settings=tuned))
        assert finding.due_date == date(2026, 11, 21)

    def test_an_attestant_without_budget_authority_is_still_an_approver(self) -> None:
        """Any attestant role lets a leaver approve spending, BDM or not."""
        only(evaluate(view(self.leaver(), role(role="attestant", has_budget_authority=False))))

    def test_other_roles_are_not_reported(self) -> None:
        """A Unit4 role that approves nothing is not this rule's concern."""
        person = view(self.leaver(), role(role="innkjøper", has_budget_authority=False))
        assert evaluate(person) == []

    def test_each_role_gets_its_own_finding(self) -> None:
        """Two roles still valid give two findings told apart by the assignment id."""
        findings = evaluate(view(self.leaver(), role("a-1"), role("a-2", role="attestant")))
        assert [f.subject for f in findings] == [
            f"{PERSON_KEY}/role:a-1",
            f"{PERSON_KEY}/role:a-2",
        ]

    def test_an_active_additional_position_is_still_employment(self) -> None:
        """With an additional position still running, the person has not left."""
        extra = {"position_id": "30012399", "start_date": date(2024, 1, 1), "end_date": None}
        assert evaluate(view(self.leaver(additional_positions=[extra]), role())) == []

    def test_no_finding_without_an_employee_record(self) -> None:
        """Without DFØ's record there is no end date to hold the role against."""
        assert evaluate(view(None, role())) == []
        assert rule.next_check(view(None, role()), NOW, SETTINGS) is None

    def test_evaluation_is_pure(self) -> None:
        """The same view and time give equal findings twice."""
        person = view(self.leaver(), role("a-1"), role("a-2"))
        assert evaluate(person) == evaluate(person)


class TestTheFinding:
    def test_classification(self) -> None:
        """The finding is P1, owned by finance, about the person."""
        finding = only(evaluate(view(employee())))
        assert finding.rule_id == "finance.leader_without_approver"
        assert finding.severity is Severity.P1
        assert finding.owner_group == "finance"
        assert finding.display_name == "Anne Dahl"

    def test_evidence_shows_the_flag_and_the_roles(self) -> None:
        """The evidence holds DFØ's leader flag and the Unit4 role that lacks BDM."""
        person = view(employee(), role(role="attestant", has_budget_authority=False))
        finding = only(evaluate(person))
        flag = [e for e in finding.evidence if e.field == "head_of_unit"]
        assert [(e.system, e.value, e.source_timestamp) for e in flag] == [
            ("dfo_sap", "True", EMPLOYEE_STAMP)
        ]
        roles = [e for e in finding.evidence if e.system == "unit4"]
        assert len(roles) == 1
        assert "budget authority no" in (roles[0].value or "")
        assert roles[0].source_timestamp == ROLE_STAMP

    def test_evidence_says_none_without_roles(self) -> None:
        """Without Unit4 roles the evidence says so."""
        finding = only(evaluate(view(employee())))
        assert [e.value for e in finding.evidence if e.system == "unit4"] == ["none"]

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_person_and_the_unit(self, text: str) -> None:
        """Each title and description names the person and the unit they lead."""
        finding = only(evaluate(view(employee())))
        assert "Anne Dahl" in getattr(finding, text)
        assert "50001430" in getattr(finding, text)

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_leaver_texts_name_the_person_and_the_role(self, text: str) -> None:
        """Each leaver text names the person, the role and its cost centre."""
        person = view(employee(end_date=date(2026, 11, 1)), role(role="attestant"))
        finding = only(evaluate(person))
        value = getattr(finding, text)
        assert "Anne Dahl" in value
        assert "attestant" in value
        assert "143000" in value

    def test_texts_are_translations(self) -> None:
        """The nb and en texts differ."""
        finding = only(evaluate(view(employee())))
        assert finding.title_nb != finding.title_en
        assert finding.description_nb != finding.description_en
        assert finding.suggested_fix_nb != finding.suggested_fix_en


class TestRealisticRecords:
    def kari(self, **changes: Any) -> dict[str, Any]:
        """Kari Nordmann (lederflagg true) from DFØ's native format, with changes."""
        body: dict[str, Any] = json.loads((DATA / "dfo" / "ansatt_regular.json").read_text())
        body["ansatt"][0].update(changes)
        return map_employee(
            body,
            institution="uib",
            secret="test-secret",
            fetched_at=datetime(2026, 10, 16, 5, 0, tzinfo=UTC),
        )

    def unit4_role(self, role_name: str, bdm: bool) -> dict[str, Any]:
        """Kari's role in Unit4, keyed by resource, role and cost centre."""
        return role(
            f"123456-{role_name}-123400",
            resource_id="123456",
            role=role_name,
            has_budget_authority=bdm,
            cost_centre="123400",
            valid_from=date(2015, 8, 1),
        )

    def test_a_head_with_only_an_attestant_role_without_bdm(self) -> None:
        """Kari, head of unit 50001234 since 2015, lacks BDM: due on DFØ's endretDato."""
        finding = only(evaluate(view(self.kari(), self.unit4_role("attestant", False))))
        assert finding.due_date == date(2026, 10, 15)
        assert "Kari Nordmann" in finding.title_nb
        assert "50001234" in finding.title_nb

    def test_a_head_with_a_bdm_role_is_fine(self) -> None:
        """Kari with kostnadsgodkjenner and BDM in Unit4 gives no finding."""
        assert evaluate(view(self.kari(), self.unit4_role("kostnadsgodkjenner", True))) == []

    def test_a_head_who_left_with_her_role(self) -> None:
        """Kari left on 31 October with all positions; her BDM role is still valid."""
        kari = self.kari(
            sluttdato="2026-10-31",
            lederflagg=False,
            tilleggsstilling=[
                {"stillingId": "30012399", "startdato": "2024-01-01", "sluttdato": "2026-10-31"}
            ],
        )
        finding = only(evaluate(view(kari, self.unit4_role("kostnadsgodkjenner", True))))
        assert finding.subject == f"{PERSON_KEY}/role:123456-kostnadsgodkjenner-123400"
        assert finding.due_date == date(2026, 11, 2)


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example produces a finding with default settings."""
        person, now = rule.example()
        finding = only(list(rule.evaluate(person, now, RuleSettings())))
        assert finding.display_name == "Anne Dahl"
        assert finding.subject.endswith("/head_of_unit")
