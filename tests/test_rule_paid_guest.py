"""Tests for the rule payroll.paid_guest (hub/rules/paid_guest.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.clock import start_of_day
from hub.errors import ConfigurationError
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import RuleSettings, paid_guest, payroll_periods
from tests import rule_builders as build
from tests.rule_builders import only

RULE = paid_guest.RULE_ID
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
TODAY = date(2026, 11, 22)
STAMP = datetime(2026, 11, 18, 7, 30, tzinfo=UTC)
PERSON_KEY = "p-0123456789abcdef01234567"
SETTINGS = RuleSettings()
SECRET = "test-secret-not-for-production"


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee on an hourly contract from 15 November to the end of June."""
    fields: dict[str, Any] = {
        "first_name": "Bjørn",
        "last_name": "Aasen",
        "employee_group": "1",
        "employee_subgroup": "timelønnet",
        "start_date": date(2026, 11, 15),
        "end_date": date(2027, 6, 30),
    }
    return build.employee("456789", STAMP, **(fields | overrides))


def guest_employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee in employee group 9 (guest researcher, MUG 95) since January."""
    values: dict[str, Any] = {
        "employee_group": "9",
        "employee_subgroup": "95",
        "start_date": date(2026, 1, 1),
        "end_date": None,
    }
    values.update(overrides)
    return employee(**values)


def role(
    role_id: str = "701",
    start: date | None = date(2026, 9, 1),
    end: date | None = date(2027, 8, 31),
    kind: str = "guest-researcher",
) -> dict[str, Any]:
    """A Greg role as the Greg connector maps it."""
    return build.greg_role(role_id, start, end, kind)


def guest(*roles: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A registered Greg guest with the given roles."""
    fields: dict[str, Any] = {
        "first_name": "Bjørn",
        "last_name": "Aasen",
        "birth_date": date(1984, 2, 9),
        "registration_completed": datetime(2026, 8, 12, 10, 0, tzinfo=UTC),
        "identities": [],
        "roles": list(roles) if roles else [role()],
        "consents": [],
    }
    return build.greg_person("3377", STAMP, **(fields | overrides))


def result(
    period: str = "2026-10",
    total: float = 8125.0,
    *,
    run_id: str | None = None,
    paid_on: date | None = date(2026, 10, 12),
    stamp: datetime = datetime(2026, 10, 12, 5, 0, tzinfo=UTC),
    run_type: str = "regular",
) -> dict[str, Any]:
    """A payroll result of employee 456789 for one period and run."""
    return build.payroll_result(
        "456789",
        period,
        run_id or f"LK{period}",
        stamp,
        amount=total,
        lines=[],
        paid_on=paid_on,
        run_type=run_type,
    )


def view(
    dfo: dict[str, Any] | None,
    greg: dict[str, Any] | None = None,
    *results: dict[str, Any],
    tasks: Any = None,
) -> PersonView:
    """A person view with the DFØ employee, Greg guest and payroll results given."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, dfo),
        (SourceKind.GREG_PERSON, greg),
        *[(SourceKind.PAYROLL_RESULT, r) for r in results],
        key=PERSON_KEY,
        tasks=tasks,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = SETTINGS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(paid_guest.evaluate(person, now, settings))


class TestCutoff:
    @pytest.mark.parametrize(
        ("day", "cutoff_day", "expected"),
        [
            (date(2026, 11, 10), 10, date(2026, 11, 10)),
            (date(2026, 11, 1), 10, date(2026, 11, 10)),
            (date(2026, 11, 11), 10, date(2026, 12, 10)),
            (date(2026, 12, 11), 10, date(2027, 1, 10)),
            (date(2027, 2, 1), 31, date(2027, 2, 28)),
            (date(2027, 1, 31), 31, date(2027, 1, 31)),
        ],
    )
    def test_first_cutoff_on_or_after(self, day: date, cutoff_day: int, expected: date) -> None:
        """The cut-off is the cutoff_day of the month (or its last day), on or after day."""
        assert payroll_periods.cutoff_on_or_after(day, cutoff_day) == expected


class TestOverlap:
    def test_guest_role_overlapping_an_hourly_contract_is_found(self) -> None:
        """A Greg role overlapping an hourly DFØ contract gives a P2 payroll finding."""
        finding = only(evaluate(view(employee(), guest())))
        assert finding.rule_id == RULE
        assert finding.severity is Severity.P2
        assert finding.owner_group == "hr_payroll"
        assert finding.subject == f"{PERSON_KEY}/role:701"
        assert finding.due_date == date(2026, 12, 10)  # first cut-off after 15 November
        assert finding.display_name == "Bjørn Aasen"

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_person_and_the_overlap(self, text: str) -> None:
        """Titles and descriptions name the person, the role type and the overlap's start."""
        value = getattr(only(evaluate(view(employee(), guest()))), text)
        assert "Bjørn Aasen" in value
        assert "guest-researcher" in value
        assert "2026-11-15" in value

    def test_evidence_shows_contract_and_role(self) -> None:
        """The evidence carries DFØ's group, subgroup and dates and Greg's role."""
        finding = only(evaluate(view(employee(), guest())))
        by_field = {(e.system, e.field): e for e in finding.evidence}
        assert by_field[("dfo_sap", "employee_group/subgroup")].value == "1/timelønnet"
        assert by_field[("dfo_sap", "start_date")].value == "2026-11-15"
        assert by_field[("dfo_sap", "end_date")].value == "2027-06-30"
        assert by_field[("dfo_sap", "end_date")].source_timestamp == STAMP
        assert by_field[("greg", "role 701")].value == (
            "guest-researcher from 2026-09-01 to 2027-08-31"
        )
        assert not [e for e in finding.evidence if e.system == "dfo_sap_payroll"]

    def test_future_overlap_is_found_with_its_cutoff(self) -> None:
        """An overlap starting next month is reported now, due at the cut-off on or after."""
        dfo = employee(start_date=date(2027, 1, 5), end_date=date(2027, 3, 31))
        assert only(evaluate(view(dfo, guest()))).due_date == date(2027, 1, 10)

    def test_overlap_starting_on_the_cutoff_is_due_that_day(self) -> None:
        """An overlap starting on the 10th is due the same day."""
        dfo = employee(start_date=date(2026, 12, 10), end_date=None)
        assert only(evaluate(view(dfo, guest()))).due_date == date(2026, 12, 10)

    def test_one_day_overlap_is_found(self) -> None:
        """A role ending the day the contract starts overlaps by one day."""
        dfo = employee(start_date=date(2026, 12, 1))
        only(evaluate(view(dfo, guest(role(end=date(2026, 12, 1))))))

    def test_role_ending_before_the_contract_does_not_overlap(self) -> None:
        """A role ending the day before the contract starts does not overlap."""
        dfo = employee(start_date=date(2026, 12, 1))
        assert evaluate(view(dfo, guest(role(end=date(2026, 11, 30))))) == []

    def test_open_ended_both_sides_overlap(self) -> None:
        """An open-ended contract and an open-ended role overlap from the later start."""
        dfo = employee(end_date=None)
        finding = only(evaluate(view(dfo, guest(role(end=None)))))
        assert finding.due_date == date(2026, 12, 10)
        assert paid_guest.next_check(view(dfo, guest(role(end=None))), NOW, SETTINGS) is None

    def test_salaried_employee_is_not_an_hourly_overlap(self) -> None:
        """A monthly-paid employee with a guest role is not this rule's concern."""
        assert evaluate(view(employee(employee_subgroup="17"), guest())) == []

    def test_no_guest_role_no_finding(self) -> None:
        """An hourly contract alone gives nothing."""
        assert evaluate(view(employee())) == []
        assert evaluate(view(employee(), guest(roles=[]))) == []

    def test_one_finding_per_overlapping_role(self) -> None:
        """Two overlapping roles give two findings, told apart by role id."""
        greg = guest(role("701"), role("702", kind="grader"))
        subjects = {f.subject for f in evaluate(view(employee(), greg))}
        assert subjects == {f"{PERSON_KEY}/role:701", f"{PERSON_KEY}/role:702"}

    def test_ignored_role_types_param(self) -> None:
        """Role types listed in the param ignored_role_types do not count."""
        greg = guest(role("701"), role("702", kind="grader"))
        settings = RuleSettings.tuned(RULE, params={"ignored_role_types": "grader, emeritus"})
        finding = only(evaluate(view(employee(), greg), settings=settings))
        assert finding.subject == f"{PERSON_KEY}/role:701"

    def test_cutoff_day_param_moves_the_due_date(self) -> None:
        """The param cutoff_day sets which day of the month payroll closes."""
        settings = RuleSettings.tuned(RULE, params={"cutoff_day": 20})
        assert only(evaluate(view(employee(), guest()), settings=settings)).due_date == date(
            2026, 11, 20
        )

    @pytest.mark.parametrize("bad", [0, 32])
    def test_bad_cutoff_day_is_a_configuration_error(self, bad: int) -> None:
        """A cutoff_day outside 1 to 31 stops with a message naming the parameter."""
        settings = RuleSettings.tuned(RULE, params={"cutoff_day": bad})
        with pytest.raises(ConfigurationError, match="cutoff_day"):
            evaluate(view(employee(), guest()), settings=settings)

    def test_evaluation_is_pure(self) -> None:
        """Evaluating twice gives equal findings."""
        person = view(employee(), guest())
        assert evaluate(person) == evaluate(person)
        assert evaluate(person)


class TestOverlapTiming:
    def test_overlap_ending_today_is_still_found(self) -> None:
        """An overlap whose last day is today is still reported."""
        dfo = employee(start_date=date(2026, 10, 1), end_date=TODAY)
        finding = only(evaluate(view(dfo, guest())))
        assert finding.due_date == date(2026, 10, 10)

    def test_overlap_resolves_the_day_after_it_ends(self) -> None:
        """next_check is midnight Oslo after the overlap's end; then nothing is found."""
        dfo = employee(start_date=date(2026, 10, 1), end_date=TODAY)
        person = view(dfo, guest())
        after = start_of_day(TODAY + timedelta(days=1))
        assert paid_guest.next_check(person, NOW, SETTINGS) == after
        assert evaluate(person, now=after - timedelta(minutes=1))
        assert evaluate(person, now=after) == []

    def test_grace_after_the_newest_record(self) -> None:
        """The overlap waits the grace period after the newer of the two records."""
        newest = NOW - timedelta(minutes=30)
        person = view(employee(source_timestamp=newest), guest())
        assert evaluate(person, now=newest + timedelta(minutes=59)) == []
        only(evaluate(person, now=newest + timedelta(minutes=60)))
        assert paid_guest.next_check(person, NOW, SETTINGS) == newest + timedelta(minutes=60)

    def test_grace_is_tunable(self) -> None:
        """A shorter grace in the settings reports sooner."""
        newest = NOW - timedelta(minutes=30)
        person = view(employee(), guest(source_timestamp=newest))
        assert evaluate(person) == []
        only(evaluate(person, settings=RuleSettings.tuned(RULE, grace_minutes=30)))

    def test_open_task_is_not_held_back_by_grace(self) -> None:
        """A fresh record version does not resolve a finding whose task is open."""
        subject = f"{PERSON_KEY}/role:701"
        task = {"task_id": "task-9", "rule_id": RULE, "subject": subject, "state": "OPEN"}
        fresh = employee(source_timestamp=NOW - timedelta(minutes=1))
        assert evaluate(view(fresh, guest())) == []
        only(evaluate(view(fresh, guest(), tasks={"task-9": task})))


class TestPaidGuestInSap:
    def test_pay_to_a_group_nine_person_is_found(self) -> None:
        """A positive payroll total for a person in employee group 9 gives a finding."""
        finding = only(evaluate(view(guest_employee(), None, result())))
        assert finding.severity is Severity.P2
        assert finding.owner_group == "hr_payroll"
        assert finding.subject == f"{PERSON_KEY}/period:2026-10"
        assert finding.due_date == date(2026, 11, 10)  # first cut-off after the pay date
        assert "2026-10" in finding.title_nb
        assert "Bjørn Aasen" in finding.title_en
        assert "8 125,00 kr" in finding.title_nb
        assert "NOK 8,125.00" in finding.title_en
        assert "9/95" in finding.description_nb

    def test_evidence_shows_the_group_and_period_total(self) -> None:
        """The evidence carries the employee group and each period's total with its runs."""
        finding = only(evaluate(view(guest_employee(), None, result())))
        by_field = {(e.system, e.field): e for e in finding.evidence}
        assert by_field[("dfo_sap", "employee_group/subgroup")].value == "9/95"
        total = by_field[("dfo_sap_payroll", "period 2026-10 total")]
        assert total.value == "8125.00 NOK (LK2026-10)"
        assert total.source_timestamp == datetime(2026, 10, 12, 5, 0, tzinfo=UTC)

    def test_one_finding_per_paid_period(self) -> None:
        """Two paid periods give two findings."""
        person = view(guest_employee(), None, result("2026-09"), result("2026-10"))
        subjects = {f.subject for f in evaluate(person)}
        assert subjects == {f"{PERSON_KEY}/period:2026-09", f"{PERSON_KEY}/period:2026-10"}

    def test_correction_to_zero_is_no_pay(self) -> None:
        """A correction run bringing the period's total to zero resolves it."""
        person = view(
            guest_employee(),
            None,
            result(),
            result(total=-8125.0, run_id="KO2026-10", run_type="correction"),
        )
        assert evaluate(person) == []

    def test_extra_run_adds_to_the_period(self) -> None:
        """Results of several runs in one period are summed into one finding."""
        person = view(
            guest_employee(),
            None,
            result(total=-100.0),
            result(total=600.0, run_id="EK2026-10", run_type="extra", paid_on=date(2026, 10, 25)),
        )
        finding = only(evaluate(person))
        assert "500.00" in finding.title_en
        assert finding.due_date == date(2026, 11, 10)

    def test_no_finding_outside_group_nine(self) -> None:
        """Pay to an ordinary employee is not this rule's concern."""
        assert evaluate(view(guest_employee(employee_group="1"), None, result())) == []

    def test_period_before_the_guest_employment_is_ignored(self) -> None:
        """Pay for a month before the group-9 employment began is not flagged."""
        dfo = guest_employee(start_date=date(2026, 10, 15))
        person = view(dfo, None, result("2026-09"), result("2026-10"))
        assert {f.subject for f in evaluate(person)} == {f"{PERSON_KEY}/period:2026-10"}

    def test_period_outside_the_lookback_is_ignored(self) -> None:
        """Periods older than lookback_months before this month are not reported."""
        person = view(guest_employee(), None, result("2026-07"), result("2026-08"))
        assert {f.subject for f in evaluate(person)} == {f"{PERSON_KEY}/period:2026-08"}
        settings = RuleSettings.tuned(RULE, params={"lookback_months": 4})
        assert len(evaluate(person, settings=settings)) == 2

    def test_period_leaves_the_window_at_the_month_turn(self) -> None:
        """next_check is the first day of the month the period leaves the lookback."""
        person = view(guest_employee(), None, result("2026-08"))
        leaves = start_of_day(date(2026, 12, 1))
        assert paid_guest.next_check(person, NOW, SETTINGS) == leaves
        only(evaluate(person, now=leaves - timedelta(minutes=1)))
        assert evaluate(person, now=leaves) == []

    def test_grace_after_the_payroll_result(self) -> None:
        """A result just posted waits the grace period (DFØ HR may lag payroll)."""
        posted = datetime(2026, 11, 12, 6, 0, tzinfo=UTC)
        dfo = guest_employee(source_timestamp=datetime(2026, 11, 1, 6, 0, tzinfo=UTC))
        person = view(dfo, None, result("2026-11", stamp=posted, paid_on=None))
        assert evaluate(person, now=posted + timedelta(minutes=59)) == []
        finding = only(evaluate(person, now=posted + timedelta(minutes=60)))
        assert finding.due_date == date(2026, 12, 10)


class TestRealisticRecords:
    def test_native_hourly_contract_overlapping_a_greg_role(self) -> None:
        """A native DFØ ansatt on an hourly contract (MUG 35) overlapping a Greg
        guest-researcher role is found, due at the first cut-off of the overlap."""
        ansatt = {
            "id": "00234890",
            "fnr": "12038812345",
            "annenId": [],
            "fornavn": "Solveig",
            "etternavn": "Øverland",
            "fdato": "1988-03-12",
            "kjonn": "K",
            "stillingId": 30061234,
            "medarbeidergruppe": 1,
            "medarbeiderundergruppe": 35,
            "startdato": "2026-11-03",
            "sluttdato": "2026-12-20",
            "dellonnsprosent": "0,0",
            "tittel": "Timelærer",
            "tilleggsstilling": [],
            "eksternbruker": "N",
            "lederflagg": "N",
            "reservasjonPublisering": "N",
            "mobilPrivat": "+47 917 00 123",
            "organisasjonId": "50001300",
            "kostnadssted": "151000",
            "endretDato": "2026-10-29",
        }
        fetched = datetime(2026, 10, 29, 14, 2, tzinfo=UTC)
        dfo = map_employee(
            {"ansatt": [ansatt]}, institution="uio", secret=SECRET, fetched_at=fetched
        )
        greg = guest(
            role("40231", start=date(2026, 8, 15), end=date(2027, 2, 28)),
            source_id="22014",
            greg_id="22014",
            first_name="Solveig",
            last_name="Øverland",
        )
        finding = only(evaluate(view(dfo, greg)))
        assert finding.subject == f"{PERSON_KEY}/role:40231"
        assert finding.due_date == date(2026, 11, 10)
        assert "Solveig Øverland" in finding.title_nb
        assert "234890" in finding.description_en
        everything = " ".join(
            [finding.title_nb, finding.title_en, finding.description_nb, finding.description_en]
            + [e.value or "" for e in finding.evidence]
        )
        assert "12038812345" not in everything
        assert str(dfo["national_id_pseudonym"]) not in everything

    def test_native_guest_researcher_in_sap_paid_an_honorarium(self) -> None:
        """A native DFØ ansatt in MG 9/MUG 95 with a posted honorarium for October is found."""
        ansatt = {
            "id": "00456789",
            "fnr": "",
            "annenId": [{"idType": "02", "idLand": "DE", "idNr": "C01X00T47"}],
            "fornavn": "Jonas",
            "etternavn": "Becker",
            "fdato": "1982-07-30",
            "kjonn": "M",
            "stillingId": 30098765,
            "medarbeidergruppe": 9,
            "medarbeiderundergruppe": 95,
            "startdato": "2026-08-01",
            "sluttdato": "2027-07-31",
            "dellonnsprosent": 0,
            "tittel": "Gjesteforsker",
            "eksternbruker": "J",
            "lederflagg": "N",
            "reservasjonPublisering": "N",
            "organisasjonId": "50001300",
            "kostnadssted": "151000",
            "endretDato": "2026-07-20",
        }
        dfo = map_employee(
            {"ansatt": [ansatt]},
            institution="uio",
            secret=SECRET,
            fetched_at=datetime(2026, 7, 20, 8, 0, tzinfo=UTC),
        )
        pay = {
            **result("2026-10", 8125.0),
            "lines": [
                {
                    "wage_type": "1400",
                    "description": "Honorar",
                    "amount": 12500.0,
                    "hours": None,
                    "rate": None,
                    "position_id": "30098765",
                    "cost_centre": "151000",
                    "org_unit_id": "50001300",
                    "hourly": False,
                },
                {
                    "wage_type": "/403",
                    "description": "Forskuddstrekk",
                    "amount": -4375.0,
                    "hours": None,
                    "rate": None,
                    "position_id": None,
                    "cost_centre": None,
                    "org_unit_id": None,
                    "hourly": False,
                },
            ],
        }
        finding = only(evaluate(view(dfo, None, pay)))
        assert finding.subject == f"{PERSON_KEY}/period:2026-10"
        assert finding.due_date == date(2026, 11, 10)
        assert "Jonas Becker" in finding.description_nb
        assert "9/95" in finding.description_en
        values = " ".join(e.value or "" for e in finding.evidence)
        assert "C01X00T47" not in values


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example gives exactly one finding of this rule."""
        person, now = paid_guest.example()
        finding = only(list(paid_guest.evaluate(person, now, SETTINGS)))
        assert finding.rule_id == RULE
        assert finding.owner_group == "hr_payroll"
