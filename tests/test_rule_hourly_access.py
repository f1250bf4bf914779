"""Tests for the rule access.hourly_without_feide_account."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.clock import start_of_day
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import hourly_access
from hub.rules.settings import RuleSettings
from tests import rule_builders as build
from tests.rule_builders import only

RULE_ID = hourly_access.RULE_ID
NOW = datetime(2026, 8, 12, 10, 0, tzinfo=UTC)  # 12:00 in Oslo
TODAY = date(2026, 8, 12)
EMPLOYEE_STAMP = datetime(2026, 8, 10, 7, 30, tzinfo=UTC)
ACCOUNT_STAMP = datetime(2026, 8, 11, 3, 0, tzinfo=UTC)
DEFAULT = RuleSettings()
PERSON_KEY = "p-7f3a9c0d2e4b6a8c1d3e5f70"
EMPLOYEE_ID = "412233"


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee on an hourly contract that starts in five days."""
    fields: dict[str, Any] = {
        "first_name": "Jonas",
        "last_name": "Haugen",
        "employee_group": "1",
        "employee_subgroup": "timelønnet",
        "main_position_id": "30077810",
        "start_date": TODAY + timedelta(days=5),
        "end_date": date(2026, 12, 31),
    }
    return build.employee(EMPLOYEE_ID, EMPLOYEE_STAMP, **(fields | overrides))


def account(
    account_id: str = "88120",
    status: str = "ACTIVE",
    username: str = "jonash",
    feide: str | None = "jonash@uio.no",
) -> dict[str, Any]:
    """A Cerebrum account record."""
    return build.account(
        account_id,
        ACCOUNT_STAMP,
        iam_person_id="53321",
        username=username,
        feide_principal_name=feide,
        status=status,
        expires_on=None,
        affiliations=[],
        external_ids=[{"id_type": "DFO_PID", "value": EMPLOYEE_ID}],
    )


def view(
    employee_record: dict[str, Any] | None, *accounts: dict[str, Any], tasks: Any = None
) -> PersonView:
    """A person view holding the employee record and accounts (and tasks, if given)."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, employee_record),
        *[(SourceKind.IAM_ACCOUNT, a) for a in accounts],
        key=PERSON_KEY,
        tasks=tasks,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = DEFAULT
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(hourly_access.evaluate(person, now, settings))


class TestWhenItFires:
    def test_fires_for_an_hourly_worker_without_accounts(self) -> None:
        """An hourly contract starting within the lead days and no account gives a finding."""
        only(evaluate(view(employee())))

    @pytest.mark.parametrize("subgroup", ["oppdrag", "XT1", "35"])
    def test_assignment_and_other_hourly_subgroups_count(self, subgroup: str) -> None:
        """Assignment contracts and DFØ's other hourly subgroups are covered as well."""
        only(evaluate(view(employee(employee_subgroup=subgroup))))

    def test_no_finding_for_a_salaried_employee(self) -> None:
        """A permanent employee (subgroup 17) is not this rule's business."""
        assert evaluate(view(employee(employee_subgroup="17"))) == []

    def test_no_finding_with_an_active_feide_account(self) -> None:
        """An ACTIVE account with a principal name lets the worker log in."""
        assert evaluate(view(employee(), account())) == []

    def test_active_account_without_feide_identity_does_not_count(self) -> None:
        """An ACTIVE account lacking eduPersonPrincipalName cannot be used with Feide."""
        finding = only(evaluate(view(employee(), account(feide=None))))
        assert "jonash" in finding.description_nb
        assert "jonash" in finding.description_en

    @pytest.mark.parametrize("status", ["DISABLED", "EXPIRED", "DELETED", "UNKNOWN"])
    def test_inactive_feide_account_does_not_count(self, status: str) -> None:
        """A Feide identity on an account that is not ACTIVE gives no login."""
        only(evaluate(view(employee(), account(status=status))))

    def test_one_feide_account_among_inactive_ones_is_enough(self) -> None:
        """A disabled old account next to an active Feide one gives no finding."""
        person = view(
            employee(), account("1", "DISABLED", "jhaugen"), account("2", "ACTIVE", "jonash")
        )
        assert evaluate(person) == []

    @pytest.mark.parametrize("end", [None, TODAY, TODAY + timedelta(days=40)])
    def test_fires_while_a_started_contract_runs(self, end: date | None) -> None:
        """A contract that started a month ago and has not ended still needs a login."""
        only(evaluate(view(employee(start_date=TODAY - timedelta(days=30), end_date=end))))

    def test_no_finding_after_the_contract_ended(self) -> None:
        """A contract that ended yesterday needs no login."""
        record = employee(start_date=TODAY - timedelta(days=30), end_date=TODAY - timedelta(days=1))
        assert evaluate(view(record)) == []

    def test_no_finding_without_employee_or_start_date(self) -> None:
        """Without DFØ data, or without a start date, there is no contract to judge."""
        assert evaluate(view(None, account(status="DISABLED"))) == []
        assert evaluate(view(employee(start_date=None))) == []


class TestBoundaries:
    def test_lead_window_boundary_by_day(self) -> None:
        """Start in 8 days: nothing; start in 7 days (the default lead): a finding."""
        assert evaluate(view(employee(start_date=TODAY + timedelta(days=8)))) == []
        only(evaluate(view(employee(start_date=TODAY + timedelta(days=7)))))

    def test_lead_window_boundary_to_the_minute(self) -> None:
        """One minute before Oslo midnight of start - 7 days: nothing; at midnight: found."""
        start = date(2026, 9, 1)
        opens = start_of_day(start - timedelta(days=7))
        person = view(employee(start_date=start, source_timestamp=EMPLOYEE_STAMP))
        assert evaluate(person, now=opens - timedelta(minutes=1)) == []
        only(evaluate(person, now=opens))

    def test_next_check_is_the_opening_of_the_lead_window(self) -> None:
        """Before the window, next_check is Oslo midnight of start less the lead days."""
        start = date(2026, 9, 1)
        person = view(employee(start_date=start))
        assert hourly_access.next_check(person, NOW, DEFAULT) == start_of_day(date(2026, 8, 25))

    def test_next_check_is_the_day_after_the_end_inside_the_window(self) -> None:
        """Within the window, the next change comes the day after the contract ends."""
        person = view(employee())
        assert hourly_access.next_check(person, NOW, DEFAULT) == start_of_day(date(2027, 1, 1))

    def test_next_check_is_none_for_a_salaried_employee(self) -> None:
        """Dates cannot make a salaried employee's contract hourly: no re-check."""
        assert (
            hourly_access.next_check(view(employee(employee_subgroup="17")), NOW, DEFAULT) is None
        )

    def test_grace_period_after_new_dfo_data(self) -> None:
        """IAM gets 60 minutes after DFØ's data: a minute before, nothing; at the end, found."""
        stamp = NOW - timedelta(minutes=30)
        person = view(employee(source_timestamp=stamp))
        ends = stamp + timedelta(minutes=60)
        assert evaluate(person, now=ends - timedelta(minutes=1)) == []
        only(evaluate(person, now=ends))
        assert hourly_access.next_check(person, NOW, DEFAULT) == ends

    def test_open_task_is_not_hidden_by_the_grace_period(self) -> None:
        """A new DFØ version does not make an already open task flicker shut."""
        person = view(
            employee(source_timestamp=NOW - timedelta(minutes=5)),
            tasks={
                "task-1": {
                    "task_id": "task-1",
                    "rule_id": RULE_ID,
                    "subject": PERSON_KEY,
                    "state": "OPEN",
                }
            },
        )
        only(evaluate(person))

    def test_today_is_the_oslo_calendar_day(self) -> None:
        """At 00:30 in Oslo (22:30 UTC the day before, summer time) a start 7 Oslo days
        away is inside the window."""
        now = datetime(2026, 8, 11, 22, 30, tzinfo=UTC)  # 2026-08-12 00:30 CEST
        only(evaluate(view(employee(start_date=date(2026, 8, 19))), now=now))


class TestTheFinding:
    def test_classification(self) -> None:
        """P1, owned by IAM, about the person, due on the contract's start date."""
        start = TODAY + timedelta(days=5)
        finding = only(evaluate(view(employee(start_date=start))))
        assert finding.rule_id == RULE_ID
        assert finding.subject == PERSON_KEY
        assert finding.severity is Severity.P1
        assert finding.owner_group == "iam"
        assert finding.due_date == start
        assert finding.display_name == "Jonas Haugen"

    def test_due_date_does_not_move_day_by_day(self) -> None:
        """Evaluated on three consecutive days, the due date stays the start date."""
        person = view(employee())
        dues = {only(evaluate(person, now=NOW + timedelta(days=d))).due_date for d in range(3)}
        assert dues == {TODAY + timedelta(days=5)}

    def test_late_registration_is_due_days_after_dfo_registered_it(self) -> None:
        """A contract DFØ registered (endretDato) after it started is due 2 days after the
        registration, not on the past start date."""
        record = employee(start_date=TODAY - timedelta(days=5), changed_date=TODAY)
        assert only(evaluate(view(record))).due_date == TODAY + timedelta(days=2)

    def test_evidence_shows_subgroup_dates_and_accounts(self) -> None:
        """The evidence holds DFØ's subgroup and dates, and each account's status and Feide."""
        finding = only(evaluate(view(employee(), account(status="DISABLED"))))
        values = {(e.system, e.field): e.value for e in finding.evidence}
        assert values[("dfo_sap", "employee_subgroup")] == "timelønnet"
        assert values[("dfo_sap", "start_date")] == (TODAY + timedelta(days=5)).isoformat()
        assert values[("dfo_sap", "end_date")] == "2026-12-31"
        assert values[("cerebrum", "account 88120")] == "jonash: DISABLED, feide jonash@uio.no"
        stamps = {e.system: e.source_timestamp for e in finding.evidence}
        assert stamps == {"dfo_sap": EMPLOYEE_STAMP, "cerebrum": ACCOUNT_STAMP}

    def test_evidence_says_none_without_accounts(self) -> None:
        """Without any account the evidence says so."""
        finding = only(evaluate(view(employee())))
        assert [e.value for e in finding.evidence if e.system == "iam"] == ["none"]

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_person_and_start(self, text: str) -> None:
        """Each title and description names the person and the contract's start date."""
        finding = only(evaluate(view(employee())))
        assert "Jonas Haugen" in getattr(finding, text)
        assert (TODAY + timedelta(days=5)).isoformat() in getattr(finding, text)

    def test_texts_are_translations(self) -> None:
        """The bokmål and English texts differ, and both fixes say what to do."""
        finding = only(evaluate(view(employee())))
        assert finding.title_nb != finding.title_en
        assert finding.description_nb != finding.description_en
        assert "Feide" in finding.suggested_fix_nb
        assert "Feide" in finding.suggested_fix_en

    def test_nameless_worker_is_named_by_employee_number(self) -> None:
        """Without a name the title falls back to the employee number."""
        finding = only(evaluate(view(employee(first_name=None, last_name=None))))
        assert EMPLOYEE_ID in finding.title_nb
        assert EMPLOYEE_ID in finding.title_en


class TestSettings:
    def test_lead_days_from_settings(self) -> None:
        """Lead days 10 report a contract starting in 10 days; the default 7 does not."""
        person = view(employee(start_date=TODAY + timedelta(days=10)))
        assert evaluate(person) == []
        only(evaluate(person, settings=RuleSettings.tuned(RULE_ID, lead_days=10)))

    def test_late_registration_days_from_settings(self) -> None:
        """late_registration_days 5 gives a late-registered contract five days."""
        record = employee(start_date=TODAY - timedelta(days=5), changed_date=TODAY)
        settings = RuleSettings.tuned(RULE_ID, params={"late_registration_days": 5})
        assert only(evaluate(view(record), settings=settings)).due_date == TODAY + timedelta(days=5)

    def test_grace_from_settings(self) -> None:
        """With the grace set to 0 minutes, fresh DFØ data is judged at once."""
        person = view(employee(source_timestamp=NOW - timedelta(minutes=5)))
        assert evaluate(person) == []
        only(evaluate(person, settings=RuleSettings.tuned(RULE_ID, grace_minutes=0)))


class TestPurityAndExample:
    def test_evaluation_is_pure(self) -> None:
        """Evaluating twice gives equal findings and leaves the view unchanged."""
        person = view(employee(), account(status="DISABLED"))
        before = repr(person)
        assert evaluate(person) == evaluate(person)
        assert repr(person) == before

    def test_example_fires(self) -> None:
        """The catalogue example gives exactly one finding."""
        person, now = hourly_access.example()
        finding = only(evaluate(person, now=now))
        assert finding.display_name == "Jonas Haugen"

    def test_spec(self) -> None:
        """The spec carries the rule id, P1, IAM, and the default 7 lead days."""
        spec = hourly_access.SPEC
        assert (spec.rule_id, spec.severity, spec.owner_group) == (RULE_ID, Severity.P1, "iam")
        assert spec.default_lead_days == 7


class TestRealisticRecords:
    def test_native_dfo_hourly_contract_and_cerebrum_account_without_feide(self) -> None:
        """A native DFØ ansatt with MUG 35 (hourly) and a Cerebrum account that was
        disabled by the last leaver run gives a finding; enabling it resolves it."""
        fetched = datetime(2026, 8, 10, 6, 15, tzinfo=UTC)
        native = {
            "ansatt": [
                {
                    "id": "00412233",
                    "fnr": "12039912345",
                    "annenId": [],
                    "brukerident": "JHA412233",
                    "eksternIdent": "jonash",
                    "fornavn": "Jonas",
                    "etternavn": "Haugen",
                    "fdato": "1999-03-12",
                    "kjonn": "M",
                    "stillingId": 30077810,
                    "medarbeidergruppe": "1",
                    "medarbeiderundergruppe": "35",
                    "startdato": "2026-08-17",
                    "sluttdato": "2026-12-31",
                    "dellonnsprosent": "0,0",
                    "tittel": "Timelønnet vitenskapelig assistent",
                    "tilleggsstilling": [],
                    "eksternbruker": 0,
                    "lederflagg": 0,
                    "reservasjonPublisering": "N",
                    "mobilPrivat": "+47 412 34 567",
                    "privatEpost": "",
                    "organisasjonId": "50001300",
                    "kostnadssted": "130100",
                    "endretDato": "2026-08-09",
                }
            ]
        }
        mapped = map_employee(native, institution="uio", secret="test-secret", fetched_at=fetched)
        disabled = {
            **account(status="DISABLED"),
            "affiliations": [
                {
                    "affiliation": "ANSATT",
                    "status": "vitenskapelig",
                    "org_unit_id": "50001300",
                    "source_system": "DFO_SAP",
                }
            ],
        }
        finding = only(evaluate(view(mapped, disabled)))
        assert finding.due_date == date(2026, 8, 17)
        assert "12039912345" not in repr(finding)
        assert ("dfo_sap", "employee_id", "412233") in {
            (e.system, e.field, e.value) for e in finding.evidence
        }
        assert evaluate(view(mapped, {**disabled, "status": "ACTIVE"})) == []
