"""Tests for the rule web.profile_stale (mismatch 6: the web page differs from HR)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.clock import business_date
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import RuleSettings, web_profile_stale
from hub.rules.web_profile_stale import RULE_ID, phone_digits
from tests import rule_builders as build
from tests.rule_builders import only

DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HR_STAMP = NOW - timedelta(hours=2)
PAGE_STAMP = NOW - timedelta(minutes=30)
GRACE = timedelta(minutes=60)
DEFAULTS = RuleSettings()
PERSON_KEY = "p-0123456789abcdef01234567"
PAGE = "/personer/adm/usit/olah"


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee record with the fields the rule compares."""
    fields: dict[str, Any] = {
        "first_name": "Ola",
        "last_name": "Hansen",
        "title": "Professor",
        "org_unit_id": "50001234",
        "work_phone": "+47 22 85 50 50",
        "service_phone": None,
    }
    return build.employee("412345", HR_STAMP, **(fields | overrides))


def profile(**overrides: Any) -> dict[str, Any]:
    """A Vortex person page agreeing with :func:`employee`, its data taken a month ago."""
    record: dict[str, Any] = {
        "institution": "uio",
        "source_system": "vortex",
        "source_id": PAGE,
        "source_timestamp": PAGE_STAMP,
        "profile_id": PAGE,
        "username": "olah",
        "employee_id": "412345",
        "published_name": "Ola Hansen",
        "title": "Professor",
        "org_unit_id": "50001234",
        "org_unit_name": "USIT",
        "phone": "22855050",
        "email": "ola.hansen@usit.uio.no",
        "visible": True,
        "data_taken_at": HR_STAMP - timedelta(days=30),
        "data_source": "iam",
    }
    record.update(overrides)
    return record


def view(hr: dict[str, Any] | None, *pages: dict[str, Any]) -> PersonView:
    """A person view with the DFØ record and the pages."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, hr),
        *[(SourceKind.WEB_PROFILE, p) for p in pages],
        key=PERSON_KEY,
    )


def with_task(person: PersonView, detail: str, state: str = "OPEN") -> PersonView:
    """The view holding a task of this rule for ``detail`` in the given state."""
    task = {"task_id": "t-1", "rule_id": RULE_ID, "subject": f"{PERSON_KEY}/{detail}"}
    return dataclasses.replace(person, tasks={"t-1": {**task, "state": state}})


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = DEFAULTS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(web_profile_stale.evaluate(person, now, settings))


class TestWhenItFires:
    def test_other_title_is_found(self) -> None:
        """A shown page with another title than DFØ's gives one finding about that page."""
        finding = only(evaluate(view(employee(), profile(title="Førsteamanuensis"))))
        assert finding.rule_id == RULE_ID
        assert finding.subject == f"{PERSON_KEY}/profile:{PAGE}"
        assert "tittel" in finding.title_nb
        assert "title" in finding.title_en

    def test_agreeing_page_gives_nothing(self) -> None:
        """A page showing HR's name, title, unit and phone is not reported."""
        assert evaluate(view(employee(), profile())) == []

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("published_name", "Ola Hansen-Berg"),
            ("title", "Overingeniør"),
            ("org_unit_id", "50001300"),
            ("phone", "22 85 11 11"),
            ("phone", None),
            ("title", None),
        ],
    )
    def test_each_compared_field_counts(self, field: str, value: str | None) -> None:
        """Name, title, unit and phone each give a finding when the page shows otherwise
        (or nothing where HR has a value)."""
        only(evaluate(view(employee(), profile(**{field: value}))))

    def test_case_and_spacing_of_texts_do_not_count(self) -> None:
        """Name and title differing only in case or spacing are the same."""
        page = profile(published_name="  ola   HANSEN ", title="professor")
        assert evaluate(view(employee(), page)) == []

    @pytest.mark.parametrize(
        "shown", ["22855050", "+47 22 85 50 50", "0047 22855050", "22 85 50 50"]
    )
    def test_phone_is_compared_on_digits(self, shown: str) -> None:
        """Phone numbers are compared on their digits, with or without Norway's +47."""
        assert evaluate(view(employee(), profile(phone=shown))) == []

    def test_service_phone_also_matches(self) -> None:
        """A page showing DFØ's service phone (tjenestetelefon) agrees with HR."""
        hr = employee(work_phone="22850000", service_phone="22859999")
        assert evaluate(view(hr, profile(phone="22 85 99 99"))) == []

    def test_fields_hr_lacks_are_not_compared(self) -> None:
        """Where DFØ has no title or phone, the page's value is not reported."""
        hr = employee(title=None, work_phone=None)
        assert evaluate(view(hr, profile(title="Seniorrådgiver", phone="91234567"))) == []

    def test_every_differing_field_is_listed_in_one_finding(self) -> None:
        """Several differing fields give one finding naming them all, with both values."""
        page = profile(title="Førsteamanuensis", org_unit_id="50001200", phone="22851111")
        finding = only(evaluate(view(employee(), page)))
        for word in ("tittel", "enhet", "telefon"):
            assert word in finding.title_nb
        assert "navn" not in finding.title_nb
        for value in ("Professor", "Førsteamanuensis", "50001234", "50001200", "22851111"):
            assert value in finding.description_nb
            assert value in finding.description_en

    def test_one_finding_per_page(self) -> None:
        """Two differing pages give two findings, told apart by the page id."""
        other = profile(source_id="/english/people/olah", profile_id="/english/people/olah")
        findings = evaluate(view(employee(), profile(title="X"), {**other, "title": "Y"}))
        assert sorted(f.subject for f in findings) == [
            f"{PERSON_KEY}/profile:/english/people/olah",
            f"{PERSON_KEY}/profile:{PAGE}",
        ]

    def test_no_finding_without_dfo(self) -> None:
        """Without a DFØ record there is no HR value to compare with."""
        assert evaluate(view(None, profile(title="X"))) == []

    def test_hidden_page_is_not_reported_by_default(self) -> None:
        """A hidden page shows nothing to anyone, so it is not reported."""
        assert evaluate(view(employee(), profile(title="X", visible=False))) == []

    def test_evaluation_is_pure(self) -> None:
        """Evaluating the same view twice gives equal findings."""
        person = view(employee(), profile(title="X"))
        assert evaluate(person) == evaluate(person)


class TestTheFinding:
    def test_classification_and_due_date(self) -> None:
        """P3, due 14 days after the grace period ends, named for the person."""
        finding = only(evaluate(view(employee(), profile(title="Førsteamanuensis"))))
        assert finding.severity is Severity.P3
        assert finding.due_date == business_date(HR_STAMP + GRACE) + timedelta(days=14)
        assert finding.display_name == "Ola Hansen"
        for text in (finding.title_nb, finding.title_en, finding.description_nb):
            assert "Ola Hansen" in text

    def test_stale_overwrite_goes_to_iam(self) -> None:
        """Page data taken before HR's record is a stale overwrite, owned by IAM."""
        finding = only(evaluate(view(employee(), profile(title="Førsteamanuensis"))))
        assert finding.owner_group == "iam"
        assert "stale overwrite" in finding.description_en
        assert "stale overwrite" in finding.description_nb
        stale = [e for e in finding.evidence if "stale overwrite" in e.field]
        assert len(stale) == 1
        assert stale[0].system == "hub"

    @pytest.mark.parametrize("taken", [HR_STAMP, HR_STAMP + timedelta(minutes=5), None])
    def test_page_data_not_older_than_hr_goes_to_web(self, taken: datetime | None) -> None:
        """Page data taken at or after HR's record (or unknown) is the web editors' to fix."""
        finding = only(evaluate(view(employee(), profile(title="X", data_taken_at=taken))))
        assert finding.owner_group == "web"
        assert "stale overwrite" not in finding.description_en
        assert not [e for e in finding.evidence if "stale overwrite" in e.field]

    def test_evidence_holds_both_sides(self) -> None:
        """The evidence has DFØ's title with DFØ's timestamp and the page's with its own."""
        finding = only(evaluate(view(employee(), profile(title="Førsteamanuensis"))))
        hr = [e for e in finding.evidence if e.system == "dfo_sap" and e.field == "title"]
        web = [e for e in finding.evidence if e.system == "vortex" and e.field.endswith(" title")]
        assert [(e.value, e.source_timestamp) for e in hr] == [("Professor", HR_STAMP)]
        assert [(e.value, e.source_timestamp) for e in web] == [("Førsteamanuensis", PAGE_STAMP)]

    def test_texts_differ_by_language(self) -> None:
        """The nb and en texts are separate translations."""
        finding = only(evaluate(view(employee(), profile(title="X"))))
        assert finding.title_nb != finding.title_en
        assert finding.description_nb != finding.description_en
        assert finding.suggested_fix_nb != finding.suggested_fix_en


class TestTiming:
    def test_one_minute_before_the_grace_ends_nothing(self) -> None:
        """A page a few minutes behind HR is not reported within the grace period."""
        person = view(employee(), profile(title="X"))
        assert evaluate(person, now=HR_STAMP + GRACE - timedelta(minutes=1)) == []

    def test_at_the_end_of_the_grace_it_fires(self) -> None:
        """The finding appears exactly when the grace period after DFØ's timestamp ends."""
        only(evaluate(view(employee(), profile(title="X")), now=HR_STAMP + GRACE))

    def test_next_check_is_the_end_of_the_grace(self) -> None:
        """Within the grace, the re-check is its end; after it, none is needed."""
        person = view(employee(), profile(title="X"))
        assert web_profile_stale.next_check(person, HR_STAMP, DEFAULTS) == HR_STAMP + GRACE
        assert web_profile_stale.next_check(person, HR_STAMP + GRACE, DEFAULTS) is None

    def test_open_task_is_kept_through_a_new_grace(self) -> None:
        """A newer DFØ record restarting the grace does not drop an already reported page
        (its task would resolve and reopen); a resolved task or another page's does not
        count, and an agreeing page is not kept."""
        early = HR_STAMP + timedelta(minutes=1)
        person = view(employee(), profile(title="X"))
        assert evaluate(person, now=early) == []
        only(evaluate(with_task(person, f"profile:{PAGE}"), now=early))
        assert evaluate(with_task(person, f"profile:{PAGE}", "RESOLVED"), now=early) == []
        assert evaluate(with_task(person, "profile:/personer/other"), now=early) == []
        agreeing = with_task(view(employee(), profile()), f"profile:{PAGE}")
        assert evaluate(agreeing, now=early) == []

    def test_next_check_none_without_pages(self) -> None:
        """A person without pages never needs a re-check."""
        assert web_profile_stale.next_check(view(employee()), HR_STAMP, DEFAULTS) is None


class TestSettings:
    def test_grace_comes_from_the_settings(self) -> None:
        """A three-hour grace hides a difference two hours after HR's record."""
        person = view(employee(), profile(title="X"))
        assert evaluate(person, settings=RuleSettings.tuned(RULE_ID, grace_minutes=180)) == []
        only(evaluate(person, settings=RuleSettings.tuned(RULE_ID, grace_minutes=120)))

    def test_include_hidden_reports_hidden_pages(self) -> None:
        """With include_hidden, hidden pages are compared too."""
        person = view(employee(), profile(title="X", visible=False))
        settings = RuleSettings.tuned(RULE_ID, params={"include_hidden": True})
        only(evaluate(person, settings=settings))

    def test_due_days_come_from_the_settings(self) -> None:
        """The due date moves with the parameter due_days."""
        settings = RuleSettings.tuned(RULE_ID, params={"due_days": 3})
        finding = only(evaluate(view(employee(), profile(title="X")), settings=settings))
        assert finding.due_date == business_date(HR_STAMP + GRACE) + timedelta(days=3)


class TestRealisticRecords:
    def test_native_dfo_employee_against_a_vortex_page(self) -> None:
        """DFØ's native ansatt (mapped) against a page placing Kari in an old unit with an
        old title: one finding for title and unit, the service phone accepted."""
        body = json.loads((DATA / "dfo" / "ansatt_regular.json").read_text())
        fetched = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
        hr = map_employee(body, institution="uib", secret="s", fetched_at=fetched)
        page = {
            "institution": "uib",
            "source_system": "vortex",
            "source_id": "/personer/mn/kno012",
            "source_timestamp": datetime(2026, 11, 21, 3, 15, tzinfo=UTC),
            "profile_id": "/personer/mn/kno012",
            "username": "kno012",
            "employee_id": "123456",
            "published_name": "Kari Nordmann",
            "title": "Førsteamanuensis",
            "org_unit_id": "50001200",
            "org_unit_name": "Matematisk institutt",
            "phone": "+47 55 58 99 99",
            "email": "kari.nordmann@uib.no",
            "visible": True,
            "data_taken_at": datetime(2024, 3, 1, 2, 0, tzinfo=UTC),
            "data_source": "iam",
        }
        person = PersonView.of(
            "p-kari", "uib", [(SourceKind.DFO_EMPLOYEE, hr), (SourceKind.WEB_PROFILE, page)]
        )
        finding = only(evaluate(person, now=datetime(2026, 11, 22, 9, 0, tzinfo=UTC)))
        assert finding.owner_group == "iam"
        assert "tittel, enhet" in finding.title_nb
        assert "telefon" not in finding.title_nb
        assert "Kari Nordmann" in finding.title_en
        assert "123456" in finding.description_nb

    def test_phone_digits(self) -> None:
        """Phone digits drop formatting and the Norwegian country code only."""
        assert phone_digits("+47 55 58 00 00") == "55580000"
        assert phone_digits("55589999") == "55589999"
        assert phone_digits("+46 8 123 456 78") == "46812345678"
        assert phone_digits(" ") is None


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example gives a finding."""
        person, now = web_profile_stale.example()
        only(list(web_profile_stale.evaluate(person, now, DEFAULTS)))
