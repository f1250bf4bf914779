"""Tests for the rule access.new_hire_without_account and the rule registry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import RULES, RuleSettings, new_hire_access
from tests import rule_builders as build
from tests.rule_builders import only

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
EMPLOYEE_STAMP = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ACCOUNT_STAMP = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
LEAD_DAYS = 14
SETTINGS = RuleSettings.tuned(new_hire_access.RULE_ID, lead_days=LEAD_DAYS)
PERSON_KEY = "p-0123456789abcdef01234567"
EMPLOYEE_ID = "234567"


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee record (the fields the rule reads) starting in five days."""
    fields: dict[str, Any] = {
        "first_name": "Sigrid",
        "last_name": "Bjørnstad",
        "start_date": TODAY + timedelta(days=5),
        "end_date": None,
    }
    return build.employee(EMPLOYEE_ID, EMPLOYEE_STAMP, **(fields | overrides))


def account(
    account_id: str = "acc-1", status: str = "ACTIVE", username: str = "sigridb"
) -> dict[str, Any]:
    """An IAM account record (the fields the rule reads)."""
    return build.account(
        account_id,
        ACCOUNT_STAMP,
        iam_person_id="cer-991",
        username=username,
        status=status,
        external_ids=[{"id_type": "DFO_PID", "value": EMPLOYEE_ID}],
    )


def view(employee_record: dict[str, Any] | None, *accounts: dict[str, Any]) -> PersonView:
    """A person view holding the given employee record and accounts."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, employee_record),
        *[(SourceKind.IAM_ACCOUNT, a) for a in accounts],
        key=PERSON_KEY,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = SETTINGS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(new_hire_access.evaluate(person, now, settings))


class TestRegistry:
    def test_rule_is_registered_under_its_id(self) -> None:
        """RULES holds the new-hire rule with the module's own evaluate and evidence."""
        by_id = {rule.rule_id: rule for rule in RULES}
        rule = by_id[new_hire_access.RULE_ID]
        assert rule.evaluate is new_hire_access.evaluate
        assert rule.evidence is new_hire_access.evidence

    def test_rule_ids_are_unique(self) -> None:
        """No two registered rules share an id (task ids are derived from it)."""
        ids = [rule.rule_id for rule in RULES]
        assert len(ids) == len(set(ids))

    def test_rule_id_is_the_documented_one(self) -> None:
        """The rule id is access.new_hire_without_account, the id tasks are keyed by."""
        assert new_hire_access.RULE_ID == "access.new_hire_without_account"


class TestWhenTheFindingAppears:
    @pytest.mark.parametrize("days_until_start", [LEAD_DAYS, LEAD_DAYS - 1, 1, 0])
    def test_finding_within_lead_days(self, days_until_start: int) -> None:
        """A hire starting within the lead days (inclusive) without an account is found."""
        start = TODAY + timedelta(days=days_until_start)
        only(evaluate(view(employee(start_date=start))))

    def test_no_finding_one_day_before_the_lead_window(self) -> None:
        """A start date lead days + 1 away is not reported yet."""
        start = TODAY + timedelta(days=LEAD_DAYS + 1)
        assert evaluate(view(employee(start_date=start))) == []

    def test_lead_days_come_from_the_settings(self) -> None:
        """The window follows the lead days in the settings, not a fixed number."""
        person = view(employee(start_date=TODAY + timedelta(days=20)))
        assert (
            evaluate(person, settings=RuleSettings.tuned(new_hire_access.RULE_ID, lead_days=19))
            == []
        )
        only(evaluate(person, settings=RuleSettings.tuned(new_hire_access.RULE_ID, lead_days=20)))

    def test_zero_lead_days_reports_only_from_the_start_date(self) -> None:
        """With zero lead days the finding appears on the start date itself, not before."""
        settings = RuleSettings.tuned(new_hire_access.RULE_ID, lead_days=0)
        tomorrow = view(employee(start_date=TODAY + timedelta(days=1)))
        today = view(employee(start_date=TODAY))
        assert evaluate(tomorrow, settings=settings) == []
        only(evaluate(today, settings=settings))

    @pytest.mark.parametrize("end_date", [None, TODAY, TODAY + timedelta(days=300)])
    def test_finding_when_start_is_past_and_employment_not_ended(
        self, end_date: date | None
    ) -> None:
        """A start date already past still gives a finding while the employment lasts."""
        record = employee(start_date=TODAY - timedelta(days=30), end_date=end_date)
        only(evaluate(view(record)))

    def test_no_finding_when_employment_has_ended(self) -> None:
        """An end date before today means the person no longer needs access."""
        record = employee(start_date=TODAY - timedelta(days=30), end_date=TODAY - timedelta(days=1))
        assert evaluate(view(record)) == []

    def test_no_finding_with_an_active_account(self) -> None:
        """An ACTIVE IAM account means access exists."""
        assert evaluate(view(employee(), account(status="ACTIVE"))) == []

    def test_one_active_account_among_inactive_ones_is_enough(self) -> None:
        """Disabled accounts next to an active one do not bring the finding back."""
        person = view(
            employee(),
            account("acc-1", "DISABLED", "old"),
            account("acc-2", "ACTIVE", "new"),
            account("acc-3", "EXPIRED", "older"),
        )
        assert evaluate(person) == []

    @pytest.mark.parametrize("status", ["DISABLED", "EXPIRED", "DELETED", "UNKNOWN"])
    def test_inactive_accounts_do_not_count(self, status: str) -> None:
        """An account that is not ACTIVE does not give access, so the finding stays."""
        only(evaluate(view(employee(), account(status=status))))

    def test_no_finding_without_an_employee(self) -> None:
        """A person known only from IAM is no new hire."""
        assert evaluate(view(None)) == []
        assert evaluate(view(None, account(status="DISABLED"))) == []

    def test_no_finding_without_a_start_date(self) -> None:
        """Without a start date there is no deadline to report against."""
        assert evaluate(view(employee(start_date=None))) == []

    def test_evaluation_is_deterministic(self) -> None:
        """The same view and time give equal findings (tasks then see no change)."""
        person = view(employee(), account(status="DISABLED"))
        assert evaluate(person) == evaluate(person)

    def test_today_is_the_norwegian_calendar_day(self) -> None:
        """At 00:30 in Oslo (23:30 UTC) a start 14 days later on Oslo's calendar is due."""
        now = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # 2026-03-02 00:30 CET
        person = view(employee(start_date=date(2026, 3, 16)))
        only(
            evaluate(
                person, now=now, settings=RuleSettings.tuned(new_hire_access.RULE_ID, lead_days=14)
            )
        )

    def test_employment_ending_yesterday_in_oslo_has_ended(self) -> None:
        """At 00:30 in Oslo an employment that ended the Oslo day before is over."""
        now = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # 2026-03-02 00:30 CET
        record = employee(start_date=date(2026, 2, 1), end_date=date(2026, 3, 1))
        assert evaluate(view(record), now=now) == []


class TestTheFinding:
    def test_classification(self) -> None:
        """The finding is about the person, P1, owned by IAM, due halfway through the lead."""
        start = TODAY + timedelta(days=3)
        registered = TODAY - timedelta(days=30)
        finding = only(evaluate(view(employee(start_date=start, changed_date=registered))))
        assert finding.rule_id == new_hire_access.RULE_ID
        assert finding.subject == PERSON_KEY
        assert finding.severity is Severity.P1
        assert finding.owner_group == "iam"
        assert finding.due_date == start - timedelta(days=LEAD_DAYS // 2)
        assert finding.display_name == "Sigrid Bjørnstad"

    def test_a_late_registration_is_due_two_days_after_it(self) -> None:
        """A hire DFØ registered today, starting in 3 days, is due in 2 days, not already
        overdue; the two days are a setting."""
        start = TODAY + timedelta(days=3)
        record = build.employee(
            EMPLOYEE_ID,
            NOW,
            first_name="Sigrid",
            start_date=start,
            end_date=None,
            changed_date=TODAY,
        )
        hire = view(record)
        assert only(evaluate(hire)).due_date == TODAY + timedelta(days=2)
        slower = RuleSettings.tuned(
            new_hire_access.RULE_ID, lead_days=LEAD_DAYS, params={"late_registration_days": 3}
        )
        assert only(evaluate(hire, settings=slower)).due_date == start

    def test_evidence_names_the_dfo_start_date(self) -> None:
        """The evidence carries DFØ's start date with DFØ's source timestamp."""
        start = TODAY + timedelta(days=3)
        finding = only(evaluate(view(employee(start_date=start))))
        starts = [e for e in finding.evidence if e.field == "start_date"]
        assert len(starts) == 1
        assert starts[0].system == "dfo_sap"
        assert starts[0].value == start.isoformat()
        assert starts[0].source_timestamp == EMPLOYEE_STAMP

    def test_evidence_says_none_without_accounts(self) -> None:
        """Without any IAM account the evidence says so explicitly, as 'none'."""
        finding = only(evaluate(view(employee())))
        iam = [e for e in finding.evidence if e.system == "iam"]
        assert [e.value for e in iam] == ["none"]

    def test_evidence_lists_every_account_with_its_status(self) -> None:
        """Each inactive account appears in the evidence with its username and status."""
        person = view(
            employee(),
            account("acc-1", "DISABLED", "sigridb"),
            account("acc-2", "EXPIRED", "sigridb2"),
        )
        finding = only(evaluate(person))
        accounts = [e for e in finding.evidence if e.system == "cerebrum"]
        assert len(accounts) == 2
        texts = " | ".join(f"{e.field} {e.value}" for e in accounts)
        for expected in ("acc-1", "sigridb", "DISABLED", "acc-2", "sigridb2", "EXPIRED"):
            assert expected in texts
        assert all(e.source_timestamp == ACCOUNT_STAMP for e in accounts)
        assert not [e for e in finding.evidence if e.value == "none"]

    def test_evidence_without_an_employee_has_no_dfo_items(self) -> None:
        """The evidence function reports only what exists: no DFØ items without DFØ data."""
        items = new_hire_access.evidence(view(None, account(status="ACTIVE")))
        assert items
        assert all(e.system != "dfo_sap" for e in items)
        assert any("ACTIVE" in (e.value or "") for e in items)

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_mention_name_and_start_date(self, text: str) -> None:
        """Each title and description names the person and the ISO start date."""
        start = TODAY + timedelta(days=3)
        finding = only(evaluate(view(employee(start_date=start))))
        value = getattr(finding, text)
        assert "Sigrid Bjørnstad" in value
        assert start.isoformat() in value

    def test_norwegian_and_english_texts_differ(self) -> None:
        """The nb and en texts are separate translations, not copies."""
        finding = only(evaluate(view(employee())))
        assert finding.title_nb != finding.title_en
        assert finding.description_nb != finding.description_en
        assert finding.suggested_fix_nb != finding.suggested_fix_en
        assert finding.suggested_fix_nb.strip()
        assert finding.suggested_fix_en.strip()

    def test_texts_identify_a_nameless_hire_by_employee_number(self) -> None:
        """Without a name in DFØ the titles fall back to the employee number."""
        record = employee(first_name=None, last_name=None)
        finding = only(evaluate(view(record)))
        assert finding.display_name is None
        assert EMPLOYEE_ID in finding.title_nb
        assert EMPLOYEE_ID in finding.title_en
