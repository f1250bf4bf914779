"""Tests for the rule payroll.contract_without_pay."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.clock import start_of_day
from hub.errors import ConfigurationError
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import contract_without_pay as rule
from hub.rules.settings import RuleSettings
from tests import rule_builders as build
from tests.factories import DATA
from tests.rule_builders import only

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
OCTOBER_CLOSES = start_of_day(date(2026, 11, 21))  # after the 20th of November, Oslo time
EMPLOYEE_STAMP = datetime(2026, 8, 3, 7, 0, tzinfo=UTC)
SETTINGS = RuleSettings()
PERSON_KEY = "p-7d793037a0760186574b0282"
EMPLOYEE_ID = "567890"


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee on an hourly contract for the autumn term 2026."""
    return build.employee(EMPLOYEE_ID, EMPLOYEE_STAMP, **employee_fields(**overrides))


def employee_fields(**overrides: Any) -> dict[str, Any]:
    """The fields of :func:`employee`."""
    fields: dict[str, Any] = {
        "first_name": "Nora",
        "last_name": "Berg",
        "employee_group": "1",
        "employee_subgroup": "timelønnet",
        "start_date": date(2026, 8, 15),
        "end_date": date(2026, 12, 31),
        "additional_positions": [],
    }
    return fields | overrides


def paid(period: str, amount: float = 4350.0) -> dict[str, Any]:
    """A payroll result paying hourly work for ``period`` on the 12th of the next month."""
    first = date(int(period[:4]), int(period[5:]), 1)
    paid_on = (first + timedelta(days=40)).replace(day=12)
    return build.payroll_result(
        EMPLOYEE_ID,
        period,
        f"{period}-R1",
        datetime.combine(paid_on, datetime.min.time(), tzinfo=UTC),
        amount=amount,
        paid_on=paid_on,
        lines=[
            {
                "wage_type": "1402",
                "description": "Timelønn",
                "amount": amount,
                "hours": 15.0,
                "rate": 290.0,
                "position_id": "30098765",
                "cost_centre": "143000",
                "org_unit_id": "50001430",
                "hourly": True,
            }
        ],
    )


def view(employee_record: dict[str, Any] | None, *results: dict[str, Any]) -> PersonView:
    """A person view with the employee record (if any) and payroll results."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, employee_record),
        *[(SourceKind.PAYROLL_RESULT, r) for r in results],
        key=PERSON_KEY,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = SETTINGS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(rule.evaluate(person, now, settings))


def periods(findings: list[Finding]) -> list[str]:
    """The pay periods the findings are about."""
    return [f.subject.rsplit("period:", 1)[1] for f in findings]


class TestWhenItFires:
    def test_an_unpaid_closed_period_is_found(self) -> None:
        """September, closed and unpaid while August and October were paid, is found."""
        finding = only(evaluate(view(employee(), paid("2026-08"), paid("2026-10"))))
        assert finding.subject == f"{PERSON_KEY}/period:2026-09"

    def test_no_finding_when_every_closed_period_is_paid(self) -> None:
        """With pay for August, September and October nothing is reported."""
        person = view(employee(), paid("2026-08"), paid("2026-09"), paid("2026-10"))
        assert evaluate(person) == []

    def test_any_result_for_the_period_counts_as_paid(self) -> None:
        """A result for the period, even of zero, shows payroll handled the period."""
        person = view(employee(), paid("2026-08"), paid("2026-09", 0.0), paid("2026-10"))
        assert evaluate(person) == []

    def test_no_finding_for_salaried_staff(self) -> None:
        """A monthly-paid employee (not hourly or assignment) is not this rule's concern."""
        assert evaluate(view(employee(employee_subgroup="17"))) == []

    @pytest.mark.parametrize("subgroup", ["oppdrag", "XT1", "35"])
    def test_assignment_and_overlapping_hourly_contracts_count(self, subgroup: str) -> None:
        """Assignment (oppdrag) and other hourly subgroups are checked too."""
        person = view(employee(employee_subgroup=subgroup), paid("2026-08"), paid("2026-10"))
        only(evaluate(person))

    def test_no_finding_without_an_employee(self) -> None:
        """Without a DFØ employee record there is no contract to check."""
        assert evaluate(view(None, paid("2026-08"))) == []

    def test_periods_before_the_start_are_not_checked(self) -> None:
        """A contract starting 5 October is checked only for October."""
        person = view(employee(start_date=date(2026, 10, 5)))
        assert periods(evaluate(person)) == ["2026-10"]

    def test_periods_after_the_end_are_not_checked(self) -> None:
        """A contract ending 1 September is checked for August and September only."""
        person = view(employee(end_date=date(2026, 9, 1)))
        assert periods(evaluate(person)) == ["2026-08", "2026-09"]

    def test_an_additional_position_keeps_the_contract_active(self) -> None:
        """An hourly additional position running on after the main one is checked too."""
        extra = {"position_id": "30098766", "start_date": date(2026, 10, 1), "end_date": None}
        person = view(employee(end_date=date(2026, 8, 31), additional_positions=[extra]))
        assert periods(evaluate(person)) == ["2026-08", "2026-10"]

    def test_only_the_last_three_closed_periods_by_default(self) -> None:
        """A contract unpaid since January is reported for August to October only."""
        person = view(employee(start_date=date(2026, 1, 1)))
        assert periods(evaluate(person)) == ["2026-08", "2026-09", "2026-10"]

    def test_periods_setting_changes_the_window(self) -> None:
        """Tuning periods to 1 checks only October; 0 checks nothing."""
        person = view(employee(start_date=date(2026, 1, 1)))
        one = RuleSettings.tuned(rule.RULE_ID, params={"periods": 1})
        assert periods(evaluate(person, settings=one)) == ["2026-10"]
        none = RuleSettings.tuned(rule.RULE_ID, params={"periods": 0})
        assert evaluate(person, settings=none) == []

    def test_close_day_setting_changes_which_periods_are_closed(self) -> None:
        """With close_day 25, October is not closed on 22 November: July to September are."""
        person = view(employee(start_date=date(2026, 1, 1)))
        tuned = RuleSettings.tuned(rule.RULE_ID, params={"close_day": 25})
        assert periods(evaluate(person, settings=tuned)) == ["2026-07", "2026-08", "2026-09"]

    def test_a_negative_periods_setting_is_refused(self) -> None:
        """A negative number of periods stops with a configuration error."""
        tuned = RuleSettings.tuned(rule.RULE_ID, params={"periods": -1})
        with pytest.raises(ConfigurationError, match="periods"):
            evaluate(view(employee()), settings=tuned)

    def test_evaluation_is_pure(self) -> None:
        """The same view and time give equal findings twice."""
        person = view(employee(), paid("2026-08"))
        assert evaluate(person) == evaluate(person)


class TestTiming:
    def test_october_is_not_closed_one_minute_before_the_close(self) -> None:
        """At 23:59 on 20 November (Oslo) October is still open and not reported."""
        person = view(employee(), paid("2026-08"), paid("2026-09"))
        assert evaluate(person, now=OCTOBER_CLOSES - timedelta(minutes=1)) == []

    def test_october_is_reported_when_it_closes(self) -> None:
        """At midnight starting 21 November (Oslo) October is closed and reported."""
        person = view(employee(), paid("2026-08"), paid("2026-09"))
        assert periods(evaluate(person, now=OCTOBER_CLOSES)) == ["2026-10"]

    def test_the_close_follows_the_oslo_calendar(self) -> None:
        """At 23:30 UTC on 20 November it is already 21 November in Oslo: October is closed."""
        person = view(employee(), paid("2026-08"), paid("2026-09"))
        now = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
        assert periods(evaluate(person, now=now)) == ["2026-10"]

    def test_next_check_is_the_next_close(self) -> None:
        """Just before October closes, next_check returns the moment it closes."""
        person = view(employee())
        now = OCTOBER_CLOSES - timedelta(minutes=1)
        assert rule.next_check(person, now, SETTINGS) == OCTOBER_CLOSES

    def test_next_check_after_a_close_is_the_following_close(self) -> None:
        """After October closed, the next check is when November closes (21 December)."""
        person = view(employee())
        assert rule.next_check(person, NOW, SETTINGS) == start_of_day(date(2026, 12, 21))

    def test_next_check_is_none_for_salaried_staff(self) -> None:
        """For a monthly-paid employee no date changes the answer."""
        assert rule.next_check(view(employee(employee_subgroup="17")), NOW, SETTINGS) is None

    def test_next_check_is_none_once_the_contract_is_out_of_the_window(self) -> None:
        """A contract that ended before the oldest checked period needs no more checks."""
        ended = view(employee(start_date=date(2026, 1, 1), end_date=date(2026, 7, 31)))
        assert rule.next_check(ended, NOW, SETTINGS) is None
        recent = view(employee(start_date=date(2026, 1, 1), end_date=date(2026, 8, 1)))
        assert rule.next_check(recent, NOW, SETTINGS) == start_of_day(date(2026, 12, 21))

    def test_grace_setting_delays_the_close(self) -> None:
        """With an hour's grace October counts as closed an hour after midnight."""
        person = view(employee(), paid("2026-08"), paid("2026-09"))
        tuned = RuleSettings.tuned(rule.RULE_ID, grace_minutes=60)
        assert evaluate(person, now=OCTOBER_CLOSES, settings=tuned) == []
        later = OCTOBER_CLOSES + timedelta(hours=1)
        assert periods(evaluate(person, now=later, settings=tuned)) == ["2026-10"]
        assert rule.next_check(person, OCTOBER_CLOSES, tuned) == later


class TestSettling:
    """DFØ HR and DFØ payroll are separate feeds, read in no fixed order: a contract the
    hub has just seen waits ``settle_hours`` for the period's payroll result."""

    def test_a_fresh_contract_waits_a_day(self) -> None:
        """A contract changed an hour ago holds its unpaid period back until a day after."""
        stamp = NOW - timedelta(hours=1)
        person = view(build.employee(EMPLOYEE_ID, stamp, **employee_fields()), paid("2026-08"))
        assert evaluate(person) == []
        assert rule.next_check(person, NOW, SETTINGS) == stamp + timedelta(hours=24)
        assert periods(evaluate(person, now=stamp + timedelta(hours=24))) == ["2026-09", "2026-10"]

    def test_settle_hours_is_a_setting(self) -> None:
        """With settle_hours 0 a contract seen a moment ago is checked at once."""
        stamp = NOW - timedelta(minutes=1)
        person = view(build.employee(EMPLOYEE_ID, stamp, **employee_fields()), paid("2026-08"))
        tuned = RuleSettings.tuned(rule.RULE_ID, params={"settle_hours": 0})
        assert periods(evaluate(person, settings=tuned)) == ["2026-09", "2026-10"]

    def test_a_negative_settle_is_refused(self) -> None:
        tuned = RuleSettings.tuned(rule.RULE_ID, params={"settle_hours": -1})
        with pytest.raises(ConfigurationError, match="settle_hours"):
            evaluate(view(employee()), settings=tuned)

    def test_an_open_task_is_not_held_back_by_a_newer_contract(self) -> None:
        """A new version of the contract does not resolve the open task for September."""
        stamp = NOW - timedelta(hours=1)
        subject = f"{PERSON_KEY}/period:2026-09"
        task = {"rule_id": rule.RULE_ID, "subject": subject, "state": "OPEN"}
        person = build.person(
            (SourceKind.DFO_EMPLOYEE, build.employee(EMPLOYEE_ID, stamp, **employee_fields())),
            (SourceKind.PAYROLL_RESULT, paid("2026-08")),
            (SourceKind.PAYROLL_RESULT, paid("2026-10")),
            key=PERSON_KEY,
            tasks={"t": task},
        )
        assert periods(evaluate(person)) == ["2026-09"]


class TestDueDate:
    def test_due_at_the_cutoff_after_the_close(self) -> None:
        """September closes after 20 October and is due at the cut-off on 10 November."""
        finding = only(evaluate(view(employee(), paid("2026-08"), paid("2026-10"))))
        assert finding.due_date == date(2026, 11, 10)

    def test_october_is_due_in_december(self) -> None:
        """October closes after 20 November and is due on 10 December."""
        person = view(employee(), paid("2026-08"), paid("2026-09"))
        assert only(evaluate(person)).due_date == date(2026, 12, 10)

    def test_cutoff_day_setting_changes_the_due_date(self) -> None:
        """With the cut-off on the 25th, September is due on 25 October."""
        tuned = RuleSettings.tuned(rule.RULE_ID, params={"cutoff_day": 25})
        person = view(employee(), paid("2026-08"), paid("2026-10"))
        assert only(evaluate(person, settings=tuned)).due_date == date(2026, 10, 25)


class TestTheFinding:
    def test_classification(self) -> None:
        """The finding is P1, owned by HR payroll, about the person and the period."""
        finding = only(evaluate(view(employee(), paid("2026-08"), paid("2026-10"))))
        assert finding.rule_id == "payroll.contract_without_pay"
        assert finding.severity is Severity.P1
        assert finding.owner_group == "hr_payroll"
        assert finding.display_name == "Nora Berg"

    def test_evidence_shows_the_contract_and_the_missing_pay(self) -> None:
        """The evidence holds DFØ's subgroup and dates, and says no pay exists for the period."""
        finding = only(evaluate(view(employee(), paid("2026-08"), paid("2026-10"))))
        by_field = {e.field: e for e in finding.evidence}
        assert by_field["employee_subgroup"].value == "timelønnet"
        assert by_field["employee_subgroup"].source_timestamp == EMPLOYEE_STAMP
        assert by_field["start_date"].value == "2026-08-15"
        assert by_field["payroll results for 2026-09"].value == "none"

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_person_and_the_period(self, text: str) -> None:
        """Each title and description names the person and the pay period."""
        finding = only(evaluate(view(employee(), paid("2026-08"), paid("2026-10"))))
        assert "Nora Berg" in getattr(finding, text)
        assert "2026-09" in getattr(finding, text)

    def test_texts_are_translations(self) -> None:
        """nb and en texts differ and the description gives the close date."""
        finding = only(evaluate(view(employee(), paid("2026-08"), paid("2026-10"))))
        assert finding.description_nb != finding.description_en
        assert finding.suggested_fix_nb != finding.suggested_fix_en
        assert "2026-10-20" in finding.description_nb

    def test_evidence_function_says_when_there_is_no_pay_at_all(self) -> None:
        """evidence(view) says 'none' when the person has no payroll results."""
        items = rule.evidence(view(employee()))
        assert any(e.system == "payroll" and e.value == "none" for e in items)


class TestRealisticRecords:
    def test_an_hourly_contract_mapped_from_dfo(self) -> None:
        """An hourly contract from DFØ's native format, paid in August only, is found twice."""
        body: dict[str, Any] = json.loads((DATA / "dfo" / "ansatt_regular.json").read_text())
        body["ansatt"][0].update(
            medarbeiderundergruppe="timelønnet",
            startdato="2026-08-15",
            sluttdato="2026-12-31",
            tilleggsstilling=[],
            lederflagg=False,
            tittel="Timelærer",
        )
        kari = map_employee(
            body,
            institution="uib",
            secret="test-secret",
            fetched_at=datetime(2026, 8, 16, 5, 0, tzinfo=UTC),
        )
        august = paid("2026-08")
        august.update(employee_id="123456", source_id="123456/2026-08/2026-08-R1")
        findings = evaluate(view(kari, august))
        assert periods(findings) == ["2026-09", "2026-10"]
        assert all("Kari Nordmann" in f.title_en for f in findings)


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example produces a finding with default settings."""
        person, now = rule.example()
        finding = only(list(rule.evaluate(person, now, RuleSettings())))
        assert finding.display_name == "Nora Berg"
        assert finding.subject.endswith("period:2026-09")

    def test_closed_periods_newest_first(self) -> None:
        """closed_periods lists the last closed periods' first days, newest first."""
        assert rule.closed_periods(NOW, 20, 2) == [date(2026, 10, 1), date(2026, 9, 1)]
