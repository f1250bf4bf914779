"""Tests for the rule guest.registration_incomplete (hub/rules/guest_registration.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.clock import start_of_day
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import RuleSettings, guest_registration
from tests import rule_builders as build
from tests.rule_builders import only

RULE = guest_registration.RULE_ID
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
TODAY = date(2026, 11, 22)
STAMP = datetime(2026, 10, 14, 13, 5, tzinfo=UTC)
PERSON_KEY = "p-0123456789abcdef01234567"
SETTINGS = RuleSettings()
START = TODAY - timedelta(days=14)  # the role began exactly 14 days ago


def role(
    role_id: str = "930",
    start: date | None = START,
    end: date | None = date(2027, 1, 31),
) -> dict[str, Any]:
    """A Greg role as the Greg connector maps it."""
    return build.greg_role(role_id, start, end)


def identity(
    kind: str = "passport_number", verified: str | None = None, *, invalid: bool = False
) -> dict[str, Any]:
    """One Greg identity summary (type and verification, never the value)."""
    return {
        "type": kind,
        "verified": verified,
        "verified_at": STAMP if verified else None,
        "invalid": invalid,
    }


def guest(*roles: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A Greg guest who was invited but has neither registered nor verified an identity."""
    fields: dict[str, Any] = {
        "first_name": "Lukas",
        "last_name": "Schneider",
        "birth_date": None,
        "registration_completed": None,
        "national_id_pseudonym": None,
        "national_id_masked": None,
        "passports": [],
        "feide_id": None,
        "identities": [identity("private_mobile")],
        "roles": list(roles) if roles else [role()],
        "consents": [],
    }
    return build.greg_person("5120", STAMP, **(fields | overrides))


def complete(**overrides: Any) -> dict[str, Any]:
    """A guest who completed registration with a manually verified passport."""
    values: dict[str, Any] = {
        "birth_date": date(1990, 4, 3),
        "registration_completed": STAMP,
        "identities": [identity("passport_number", "manual")],
    }
    values.update(overrides)
    return guest(**values)


def view(*greg_records: dict[str, Any]) -> PersonView:
    """A person view holding the Greg records."""
    return PersonView.of(PERSON_KEY, "uio", [(SourceKind.GREG_PERSON, g) for g in greg_records])


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = SETTINGS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(guest_registration.evaluate(person, now, settings))


class TestFinding:
    def test_incomplete_registration_is_found(self) -> None:
        """A guest neither registered nor verified 14 days after the role began is found."""
        finding = only(evaluate(view(guest())))
        assert finding.rule_id == RULE
        assert finding.severity is Severity.P3
        assert finding.owner_group == "sponsor"
        assert finding.subject == f"{PERSON_KEY}/greg:5120"
        assert finding.due_date == START + timedelta(days=21)
        assert finding.display_name == "Lukas Schneider"

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_guest_and_the_role_start(self, text: str) -> None:
        """Titles and descriptions name the guest and the role's start date."""
        value = getattr(only(evaluate(view(guest()))), text)
        assert "Lukas Schneider" in value
        assert START.isoformat() in value

    def test_texts_say_what_is_missing(self) -> None:
        """Both missing steps are named, in bokmål and English."""
        finding = only(evaluate(view(guest())))
        assert "registration is not completed" in finding.description_en
        assert "no identity is verified" in finding.description_en
        assert "ikke fullført" in finding.description_nb
        assert "verifisert" in finding.description_nb
        assert "sponsor" in finding.suggested_fix_en

    def test_completed_but_unverified_is_found(self) -> None:
        """A completed registration without any verified identity is still found."""
        record = complete(identities=[identity("passport_number", None)])
        finding = only(evaluate(view(record)))
        assert "no identity is verified" in finding.description_en
        assert "registration is not completed" not in finding.description_en

    def test_invalid_verified_identity_does_not_count(self) -> None:
        """An identity verified but marked invalid does not verify the guest."""
        record = complete(identities=[identity("passport_number", "manual", invalid=True)])
        only(evaluate(view(record)))

    def test_verified_but_not_completed_is_found(self) -> None:
        """A verified identity does not make up for an unfinished registration."""
        record = complete(registration_completed=None)
        finding = only(evaluate(view(record)))
        assert "registration is not completed" in finding.description_en
        assert "no identity is verified" not in finding.description_en

    def test_evidence_lists_identity_types_without_values(self) -> None:
        """The evidence shows registration, each identity's type and state, and the role."""
        record = guest(
            identities=[
                identity("private_mobile"),
                identity("passport_number", "manual", invalid=True),
            ],
            passports=[{"country": "DE", "pseudonym": "hmac:pp:9f8e", "masked": "DE-*****12"}],
        )
        finding = only(evaluate(view(record)))
        by_field = {e.field: e.value for e in finding.evidence if e.system == "greg"}
        assert by_field["registration_completed"] == "not completed"
        assert by_field["identity private_mobile"] == "unverified"
        assert by_field["identity passport_number"] == "manual, invalid"
        assert by_field["role 930"] == (
            f"guest-researcher from {START.isoformat()} to 2027-01-31, sponsor 233"
        )
        values = " ".join(e.value or "" for e in finding.evidence)
        assert "9f8e" not in values
        assert "*****12" not in values

    def test_earliest_current_role_sets_the_deadline(self) -> None:
        """With several current roles, the earliest start decides the due date."""
        early = date(2026, 9, 1)
        record = guest(role("930"), role("931", start=early))
        assert only(evaluate(view(record))).due_date == early + timedelta(days=21)


class TestNoFinding:
    def test_completed_and_verified(self) -> None:
        """A completed registration with a verified identity is fine."""
        assert evaluate(view(complete())) == []

    def test_automatic_verification_counts(self) -> None:
        """An automatically verified identity (ID-porten, Feide) verifies the guest."""
        record = complete(identities=[identity("norwegian_national_id_number", "automatic")])
        assert evaluate(view(record)) == []

    def test_role_not_yet_due(self) -> None:
        """A role that began 13 days ago is not reported yet."""
        assert evaluate(view(guest(role(start=TODAY - timedelta(days=13))))) == []

    def test_future_role(self) -> None:
        """A guest invited for a role next month is not reported."""
        assert evaluate(view(guest(role(start=TODAY + timedelta(days=30))))) == []

    def test_role_ended(self) -> None:
        """A guest whose only role ended yesterday is no longer followed up."""
        record = guest(role(start=date(2026, 9, 1), end=TODAY - timedelta(days=1)))
        assert evaluate(view(record)) == []

    def test_no_roles(self) -> None:
        """Without any role there is no start date to count from."""
        assert evaluate(view(guest(roles=[]))) == []

    def test_no_greg_record(self) -> None:
        """A person without a Greg record gives nothing."""
        assert evaluate(view()) == []

    def test_evaluation_is_pure(self) -> None:
        """Evaluating twice gives equal findings."""
        person = view(guest())
        assert evaluate(person) == evaluate(person)
        assert evaluate(person)


class TestTiming:
    def test_appears_at_oslo_midnight_after_the_days(self) -> None:
        """One minute before midnight Oslo time on start + 14 days: none; at midnight: found."""
        start = date(2026, 12, 1)
        person = view(guest(role(start=start, end=date(2027, 3, 1))))
        moment = start_of_day(start + timedelta(days=14))
        assert moment == datetime(2026, 12, 14, 23, 0, tzinfo=UTC)
        assert evaluate(person, now=moment - timedelta(minutes=1)) == []
        finding = only(evaluate(person, now=moment))
        assert finding.due_date == date(2026, 12, 22)

    def test_next_check_is_the_day_the_finding_may_appear(self) -> None:
        """next_check returns midnight of start + days while the role is young."""
        start = date(2026, 12, 1)
        person = view(guest(role(start=start, end=date(2027, 3, 1))))
        assert guest_registration.next_check(person, NOW, SETTINGS) == start_of_day(
            date(2026, 12, 15)
        )

    def test_next_check_is_the_day_after_the_role_ends(self) -> None:
        """Once found, the next change is the day after the role ends."""
        person = view(guest())
        assert guest_registration.next_check(person, NOW, SETTINGS) == start_of_day(
            date(2027, 2, 1)
        )
        assert evaluate(person, now=start_of_day(date(2027, 2, 1))) == []

    def test_days_is_tunable(self) -> None:
        """The param 'days' moves both when the finding appears and its due date."""
        person = view(guest(role(start=TODAY - timedelta(days=7))))
        assert evaluate(person) == []
        settings = RuleSettings.tuned(RULE, params={"days": 7})
        finding = only(evaluate(person, settings=settings))
        assert finding.due_date == TODAY + timedelta(days=7)
        assert "after 7 days" in finding.description_en


class TestRealisticRecords:
    def test_external_consultant_with_unverified_passport(self) -> None:
        """A consultant invited with a passport identity nobody verified, who never
        finished registering, is found after two weeks; no identity value leaks."""
        record = {
            "institution": "uio",
            "source_system": "greg",
            "source_id": "21877",
            "source_timestamp": datetime(2026, 10, 28, 12, 44, 2, tzinfo=UTC),
            "greg_id": "21877",
            "first_name": "Marta",
            "last_name": "Kowalska",
            "birth_date": date(1987, 10, 23),
            "registration_completed": None,
            "national_id_pseudonym": None,
            "national_id_masked": None,
            "passports": [
                {"country": "PL", "pseudonym": "hmac:pp:77ab12", "masked": "PL-******91"}
            ],
            "feide_id": None,
            "identities": [
                {
                    "type": "passport_number",
                    "verified": None,
                    "verified_at": None,
                    "invalid": False,
                },
                {"type": "private_mobile", "verified": None, "verified_at": None, "invalid": False},
            ],
            "roles": [
                {
                    "role_id": "40552",
                    "type": "external-consultant",
                    "start_date": date(2026, 11, 2),
                    "end_date": date(2026, 12, 18),
                    "sponsor_id": "1044",
                    "org_unit_id": "208",
                    "org_unit_active": True,
                }
            ],
            "consents": [],
        }
        finding = only(evaluate(view(record)))
        assert finding.subject == f"{PERSON_KEY}/greg:21877"
        assert finding.due_date == date(2026, 11, 23)
        assert "Marta Kowalska" in finding.title_nb
        everything = " ".join(
            [finding.title_nb, finding.title_en, finding.description_nb, finding.description_en]
            + [e.value or "" for e in finding.evidence]
        )
        assert "77ab12" not in everything
        assert "******91" not in everything


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example gives exactly one finding of this rule."""
        person, now = guest_registration.example()
        finding = only(list(guest_registration.evaluate(person, now, SETTINGS)))
        assert finding.rule_id == RULE
        assert finding.owner_group == "sponsor"
