"""Tests for the rule payroll.pay_without_contract."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.errors import ConfigurationError
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import pay_without_contract as rule
from hub.rules import payroll_periods
from hub.rules.settings import RuleSettings
from tests import rule_builders as build
from tests.factories import DATA
from tests.rule_builders import NOW, only

RUN_STAMP = datetime(2026, 10, 9, 16, 0, tzinfo=UTC)
EMPLOYEE_STAMP = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
SETTINGS = RuleSettings()
PERSON_KEY = "p-5d41402abc4b2a76b9719d91"
EMPLOYEE_ID = "456789"


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee record whose employment ended on 31 August 2026."""
    fields: dict[str, Any] = {
        "first_name": "Ola",
        "last_name": "Hansen",
        "employee_group": "1",
        "employee_subgroup": "17",
        "start_date": date(2019, 3, 1),
        "end_date": date(2026, 8, 31),
        "additional_positions": [],
        "national_id_pseudonym": "pn-secret-pseudonym-value",
    }
    return build.employee(EMPLOYEE_ID, EMPLOYEE_STAMP, **(fields | overrides))


def line(amount: float, *, hourly: bool = False, wage_type: str = "1010") -> dict[str, Any]:
    """A payroll line charged to the Department of Biosciences."""
    return {
        "wage_type": wage_type,
        "description": "Timelønn" if hourly else "Fastlønn",
        "amount": amount,
        "hours": amount / 290.0 if hourly else None,
        "rate": 290.0 if hourly else None,
        "position_id": "30098765",
        "cost_centre": "143000",
        "org_unit_id": "50001430",
        "hourly": hourly,
    }


def result(
    period: str = "2026-10",
    amount: float = 38250.0,
    *,
    paid_on: date | None = date(2026, 10, 12),
    stamp: datetime = RUN_STAMP,
    run_id: str | None = None,
    run_type: str = "regular",
    hourly: bool = False,
) -> dict[str, Any]:
    """A payroll result paying ``amount`` for ``period`` in one line."""
    return build.payroll_result(
        EMPLOYEE_ID,
        period,
        run_id or f"{period}-R1",
        stamp,
        amount=amount,
        lines=[line(amount, hourly=hourly)],
        paid_on=paid_on,
        run_type=run_type,
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


class TestWhenItFires:
    def test_pay_after_the_employment_ended(self) -> None:
        """Pay for October after an employment that ended in August is found."""
        finding = only(evaluate(view(employee(), result("2026-10"))))
        assert finding.subject == f"{PERSON_KEY}/period:2026-10"

    def test_no_finding_when_the_employment_covers_one_day_of_the_period(self) -> None:
        """An employment ending on the period's first day covers the period."""
        person = view(employee(end_date=date(2026, 10, 1)), result("2026-10"))
        assert evaluate(person) == []

    def test_pay_before_the_start_date(self) -> None:
        """Pay for a period wholly before the start date is found."""
        person = view(employee(start_date=date(2026, 11, 1), end_date=None), result("2026-10"))
        only(evaluate(person))

    def test_no_finding_when_the_start_is_the_last_day_of_the_period(self) -> None:
        """A start on the period's last day makes the employment active in the period."""
        person = view(employee(start_date=date(2026, 10, 31), end_date=None), result("2026-10"))
        assert evaluate(person) == []

    def test_an_additional_position_covers_the_period(self) -> None:
        """An additional position active in the period counts as an employment."""
        extra = {"position_id": "30012399", "start_date": date(2026, 9, 1), "end_date": None}
        person = view(employee(additional_positions=[extra]), result("2026-10"))
        assert evaluate(person) == []

    def test_an_additional_position_that_ended_does_not_cover(self) -> None:
        """An additional position that ended before the period does not count."""
        extra = {
            "position_id": "30012399",
            "start_date": date(2026, 1, 1),
            "end_date": date(2026, 9, 30),
        }
        only(evaluate(view(employee(additional_positions=[extra]), result("2026-10"))))

    def test_an_employment_without_start_date_covers_nothing(self) -> None:
        """An employment with no start date in DFØ does not count as active."""
        only(evaluate(view(employee(start_date=None, end_date=None), result("2026-10"))))

    def test_pay_to_a_person_without_a_dfo_employee_record(self) -> None:
        """Pay to someone DFØ HR has no employee record for is found, and says so."""
        finding = only(evaluate(view(None, result("2026-10"))))
        assert "ingen ansattpost" in finding.description_nb
        assert "no employee record" in finding.description_en
        assert EMPLOYEE_ID in finding.title_nb
        assert any(e.field == "employee" and e.value == "none" for e in finding.evidence)

    @pytest.mark.parametrize("amount", [0.0, -1200.0])
    def test_no_finding_without_positive_pay(self, amount: float) -> None:
        """A result of zero or a deduction pays nothing and is not reported."""
        assert evaluate(view(employee(), result("2026-10", amount))) == []

    def test_a_correction_that_reverses_the_pay_resolves(self) -> None:
        """A correction run bringing the period's net pay to zero leaves nothing to report."""
        reversal = result("2026-10", -38250.0, run_id="2026-10-K1", run_type="correction")
        assert evaluate(view(employee(), result("2026-10"), reversal)) == []

    def test_a_partial_correction_leaves_the_net_pay_in_the_finding(self) -> None:
        """With part of the pay reversed, the finding names the net amount still paid."""
        reversal = result("2026-10", -30000.0, run_id="2026-10-K1", run_type="correction")
        finding = only(evaluate(view(employee(), result("2026-10"), reversal)))
        assert "8 250,00 kr" in finding.description_nb
        assert "NOK 8,250.00" in finding.description_en

    def test_one_finding_per_period(self) -> None:
        """Pay in two periods after the end gives two findings, told apart by period."""
        findings = evaluate(view(employee(), result("2026-09"), result("2026-10")))
        assert [f.subject for f in findings] == [
            f"{PERSON_KEY}/period:2026-09",
            f"{PERSON_KEY}/period:2026-10",
        ]

    def test_results_with_a_malformed_period_are_ignored(self) -> None:
        """A result whose period is not YYYY-MM cannot be judged and is left out."""
        assert evaluate(view(employee(), result("2026-13"), result("okt 2026"))) == []

    def test_hourly_pay_in_the_period_after_the_contract_is_late_pay(self) -> None:
        """Hours paid in the period right after an hourly contract ended are not reported."""
        person = view(employee(end_date=date(2026, 9, 30)), result("2026-10", 4350.0, hourly=True))
        assert evaluate(person) == []

    def test_hourly_pay_two_periods_after_the_contract_is_found(self) -> None:
        """Hourly pay two periods after the contract ended is beyond the late-pay allowance."""
        person = view(employee(end_date=date(2026, 8, 31)), result("2026-10", 4350.0, hourly=True))
        only(evaluate(person))

    def test_fixed_pay_gets_no_late_pay_allowance(self) -> None:
        """Monthly salary in the period after the employment ended is reported."""
        person = view(employee(end_date=date(2026, 9, 30)), result("2026-10"))
        only(evaluate(person))

    def test_late_pay_periods_setting_changes_the_outcome(self) -> None:
        """Tuning late_pay_periods to 0 reports hourly pay after the contract; 2 allows more."""
        person = view(employee(end_date=date(2026, 9, 30)), result("2026-10", 4350.0, hourly=True))
        strict = RuleSettings.tuned(rule.RULE_ID, params={"late_pay_periods": 0})
        only(evaluate(person, settings=strict))
        older = view(employee(end_date=date(2026, 8, 31)), result("2026-10", 4350.0, hourly=True))
        lenient = RuleSettings.tuned(rule.RULE_ID, params={"late_pay_periods": 2})
        assert evaluate(older, settings=lenient) == []

    def test_evaluation_is_pure(self) -> None:
        """The same view and time give equal findings twice."""
        person = view(employee(), result("2026-09"), result("2026-10"))
        assert evaluate(person) == evaluate(person)


class TestTiming:
    def test_no_finding_one_minute_before_the_grace_ends(self) -> None:
        """A result known for a minute less than the grace (24 h) is not reported yet."""
        person = view(employee(), result("2026-10"))
        assert evaluate(person, now=RUN_STAMP + timedelta(hours=24, minutes=-1)) == []

    def test_finding_when_the_grace_ends(self) -> None:
        """At exactly the result's timestamp plus the grace, the finding appears."""
        person = view(employee(), result("2026-10"))
        only(evaluate(person, now=RUN_STAMP + timedelta(hours=24)))

    def test_next_check_is_the_end_of_the_grace(self) -> None:
        """Before the grace ends, next_check returns the moment it ends."""
        person = view(employee(), result("2026-10"))
        now = RUN_STAMP + timedelta(hours=1)
        assert rule.next_check(person, now, SETTINGS) == RUN_STAMP + timedelta(hours=24)

    def test_next_check_is_none_once_all_grace_has_passed(self) -> None:
        """With every result past its grace, no date can change the answer."""
        assert rule.next_check(view(employee(), result("2026-10")), NOW, SETTINGS) is None

    def test_grace_setting_changes_the_outcome(self) -> None:
        """With the grace tuned to zero minutes a fresh result is reported at once."""
        person = view(employee(), result("2026-10"))
        now = RUN_STAMP + timedelta(minutes=5)
        assert evaluate(person, now=now) == []
        tuned = RuleSettings.tuned(rule.RULE_ID, grace_minutes=0)
        only(evaluate(person, now=now, settings=tuned))

    def test_a_settled_positive_result_is_enough(self) -> None:
        """A later extra run still within its grace does not hide an older settled payment."""
        extra = result("2026-10", 1500.0, run_id="2026-10-E1", stamp=NOW - timedelta(hours=1))
        only(evaluate(view(employee(), result("2026-10"), extra)))


class TestDueDate:
    @pytest.mark.parametrize(
        ("paid_on", "due"),
        [
            (date(2026, 10, 12), date(2026, 11, 10)),
            (date(2026, 10, 9), date(2026, 10, 10)),
            (date(2026, 10, 10), date(2026, 11, 10)),
            (date(2026, 12, 15), date(2027, 1, 10)),
            (None, date(2026, 11, 10)),
        ],
    )
    def test_due_at_the_next_cutoff_after_payment(self, paid_on: date | None, due: date) -> None:
        """Due at the first cut-off (the 10th) after the payment date, or the period's end."""
        finding = only(evaluate(view(employee(), result("2026-10", paid_on=paid_on))))
        assert finding.due_date == due

    def test_the_earliest_payment_sets_the_due_date(self) -> None:
        """With two payments in a period, the earlier one decides the cut-off."""
        extra = result("2026-10", 900.0, run_id="2026-10-E1", paid_on=date(2026, 10, 20))
        early = result("2026-10", paid_on=date(2026, 10, 5))
        finding = only(evaluate(view(employee(), extra, early)))
        assert finding.due_date == date(2026, 10, 10)

    def test_cutoff_day_setting_changes_the_due_date(self) -> None:
        """Tuning cutoff_day to 25 moves the due date to the 25th."""
        tuned = RuleSettings.tuned(rule.RULE_ID, params={"cutoff_day": 25})
        finding = only(evaluate(view(employee(), result("2026-10")), settings=tuned))
        assert finding.due_date == date(2026, 10, 25)

    def test_a_cutoff_day_past_the_month_end_is_the_last_day(self) -> None:
        """A cut-off on the 31st falls on 28 February in February."""
        assert payroll_periods.next_cutoff(date(2027, 2, 5), 31) == date(2027, 2, 28)
        assert payroll_periods.next_cutoff(date(2027, 2, 28), 31) == date(2027, 3, 31)

    @pytest.mark.parametrize("bad", [0, 32])
    def test_a_cutoff_day_outside_the_month_is_refused(self, bad: int) -> None:
        """A cut-off day that is no day of a month stops with a configuration error."""
        tuned = RuleSettings.tuned(rule.RULE_ID, params={"cutoff_day": bad})
        with pytest.raises(ConfigurationError, match="cutoff_day"):
            evaluate(view(employee(), result("2026-10")), settings=tuned)


class TestTheFinding:
    def test_classification(self) -> None:
        """The finding is P1, owned by HR payroll, about the person and the period."""
        finding = only(evaluate(view(employee(), result("2026-10"))))
        assert finding.rule_id == "payroll.pay_without_contract"
        assert finding.severity is Severity.P1
        assert finding.owner_group == "hr_payroll"
        assert finding.subject == f"{PERSON_KEY}/period:2026-10"
        assert finding.display_name == "Ola Hansen"

    def test_evidence_shows_dfo_dates_and_the_payment(self) -> None:
        """The evidence holds DFØ's end date and the period's payroll result with its time."""
        findings = evaluate(view(employee(), result("2026-09"), result("2026-10")))
        assert len(findings) == 2
        finding = findings[1]
        end = [e for e in finding.evidence if e.field == "end_date"]
        assert [(e.system, e.value, e.source_timestamp) for e in end] == [
            ("dfo_sap", "2026-08-31", EMPLOYEE_STAMP)
        ]
        pay = [e for e in finding.evidence if e.system == "payroll"]
        assert len(pay) == 1
        assert "2026-10" in pay[0].field
        assert "38250.00" in (pay[0].value or "")
        assert "2026-10-12" in (pay[0].value or "")
        assert pay[0].source_timestamp == RUN_STAMP

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_person_and_the_period(self, text: str) -> None:
        """Each title and description names the person and the pay period."""
        finding = only(evaluate(view(employee(), result("2026-10"))))
        assert "Ola Hansen" in getattr(finding, text)
        assert "2026-10" in getattr(finding, text)

    def test_texts_are_translations_and_leak_no_pseudonym(self) -> None:
        """nb and en texts differ, and no text carries the national ID pseudonym."""
        finding = only(evaluate(view(employee(), result("2026-10"))))
        assert finding.title_nb != finding.title_en
        assert finding.suggested_fix_nb != finding.suggested_fix_en
        texts = " ".join(
            [finding.title_nb, finding.description_nb, finding.description_en, finding.title_en]
        )
        assert "pn-secret" not in texts
        assert "2026-08-31" in finding.description_nb

    def test_evidence_function_lists_all_results(self) -> None:
        """evidence(view) lists every payroll result, not only those in findings."""
        items = rule.evidence(view(employee(), result("2026-08"), result("2026-10")))
        assert len([e for e in items if e.system == "payroll"]) == 2


class TestRealisticRecords:
    def native(self, **changes: Any) -> dict[str, Any]:
        """DFØ's native GET ansatte/v2 body for Kari Nordmann, with changes."""
        body: dict[str, Any] = json.loads((DATA / "dfo" / "ansatt_regular.json").read_text())
        body["ansatt"][0].update(changes)
        return body

    def kari(self, **changes: Any) -> dict[str, Any]:
        """Kari Nordmann's employee record as the DFØ connector maps it."""
        return map_employee(
            self.native(**changes),
            institution="uib",
            secret="test-secret",
            fetched_at=datetime(2026, 10, 16, 5, 0, tzinfo=UTC),
        )

    def pay(self, period: str, amount: float) -> dict[str, Any]:
        """A Unit4 payroll posting for Kari Nordmann (employee number 123456)."""
        record = result(period, amount)
        record.update(
            source_system="unit4_payroll_postings",
            employee_id="123456",
            source_id=f"123456/{period}/LØNN-{period}",
            run_id=f"LØNN-{period}",
        )
        return record

    def test_a_current_professor_with_additional_positions_is_not_reported(self) -> None:
        """Kari's open-ended employment from DFØ covers October's salary."""
        assert evaluate(view(self.kari(), self.pay("2026-10", 61250.0))) == []

    def test_pay_after_the_last_position_ended_is_reported(self) -> None:
        """With employment and additional positions ended in June, October's pay is found."""
        kari = self.kari(
            sluttdato="2026-06-30",
            tilleggsstilling=[
                {"stillingId": "30012399", "startdato": "2024-01-01", "sluttdato": "2026-06-30"},
                {"stillingId": "30054321", "startdato": "2025-08-01", "sluttdato": "2026-06-30"},
            ],
        )
        finding = only(evaluate(view(kari, self.pay("2026-10", 61250.0))))
        assert "Kari Nordmann" in finding.title_nb
        assert "2026-06-30" in finding.description_en
        assert finding.due_date == date(2026, 11, 10)

    def test_an_additional_position_alone_keeps_the_pay_covered(self) -> None:
        """With the main employment ended, an open additional position still covers the pay."""
        kari = self.kari(sluttdato="2026-06-30")
        assert evaluate(view(kari, self.pay("2026-10", 12000.0))) == []


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example produces a finding with default settings."""
        person, now = rule.example()
        finding = only(list(rule.evaluate(person, now, RuleSettings())))
        assert finding.display_name == "Ola Hansen"
        assert finding.severity is Severity.P1

    def test_period_helpers(self) -> None:
        """Periods parse to their first and last day; non-periods give None."""
        assert payroll_periods.period_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
        assert payroll_periods.period_bounds("2026-00") is None
        assert payroll_periods.period_bounds(None) is None
        assert payroll_periods.add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)
