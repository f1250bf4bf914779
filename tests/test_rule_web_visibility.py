"""Tests for the rule web.visibility_conflict (mismatch 7: who is shown or hidden)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.clock import business_date, start_of_day
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import RuleSettings, web_visibility
from hub.rules.web_visibility import RULE_ID
from tests import rule_builders as build
from tests.rule_builders import only

DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TODAY = business_date(NOW)
HR_STAMP = NOW - timedelta(hours=3)
GREG_STAMP = NOW - timedelta(hours=5)
SYNC = timedelta(minutes=60)
DEFAULTS = RuleSettings()
PERSON_KEY = "p-0123456789abcdef01234567"
PAGE = "/personer/hf/ifikk/norab"
END = date(2026, 11, 20)
# The end date's grace (1 day) ends at the start of 2026-11-22 in Oslo.
LEFT_AT = start_of_day(END + timedelta(days=1)) + timedelta(days=1)


def employee(**overrides: Any) -> dict[str, Any]:
    """A current DFØ employee, not reserved."""
    fields: dict[str, Any] = {
        "first_name": "Nora",
        "last_name": "Berg",
        "start_date": date(2019, 1, 1),
        "end_date": None,
        "reserved_from_publication": False,
        "additional_positions": [],
    }
    return build.employee("398765", HR_STAMP, **(fields | overrides))


def page(**overrides: Any) -> dict[str, Any]:
    """A shown Vortex person page."""
    record: dict[str, Any] = {
        "institution": "uio",
        "source_system": "vortex",
        "source_id": PAGE,
        "source_timestamp": NOW - timedelta(minutes=10),
        "profile_id": PAGE,
        "username": "norab",
        "published_name": "Nora Berg",
        "visible": True,
    }
    record.update(overrides)
    return record


def guest(
    *, publish: bool | None = None, roles: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A Greg guest record with an optional publish consent and roles."""
    return {
        "institution": "uio",
        "source_system": "greg",
        "source_id": "2041",
        "source_timestamp": GREG_STAMP,
        "greg_id": "2041",
        "first_name": "Nora",
        "last_name": "Berg",
        "roles": roles or [],
        "consents": [] if publish is None else [{"type": "publish", "choice": publish}],
    }


def role(start: date, end: date | None) -> dict[str, Any]:
    """A guest-researcher role at IFIKK."""
    return {
        "role_id": "77",
        "type": "guest-researcher",
        "start_date": start,
        "end_date": end,
        "sponsor_id": "12",
        "org_unit_id": "342",
        "org_unit_active": True,
    }


def iam_person(**overrides: Any) -> dict[str, Any]:
    """A Cerebrum person."""
    record: dict[str, Any] = {
        "institution": "uio",
        "source_system": "cerebrum",
        "source_id": "55123",
        "source_timestamp": NOW - timedelta(hours=4),
        "iam_person_id": "55123",
        "affiliations": [],
        "public_visibility_consent": None,
    }
    record.update(overrides)
    return record


def view(
    hr: dict[str, Any] | None,
    *pages: dict[str, Any],
    greg: dict[str, Any] | None = None,
    iam: dict[str, Any] | None = None,
) -> PersonView:
    """A person view from the given records."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, hr),
        *[(SourceKind.WEB_PROFILE, p) for p in pages],
        (SourceKind.GREG_PERSON, greg),
        (SourceKind.IAM_PERSON, iam),
        key=PERSON_KEY,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = DEFAULTS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(web_visibility.evaluate(person, now, settings))


class TestReservedButShown:
    def test_reserved_and_shown_fires(self) -> None:
        """A page shown for a person reserved in DFØ is a P2 finding for the web team,
        due the day the sync window after DFØ's record ends."""
        finding = only(evaluate(view(employee(reserved_from_publication=True), page())))
        assert finding.rule_id == RULE_ID
        assert finding.subject == f"{PERSON_KEY}/reserved:{PAGE}"
        assert finding.severity is Severity.P2
        assert finding.owner_group == "web"
        assert finding.due_date == business_date(HR_STAMP + SYNC)
        for text in (finding.title_nb, finding.title_en, finding.description_nb):
            assert "Nora Berg" in text

    def test_evidence_names_the_reservation_and_the_page(self) -> None:
        """The evidence holds DFØ's reservation and the page's visibility with timestamps."""
        finding = only(evaluate(view(employee(reserved_from_publication=True), page())))
        reserved = [e for e in finding.evidence if e.field == "reserved_from_publication"]
        assert [(e.system, e.value, e.source_timestamp) for e in reserved] == [
            ("dfo_sap", "True", HR_STAMP)
        ]
        shown = [e for e in finding.evidence if e.field == f"profile {PAGE} visible"]
        assert [(e.system, e.value) for e in shown] == [("vortex", "True")]

    def test_hidden_page_of_a_reserved_person_is_fine(self) -> None:
        """A reserved person's hidden page is as it should be."""
        assert evaluate(view(employee(reserved_from_publication=True), page(visible=False))) == []

    def test_not_reserved_and_shown_is_fine(self) -> None:
        """A current, unreserved employee's shown page is as it should be."""
        assert evaluate(view(employee(), page())) == []

    def test_explicit_consent_overrides_the_reservation(self) -> None:
        """A manual consent to publish wins over the reservation (UiO's rule), so no finding."""
        person = view(
            employee(reserved_from_publication=True),
            page(),
            iam=iam_person(public_visibility_consent=True),
        )
        assert evaluate(person) == []

    def test_one_minute_before_the_sync_window_ends_nothing(self) -> None:
        """Within the sync window after DFØ's record the page may still be updating."""
        person = view(employee(reserved_from_publication=True), page())
        assert evaluate(person, now=HR_STAMP + SYNC - timedelta(minutes=1)) == []
        only(evaluate(person, now=HR_STAMP + SYNC))

    def test_next_check_is_the_end_of_the_sync_window(self) -> None:
        """Before the window ends, the re-check is its end."""
        person = view(employee(reserved_from_publication=True), page())
        assert web_visibility.next_check(person, HR_STAMP, DEFAULTS) == HR_STAMP + SYNC

    def test_due_on_the_page_records_date_when_it_is_later(self) -> None:
        """A reservation two days old against a page recorded today is due today."""
        hr = employee(reserved_from_publication=True, source_timestamp=NOW - timedelta(days=2))
        finding = only(evaluate(view(hr, page())))
        assert finding.due_date == TODAY

    def test_due_on_dfos_date_when_the_page_record_is_older(self) -> None:
        """A page recorded a week ago, reserved in DFØ three hours ago, is due today (DFØ's
        date), not a week back."""
        shown = page(source_timestamp=NOW - timedelta(days=7))
        finding = only(evaluate(view(employee(reserved_from_publication=True), shown)))
        assert finding.due_date == business_date(HR_STAMP + SYNC) == TODAY

    def test_open_task_is_kept_through_a_new_sync_window(self) -> None:
        """A refetched DFØ record restarting the sync window does not drop the open
        reservation task's finding; without an open task it waits for the window."""
        person = view(employee(reserved_from_publication=True), page())
        early = HR_STAMP + timedelta(minutes=5)
        assert evaluate(person, now=early) == []
        task = {
            "task_id": "t-1",
            "rule_id": RULE_ID,
            "subject": f"{PERSON_KEY}/reserved:{PAGE}",
            "state": "OPEN",
        }
        kept = dataclasses.replace(person, tasks={"t-1": task})
        assert only(evaluate(kept, now=early)).subject == task["subject"]
        hidden = dataclasses.replace(
            view(employee(reserved_from_publication=True), page(visible=False)),
            tasks={"t-1": task},
        )
        assert evaluate(hidden, now=early) == []

    def test_sync_window_comes_from_the_settings(self) -> None:
        """With sync_minutes 240, a reservation three hours old is not reported yet."""
        person = view(employee(reserved_from_publication=True), page())
        settings = RuleSettings.tuned(RULE_ID, params={"sync_minutes": 240})
        assert evaluate(person, settings=settings) == []
        assert web_visibility.next_check(person, NOW, settings) == HR_STAMP + timedelta(hours=4)


class TestConsentButHidden:
    def test_greg_publish_consent_with_a_hidden_page_fires(self) -> None:
        """A guest who said yes to publish, with an active role, and a hidden page is found,
        due seven days after the sync window."""
        person = view(
            None,
            page(visible=False),
            greg=guest(publish=True, roles=[role(date(2026, 1, 1), date(2027, 6, 30))]),
        )
        finding = only(evaluate(person))
        assert finding.subject == f"{PERSON_KEY}/consent:{PAGE}"
        assert finding.due_date == business_date(GREG_STAMP + SYNC) + timedelta(days=7)
        consent = [e for e in finding.evidence if e.field == "consent publish"]
        assert [(e.system, e.value) for e in consent] == [("greg", "True")]

    def test_iam_consent_of_an_employee_with_a_hidden_page_fires(self) -> None:
        """An employee with IAM's public_visibility_consent true and a hidden page is found."""
        person = view(
            employee(), page(visible=False), iam=iam_person(public_visibility_consent=True)
        )
        assert only(evaluate(person)).subject == f"{PERSON_KEY}/consent:{PAGE}"

    @pytest.mark.parametrize("consent", [False, None])
    def test_no_explicit_yes_no_finding(self, consent: bool | None) -> None:
        """A consent answered no, or none at all, does not ask for the page to be shown."""
        roles = [role(date(2026, 1, 1), None)]
        person = view(None, page(visible=False), greg=guest(publish=consent, roles=roles))
        assert evaluate(person) == []

    def test_consent_without_any_active_relation_is_fine(self) -> None:
        """A guest whose roles have ended is rightly hidden, consent or not."""
        roles = [role(date(2025, 1, 1), date(2026, 6, 30))]
        person = view(None, page(visible=False), greg=guest(publish=True, roles=roles))
        assert evaluate(person) == []

    def test_consent_due_days_come_from_the_settings(self) -> None:
        """The due date of the consent case moves with consent_due_days."""
        roles = [role(date(2026, 1, 1), None)]
        person = view(None, page(visible=False), greg=guest(publish=True, roles=roles))
        settings = RuleSettings.tuned(RULE_ID, params={"consent_due_days": 2})
        finding = only(evaluate(person, settings=settings))
        assert finding.due_date == business_date(GREG_STAMP + SYNC) + timedelta(days=2)


class TestLeftButShown:
    def test_leaver_still_shown_fires_after_the_grace(self) -> None:
        """A page still shown once a day has passed after the end date is found, due that day."""
        person = view(employee(end_date=END), page())
        finding = only(evaluate(person, now=LEFT_AT))
        assert finding.subject == f"{PERSON_KEY}/left:{PAGE}"
        assert finding.due_date == business_date(LEFT_AT) == date(2026, 11, 22)
        assert END.isoformat() in finding.title_nb
        assert END.isoformat() in finding.description_en
        assert "Nora Berg" in finding.title_en

    def test_one_minute_before_the_grace_ends_nothing(self) -> None:
        """Within a day after the end date the page may still be coming down."""
        person = view(employee(end_date=END), page())
        assert evaluate(person, now=LEFT_AT - timedelta(minutes=1)) == []

    def test_next_check_is_the_end_of_the_grace(self) -> None:
        """Before the grace ends, the re-check is exactly its end."""
        person = view(employee(end_date=END), page())
        assert web_visibility.next_check(person, LEFT_AT - timedelta(hours=5), DEFAULTS) == LEFT_AT
        assert web_visibility.next_check(person, LEFT_AT, DEFAULTS) is None

    def test_active_guest_role_keeps_the_page(self) -> None:
        """A leaver who is now a guest researcher may still be shown."""
        roles = [role(END + timedelta(days=1), date(2027, 12, 31))]
        person = view(employee(end_date=END), page(), greg=guest(roles=roles))
        assert evaluate(person, now=LEFT_AT) == []

    def test_student_affiliation_keeps_the_page(self) -> None:
        """An IAM affiliation from another source (a student from FS) counts as another role."""
        affiliation = {
            "affiliation": "STUDENT",
            "status": "aktiv",
            "org_unit_id": "342",
            "source_system": "FS",
        }
        person = view(employee(end_date=END), page(), iam=iam_person(affiliations=[affiliation]))
        assert evaluate(person, now=LEFT_AT) == []

    def test_affiliation_copied_from_dfo_does_not_count(self) -> None:
        """IAM's lingering ANSATT affiliation from DFØ is not another role."""
        affiliation = {
            "affiliation": "ANSATT",
            "status": "vitenskapelig",
            "org_unit_id": "342",
            "source_system": "DFO_SAP",
        }
        person = view(employee(end_date=END), page(), iam=iam_person(affiliations=[affiliation]))
        only(evaluate(person, now=LEFT_AT))

    @pytest.mark.parametrize(("kind", "fires"), [("STUDENT", False), ("ANSATT", True)])
    def test_affiliation_without_a_source(self, kind: str, fires: bool) -> None:
        """An affiliation whose source IAM does not name counts as another role unless it is
        ANSATT (which the DFØ employment gives)."""
        affiliation = {"affiliation": kind, "status": None, "org_unit_id": "342"}
        person = view(employee(end_date=END), page(), iam=iam_person(affiliations=[affiliation]))
        assert len(evaluate(person, now=LEFT_AT)) == (1 if fires else 0)

    @pytest.mark.parametrize(("status", "fires"), [("DISABLED", True), ("ACTIVE", False)])
    def test_affiliations_count_only_on_active_accounts(self, status: str, fires: bool) -> None:
        """A student affiliation on a disabled account does not keep the page; on an active
        account it does."""
        account = {
            "institution": "uio",
            "source_system": "cerebrum",
            "source_id": "acc-9",
            "source_timestamp": NOW - timedelta(hours=4),
            "iam_person_id": "55123",
            "username": "norab",
            "status": status,
            "affiliations": [{"affiliation": "STUDENT", "source_system": "FS"}],
        }
        person = PersonView.of(
            PERSON_KEY,
            "uio",
            [
                (SourceKind.DFO_EMPLOYEE, employee(end_date=END)),
                (SourceKind.WEB_PROFILE, page()),
                (SourceKind.IAM_ACCOUNT, account),
            ],
        )
        assert len(evaluate(person, now=LEFT_AT)) == (1 if fires else 0)

    def test_grace_comes_from_the_settings(self) -> None:
        """With a three-day grace the leaver's page is not reported a day after the end."""
        person = view(employee(end_date=END), page())
        settings = RuleSettings.tuned(RULE_ID, grace_minutes=3 * 24 * 60)
        assert evaluate(person, now=LEFT_AT, settings=settings) == []

    def test_reserved_leaver_gives_only_the_reserved_finding(self) -> None:
        """A reserved leaver's shown page is reported once, as the reservation case (not
        as a leaver's page first and a reserved one later)."""
        person = view(employee(end_date=END, reserved_from_publication=True), page())
        assert HR_STAMP + SYNC > LEFT_AT, "precondition: the leaver's grace ends first"
        assert evaluate(person, now=LEFT_AT) == []
        finding = only(evaluate(person, now=HR_STAMP + SYNC))
        assert finding.subject == f"{PERSON_KEY}/reserved:{PAGE}"


class TestGeneral:
    def test_no_pages_no_findings_and_no_recheck(self) -> None:
        """Without a page there is nothing shown or hidden."""
        person = view(employee(reserved_from_publication=True, end_date=END))
        assert evaluate(person) == []
        assert web_visibility.next_check(person, NOW, DEFAULTS) is None

    def test_evaluation_is_pure(self) -> None:
        """Evaluating twice gives equal findings."""
        person = view(employee(reserved_from_publication=True), page())
        assert evaluate(person) == evaluate(person)

    def test_native_dfo_reservation(self) -> None:
        """DFØ's native 'reservasjonPublisering: J' (mapped) against a shown page fires."""
        body = json.loads((DATA / "dfo" / "ansatt_regular.json").read_text())
        body["ansatt"][0]["reservasjonPublisering"] = "J"
        fetched = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
        hr = map_employee(body, institution="uib", secret="s", fetched_at=fetched)
        shown = page(
            institution="uib",
            source_id="/personer/mn/kno012",
            profile_id="/personer/mn/kno012",
            username="kno012",
            published_name="Kari Nordmann",
        )
        person = PersonView.of(
            "p-kari", "uib", [(SourceKind.DFO_EMPLOYEE, hr), (SourceKind.WEB_PROFILE, shown)]
        )
        finding = only(evaluate(person))
        assert finding.due_date == business_date(shown["source_timestamp"]) == TODAY
        assert "Kari Nordmann" in finding.title_nb
        assert "/personer/mn/kno012" in finding.title_en

    def test_example_fires(self) -> None:
        """The catalogue example gives a finding."""
        person, now = web_visibility.example()
        only(list(web_visibility.evaluate(person, now, DEFAULTS)))
