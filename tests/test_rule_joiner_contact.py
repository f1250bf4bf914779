"""Tests for the rule access.joiner_without_contact."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.clock import start_of_day
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import joiner_contact
from hub.rules.settings import RuleSettings
from tests import rule_builders as build
from tests.rule_builders import only

RULE_ID = joiner_contact.RULE_ID
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
TODAY = date(2026, 1, 5)
START = date(2026, 1, 15)
EMPLOYEE_STAMP = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
DEFAULT = RuleSettings()
PERSON_KEY = "p-5a6b7c8d9e0f1a2b3c4d5e6f"
EMPLOYEE_ID = "518840"


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ joiner starting 2026-01-15 with no private mobile or e-mail."""
    fields: dict[str, Any] = {
        "first_name": "Aksel",
        "last_name": "Berg",
        "start_date": START,
        "end_date": None,
        "has_private_mobile": False,
        "has_private_email": False,
    }
    return build.employee(EMPLOYEE_ID, EMPLOYEE_STAMP, institution="uit", **(fields | overrides))


def account(status: str = "ACTIVE") -> dict[str, Any]:
    """A Felles IAM account of the joiner."""
    return build.account(
        "uhid-4f1c",
        EMPLOYEE_STAMP,
        institution="uit",
        source_system="felles_iam",
        iam_person_id="uhid-4f1c",
        username="abe042",
        feide_principal_name="abe042@uit.no",
        status=status,
        affiliations=[],
        external_ids=[],
    )


def view(employee_record: dict[str, Any] | None, *accounts: dict[str, Any]) -> PersonView:
    """A person view holding the employee record and accounts."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, employee_record),
        *[(SourceKind.IAM_ACCOUNT, a) for a in accounts],
        key=PERSON_KEY,
        institution="uit",
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = DEFAULT
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(joiner_contact.evaluate(person, now, settings))


class TestWhenItFires:
    def test_fires_for_a_joiner_without_private_contact(self) -> None:
        """A joiner within the lead days with neither private mobile nor e-mail is found."""
        only(evaluate(view(employee())))

    @pytest.mark.parametrize("field", ["has_private_mobile", "has_private_email"])
    def test_either_contact_detail_is_enough(self, field: str) -> None:
        """A private mobile or a private e-mail lets the activation code be delivered."""
        assert evaluate(view(employee(**{field: True}))) == []

    def test_no_finding_after_the_employment_ended(self) -> None:
        """A joiner whose employment already ended needs no activation."""
        record = employee(start_date=TODAY - timedelta(days=5), end_date=TODAY - timedelta(days=1))
        assert evaluate(view(record)) == []

    def test_no_finding_for_a_long_standing_employee(self) -> None:
        """An employee who started years ago is no joiner."""
        assert evaluate(view(employee(start_date=date(2015, 8, 1)))) == []

    def test_no_finding_when_an_account_is_already_active(self) -> None:
        """A joiner with an active account (a former student, say) needs no activation."""
        assert evaluate(view(employee(), account())) == []

    def test_inactive_account_does_not_count(self) -> None:
        """A disabled old account still has to be activated, so the finding stays."""
        only(evaluate(view(employee(), account(status="DISABLED"))))

    def test_no_finding_without_employee_or_start(self) -> None:
        """Without DFØ data or a start date there is no joiner."""
        assert evaluate(view(None, account(status="DISABLED"))) == []
        assert evaluate(view(employee(start_date=None))) == []


class TestBoundaries:
    def test_lead_window_boundary_by_day(self) -> None:
        """Start in 15 days: nothing; in 14 days (the default lead): a finding."""
        assert evaluate(view(employee(start_date=TODAY + timedelta(days=15)))) == []
        only(evaluate(view(employee(start_date=TODAY + timedelta(days=14)))))

    def test_lead_window_boundary_to_the_minute(self) -> None:
        """One minute before Oslo midnight of start - 14 days: nothing; at it: found."""
        opens = start_of_day(START - timedelta(days=14))
        assert evaluate(view(employee()), now=opens - timedelta(minutes=1)) == []
        only(evaluate(view(employee()), now=opens))

    def test_window_closes_days_after_start(self) -> None:
        """Found until the 14th day after the start; from midnight after it, not."""
        closes = start_of_day(START + timedelta(days=15))
        only(evaluate(view(employee()), now=closes - timedelta(minutes=1)))
        assert evaluate(view(employee()), now=closes) == []

    def test_next_check_before_the_window(self) -> None:
        """Before the window, next_check is Oslo midnight of start less 14 days."""
        early = datetime(2025, 12, 20, 9, 0, tzinfo=UTC)
        assert joiner_contact.next_check(view(employee()), early, DEFAULT) == start_of_day(
            date(2026, 1, 1)
        )

    def test_next_check_inside_the_window(self) -> None:
        """Inside the window, next_check is the midnight that closes it."""
        assert joiner_contact.next_check(view(employee()), NOW, DEFAULT) == start_of_day(
            date(2026, 1, 30)
        )

    def test_next_check_at_an_early_end(self) -> None:
        """An employment ending before the window closes is re-checked the day after."""
        person = view(employee(end_date=date(2026, 1, 20)))
        assert joiner_contact.next_check(person, NOW, DEFAULT) == start_of_day(date(2026, 1, 21))

    def test_today_is_the_oslo_calendar_day(self) -> None:
        """At 00:30 in Oslo (23:30 UTC the day before) start - 14 days has begun."""
        now = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)  # 2026-01-01 00:30 CET
        only(evaluate(view(employee()), now=now))


class TestTheFinding:
    def test_classification(self) -> None:
        """P2, owned by HR, about the person, due 7 days before the start."""
        finding = only(evaluate(view(employee())))
        assert finding.rule_id == RULE_ID
        assert finding.subject == PERSON_KEY
        assert finding.severity is Severity.P2
        assert finding.owner_group == "hr"
        assert finding.due_date == date(2026, 1, 8)
        assert finding.display_name == "Aksel Berg"

    def test_due_date_does_not_move_day_by_day(self) -> None:
        """Evaluated on consecutive days, the due date stays start less 7 days."""
        dues = {
            only(evaluate(view(employee()), now=NOW + timedelta(days=d))).due_date for d in range(3)
        }
        assert dues == {date(2026, 1, 8)}

    def test_evidence(self) -> None:
        """The evidence says what DFØ holds: start date, private mobile and e-mail missing."""
        finding = only(evaluate(view(employee(), account(status="DISABLED"))))
        values = {(e.system, e.field): e.value for e in finding.evidence}
        assert values[("dfo_sap", "start_date")] == "2026-01-15"
        assert values[("dfo_sap", "mobilPrivat")] == "missing"
        assert values[("dfo_sap", "privatEpost")] == "missing"
        assert values[("felles_iam", "account uhid-4f1c status")] == "abe042: DISABLED"
        assert {e.source_timestamp for e in finding.evidence} == {EMPLOYEE_STAMP}

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_person_and_start(self, text: str) -> None:
        """Each title and description names the person and the start date."""
        value = getattr(only(evaluate(view(employee()))), text)
        assert "Aksel Berg" in value
        assert "2026-01-15" in value

    def test_fix_names_the_dfo_fields(self) -> None:
        """Both fixes tell HR which DFØ fields to fill in, in two languages."""
        finding = only(evaluate(view(employee())))
        for fix in (finding.suggested_fix_nb, finding.suggested_fix_en):
            assert "mobilPrivat" in fix
            assert "privatEpost" in fix
        assert finding.suggested_fix_nb != finding.suggested_fix_en

    def test_nameless_joiner_is_named_by_employee_number(self) -> None:
        """Without a name the titles fall back to the employee number."""
        finding = only(evaluate(view(employee(first_name=None, last_name=None))))
        assert EMPLOYEE_ID in finding.title_nb
        assert EMPLOYEE_ID in finding.title_en


class TestSettings:
    def test_lead_days_from_settings(self) -> None:
        """Lead days 21 report a start in 21 days; the default 14 does not."""
        person = view(employee(start_date=TODAY + timedelta(days=21)))
        assert evaluate(person) == []
        only(evaluate(person, settings=RuleSettings.tuned(RULE_ID, lead_days=21)))

    def test_days_after_start_from_settings(self) -> None:
        """days_after_start 30 keeps a joiner who started 20 days ago in view."""
        person = view(employee(start_date=TODAY - timedelta(days=20)))
        assert evaluate(person) == []
        only(
            evaluate(person, settings=RuleSettings.tuned(RULE_ID, params={"days_after_start": 30}))
        )

    def test_due_days_before_start_from_settings(self) -> None:
        """due_days_before_start 3 puts the due date three days before the start."""
        settings = RuleSettings.tuned(RULE_ID, params={"due_days_before_start": 3})
        assert only(evaluate(view(employee()), settings=settings)).due_date == date(2026, 1, 12)

    def test_active_account_exemption_can_be_turned_off(self) -> None:
        """With ignore_if_account_active false, an active account does not hide the finding."""
        settings = RuleSettings.tuned(RULE_ID, params={"ignore_if_account_active": False})
        only(evaluate(view(employee(), account()), settings=settings))


class TestPurityAndExample:
    def test_evaluation_is_pure(self) -> None:
        """Evaluating twice gives equal findings and leaves the view unchanged."""
        person = view(employee(), account(status="DISABLED"))
        before = repr(person)
        assert evaluate(person) == evaluate(person)
        assert repr(person) == before

    def test_example_fires(self) -> None:
        """The catalogue example gives exactly one finding."""
        person, now = joiner_contact.example()
        assert only(evaluate(person, now=now)).display_name == "Aksel Berg"

    def test_spec(self) -> None:
        """The spec carries the rule id, P2, HR and the default 14 lead days."""
        spec = joiner_contact.SPEC
        assert (spec.rule_id, spec.severity, spec.owner_group) == (RULE_ID, Severity.P2, "hr")
        assert spec.default_lead_days == 14


class TestRealisticRecords:
    @staticmethod
    def native(mobile: str, email: str | None) -> dict[str, Any]:
        """A native GET ansatte/v2 body of a UiT joiner with the given private details."""
        return {
            "ansatt": [
                {
                    "id": "00518840",
                    "fnr": "",
                    "annenId": [{"idType": "02", "idLand": "SE", "idNr": "SE-91234567"}],
                    "fornavn": "Aksel",
                    "etternavn": "Berg",
                    "fdato": "1996-11-02",
                    "kjonn": "M",
                    "stillingId": "30066120",
                    "medarbeidergruppe": "1",
                    "medarbeiderundergruppe": "17",
                    "startdato": "2026-01-15",
                    "sluttdato": "2029-01-14",
                    "dellonnsprosent": "100,0",
                    "tittel": "Stipendiat",
                    "tilleggsstilling": [],
                    "eksternbruker": 0,
                    "lederflagg": 0,
                    "reservasjonPublisering": "N",
                    "mobilPrivat": mobile,
                    "privatEpost": email,
                    "organisasjonId": "50002410",
                    "kostnadssted": "241000",
                    "endretDato": "2026-01-02",
                }
            ]
        }

    def test_native_dfo_joiner_with_empty_private_fields(self) -> None:
        """DFØ's empty mobilPrivat and null privatEpost give a finding; a mobile fixes it."""
        fetched = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
        empty = map_employee(
            self.native("", None), institution="uit", secret="s", fetched_at=fetched
        )
        finding = only(evaluate(view(empty)))
        assert finding.due_date == date(2026, 1, 8)
        assert "SE-91234567" not in repr(finding)
        with_mobile = map_employee(
            self.native("+46 70 123 45 67", None), institution="uit", secret="s", fetched_at=fetched
        )
        assert evaluate(view(with_mobile)) == []
        assert "+46 70 123 45 67" not in repr(with_mobile)
