"""Tests for the rule guest.access_missing_or_short (hub/rules/guest_access.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.clock import start_of_day
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import RuleSettings, guest_access
from tests import rule_builders as build
from tests.rule_builders import only

RULE = guest_access.RULE_ID
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
TODAY = date(2026, 11, 22)
GREG_STAMP = datetime(2026, 10, 20, 9, 12, tzinfo=UTC)
ACCOUNT_STAMP = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
PERSON_KEY = "p-0123456789abcdef01234567"
SETTINGS = RuleSettings()
ROLE_START = date(2026, 11, 1)
ROLE_END = date(2027, 4, 30)


def role(
    role_id: str = "812",
    start: date | None = ROLE_START,
    end: date | None = ROLE_END,
    kind: str = "guest-researcher",
) -> dict[str, Any]:
    """A Greg role (person_role) as the Greg connector maps it."""
    return build.greg_role(role_id, start, end, kind)


def guest(*roles: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A Greg person who completed registration, with the given roles."""
    fields: dict[str, Any] = {
        "first_name": "Ingrid",
        "last_name": "Haugland",
        "birth_date": date(1961, 3, 14),
        "registration_completed": GREG_STAMP,
        "national_id_pseudonym": None,
        "national_id_masked": None,
        "passports": [],
        "feide_id": None,
        "identities": [
            {
                "type": "passport_number",
                "verified": "manual",
                "verified_at": GREG_STAMP,
                "invalid": False,
            }
        ],
        "roles": list(roles) if roles else [role()],
        "consents": [],
    }
    return build.greg_person("4711", GREG_STAMP, **(fields | overrides))


def account(
    account_id: str = "acc-1",
    status: str = "ACTIVE",
    expires_on: date | None = ROLE_END,
    username: str = "ingridha",
) -> dict[str, Any]:
    """A Cerebrum account record of the guest."""
    return build.account(
        account_id,
        ACCOUNT_STAMP,
        iam_person_id="cer-5521",
        username=username,
        feide_principal_name=f"{username}@uio.no",
        status=status,
        expires_on=expires_on,
        affiliations=[
            {
                "affiliation": "TILKNYTTET",
                "status": "gjesteforsker",
                "org_unit_id": "17",
                "source_system": "GREG",
            }
        ],
        external_ids=[{"id_type": "GREG_PID", "value": "4711"}],
        publicly_visible=False,
    )


def view(
    greg_record: dict[str, Any] | None, *accounts: dict[str, Any], tasks: Any = None
) -> PersonView:
    """A person view with the Greg record and accounts (and tasks, if given)."""
    return build.person(
        (SourceKind.GREG_PERSON, greg_record),
        *[(SourceKind.IAM_ACCOUNT, a) for a in accounts],
        key=PERSON_KEY,
        tasks=tasks,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = SETTINGS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(guest_access.evaluate(person, now, settings))


class TestMissingAccount:
    def test_active_guest_without_account_is_found(self) -> None:
        """A registered guest with an active role and no account gives a P2 IAM finding."""
        finding = only(evaluate(view(guest())))
        assert finding.rule_id == RULE
        assert finding.severity is Severity.P2
        assert finding.owner_group == "iam"
        assert finding.subject == f"{PERSON_KEY}/role:812"
        assert finding.due_date == ROLE_START
        assert finding.display_name == "Ingrid Haugland"

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_guest_and_the_role(self, text: str) -> None:
        """Titles and descriptions name the guest, the role type and its start date."""
        value = getattr(only(evaluate(view(guest()))), text)
        assert "Ingrid Haugland" in value
        assert "guest-researcher" in value
        assert ROLE_START.isoformat() in value

    def test_fix_mentions_the_sponsor(self) -> None:
        """The suggested fix tells IAM what to do and that the sponsor may need to act."""
        finding = only(evaluate(view(guest())))
        assert "IAM" in finding.suggested_fix_en
        assert "sponsor" in finding.suggested_fix_en
        assert "sponsor" in finding.suggested_fix_nb
        assert finding.suggested_fix_nb != finding.suggested_fix_en

    def test_evidence_shows_greg_and_no_accounts(self) -> None:
        """The evidence carries Greg's registration and role, and IAM's 'none'."""
        finding = only(evaluate(view(guest())))
        by_field = {(e.system, e.field): e for e in finding.evidence}
        assert by_field[("greg", "registration_completed")].value == GREG_STAMP.isoformat()
        assert by_field[("greg", "date_of_birth")].value == "set"
        role_item = by_field[("greg", "role 812")]
        assert role_item.value == "guest-researcher from 2026-11-01 to 2027-04-30"
        assert role_item.source_timestamp == GREG_STAMP
        assert by_field[("iam", "accounts")].value == "none"

    def test_evidence_never_shows_the_birth_date(self) -> None:
        """The guest's birth date stays out of the evidence (only 'set' or 'missing')."""
        finding = only(evaluate(view(guest())))
        assert all("1961" not in (e.value or "") for e in finding.evidence)

    @pytest.mark.parametrize("status", ["DISABLED", "EXPIRED", "DELETED", "UNKNOWN"])
    def test_inactive_account_counts_as_missing(self, status: str) -> None:
        """An account that is not ACTIVE gives no access, so the finding stays."""
        finding = only(evaluate(view(guest(), account(status=status))))
        assert finding.due_date == ROLE_START
        assert "cerebrum" in {e.system for e in finding.evidence}

    def test_active_account_past_its_expiry_counts_as_missing(self) -> None:
        """An ACTIVE account whose expiry date has passed gives no access either."""
        finding = only(evaluate(view(guest(), account(expires_on=TODAY - timedelta(days=1)))))
        assert finding.due_date == ROLE_START
        assert "Guest without an account" in finding.title_en

    def test_due_on_registration_day_when_registered_after_start(self) -> None:
        """A guest who completed registration after the role began is due that day."""
        completed = datetime(2026, 11, 9, 14, 0, tzinfo=UTC)
        record = guest(registration_completed=completed, source_timestamp=completed)
        assert only(evaluate(view(record))).due_date == date(2026, 11, 9)

    def test_one_finding_per_active_role(self) -> None:
        """Two active roles give two findings, told apart by role id."""
        record = guest(role("812"), role("813", kind="external-partner"))
        subjects = {f.subject for f in evaluate(view(record))}
        assert subjects == {f"{PERSON_KEY}/role:812", f"{PERSON_KEY}/role:813"}


class TestShortAccount:
    def test_account_expiring_before_the_role_ends_is_found(self) -> None:
        """An active account expiring before the role's end gives a finding due at expiry."""
        expiry = date(2027, 1, 31)
        finding = only(evaluate(view(guest(), account(expires_on=expiry))))
        assert finding.due_date == expiry
        assert finding.subject == f"{PERSON_KEY}/role:812"
        assert expiry.isoformat() in finding.title_en
        assert ROLE_END.isoformat() in finding.title_nb
        assert "halfway" in finding.description_en
        assert "sponsor" in finding.suggested_fix_en

    def test_account_expiring_on_the_role_end_is_fine(self) -> None:
        """An account lasting through the role's last day gives no finding."""
        assert evaluate(view(guest(), account(expires_on=ROLE_END))) == []

    def test_account_without_expiry_is_fine(self) -> None:
        """An account that never expires covers any role."""
        assert evaluate(view(guest(), account(expires_on=None))) == []

    def test_the_latest_expiring_active_account_counts(self) -> None:
        """One active account lasting to the role's end is enough among shorter ones."""
        person = view(
            guest(),
            account("acc-1", expires_on=date(2026, 12, 31)),
            account("acc-2", expires_on=ROLE_END, username="ingridh2"),
        )
        assert evaluate(person) == []

    def test_evidence_lists_the_account_with_status_and_expiry(self) -> None:
        """The account appears in the evidence with username, status and expiry."""
        finding = only(evaluate(view(guest(), account(expires_on=date(2027, 1, 31)))))
        items = [e for e in finding.evidence if e.system == "cerebrum"]
        assert [e.value for e in items] == ["ingridha: ACTIVE, expires 2027-01-31"]
        assert items[0].source_timestamp == ACCOUNT_STAMP


class TestNoFinding:
    def test_registration_not_completed(self) -> None:
        """A guest who has not completed registration is not active (another rule's job)."""
        assert evaluate(view(guest(registration_completed=None))) == []

    def test_birth_date_missing(self) -> None:
        """A guest without a date of birth is not active in Greg."""
        assert evaluate(view(guest(birth_date=None))) == []

    def test_role_not_started(self) -> None:
        """A role starting tomorrow does not need an account yet."""
        assert evaluate(view(guest(role(start=TODAY + timedelta(days=1))))) == []

    def test_role_ended(self) -> None:
        """A role that ended yesterday needs no account."""
        record = guest(role(start=date(2026, 1, 1), end=TODAY - timedelta(days=1)))
        assert evaluate(view(record)) == []

    def test_role_ending_today_is_still_active(self) -> None:
        """A role is active through its end date."""
        only(evaluate(view(guest(role(start=date(2026, 1, 1), end=TODAY)))))

    def test_active_account_lasting_the_role(self) -> None:
        """An active account valid to the role's end is what the guest needs."""
        assert evaluate(view(guest(), account())) == []

    def test_no_greg_record(self) -> None:
        """A person with no Greg record is no guest."""
        assert evaluate(view(None, account(status="DISABLED"))) == []

    def test_role_without_start_date(self) -> None:
        """A role without a start date is never active."""
        assert evaluate(view(guest(role(start=None)))) == []

    def test_evaluation_is_pure(self) -> None:
        """Evaluating twice gives equal findings."""
        person = view(guest(), account(expires_on=date(2027, 1, 1)))
        assert evaluate(person) == evaluate(person)
        assert evaluate(person)


class TestTiming:
    def test_grace_after_the_record_arrives(self) -> None:
        """A role added today waits the 60-minute grace after the Greg record's timestamp."""
        arrived = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
        record = guest(role(start=TODAY), source_timestamp=arrived, registration_completed=arrived)
        person = view(record)
        assert evaluate(person, now=arrived + timedelta(minutes=59)) == []
        only(evaluate(person, now=arrived + timedelta(minutes=60)))

    def test_next_check_is_the_end_of_grace(self) -> None:
        """Within the grace period the re-check falls exactly when the grace ends."""
        arrived = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
        record = guest(role(start=TODAY), source_timestamp=arrived, registration_completed=arrived)
        now = arrived + timedelta(minutes=5)
        assert guest_access.next_check(view(record), now, SETTINGS) == arrived + timedelta(
            minutes=60
        )

    def test_grace_after_registration_is_completed(self) -> None:
        """Grace also runs from registration completion (IAM provisions on it)."""
        completed = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
        record = guest(registration_completed=completed, source_timestamp=GREG_STAMP)
        person = view(record)
        assert evaluate(person, now=completed + timedelta(minutes=59)) == []
        only(evaluate(person, now=completed + timedelta(minutes=60)))

    def test_role_start_at_oslo_midnight(self) -> None:
        """With no grace, the finding appears at midnight Oslo time on the start date."""
        settings = RuleSettings.tuned(RULE, grace_minutes=0)
        start = date(2026, 12, 1)
        person = view(guest(role(start=start)))
        midnight = start_of_day(start)
        assert midnight == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
        assert evaluate(person, now=midnight - timedelta(minutes=1), settings=settings) == []
        only(evaluate(person, now=midnight, settings=settings))
        assert guest_access.next_check(person, NOW, settings) == midnight

    def test_default_grace_holds_the_start_by_an_hour(self) -> None:
        """With the default grace a role starting today is reported from 01:00 Oslo time."""
        start = date(2026, 12, 1)
        person = view(guest(role(start=start)))
        midnight = start_of_day(start)
        assert evaluate(person, now=midnight + timedelta(minutes=59)) == []
        only(evaluate(person, now=midnight + timedelta(minutes=60)))
        assert guest_access.next_check(person, midnight, SETTINGS) == midnight + timedelta(
            minutes=60
        )

    def test_grace_is_tunable(self) -> None:
        """A longer grace in the settings holds the finding back longer."""
        arrived = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
        person = view(guest(source_timestamp=arrived))
        now = arrived + timedelta(minutes=90)
        only(evaluate(person, now=now))
        assert evaluate(person, now=now, settings=RuleSettings.tuned(RULE, grace_minutes=120)) == []

    def test_open_task_is_not_held_back_by_a_new_greg_version(self) -> None:
        """A Greg update within grace does not resolve a finding whose task is open."""
        arrived = NOW - timedelta(minutes=10)
        subject = f"{PERSON_KEY}/role:812"
        task = {"task_id": "task-1", "rule_id": RULE, "subject": subject, "state": "OPEN"}
        record = guest(source_timestamp=arrived)
        assert evaluate(view(record)) == []
        only(evaluate(view(record, tasks={"task-1": task})))
        resolved = {**task, "state": "RESOLVED"}
        assert evaluate(view(record, tasks={"task-1": resolved})) == []

    def test_next_check_after_role_end(self) -> None:
        """Once grace has passed, the next re-check is the day after the role ends."""
        person = view(guest(), account(expires_on=ROLE_END + timedelta(days=30)))
        assert guest_access.next_check(person, NOW, SETTINGS) == start_of_day(
            ROLE_END + timedelta(days=1)
        )

    def test_next_check_after_account_expiry(self) -> None:
        """An account expiring before the role's end is re-checked the day after expiry."""
        expiry = date(2027, 1, 31)
        person = view(guest(), account(expires_on=expiry))
        assert guest_access.next_check(person, NOW, SETTINGS) == start_of_day(
            expiry + timedelta(days=1)
        )
        after = start_of_day(expiry + timedelta(days=1))
        finding = only(evaluate(person, now=after))
        assert "Guest without an account" in finding.title_en

    def test_no_next_check_without_future_dates(self) -> None:
        """A guest whose roles and grace lie in the past needs no re-check."""
        record = guest(role(start=date(2025, 1, 1), end=date(2025, 6, 30)))
        assert guest_access.next_check(view(record), NOW, SETTINGS) is None


class TestRealisticRecords:
    def test_guest_researcher_whose_cerebrum_account_ends_early(self) -> None:
        """A visiting researcher with a Feide-verified identity and a Cerebrum account
        expiring at new year, while the Greg role runs to the summer, is found."""
        registered = datetime(2026, 8, 14, 11, 42, 7, tzinfo=UTC)
        greg_record = {
            "institution": "uio",
            "source_system": "greg",
            "source_id": "20931",
            "source_timestamp": datetime(2026, 9, 1, 6, 3, 11, tzinfo=UTC),
            "greg_id": "20931",
            "first_name": "Åsmund",
            "last_name": "Ødegård",
            "birth_date": date(1979, 6, 2),
            "registration_completed": registered,
            "national_id_pseudonym": "hmac:nin:c2a1f0",
            "national_id_masked": "020679*****",
            "passports": [],
            "feide_id": "asmundo@ntnu.no",
            "identities": [
                {
                    "type": "norwegian_national_id_number",
                    "verified": "automatic",
                    "verified_at": registered,
                    "invalid": False,
                },
                {
                    "type": "feide_id",
                    "verified": "automatic",
                    "verified_at": registered,
                    "invalid": False,
                },
                {"type": "private_mobile", "verified": None, "verified_at": None, "invalid": False},
            ],
            "roles": [
                {
                    "role_id": "40117",
                    "type": "guest-researcher",
                    "start_date": date(2026, 9, 1),
                    "end_date": date(2027, 6, 30),
                    "sponsor_id": "1882",
                    "org_unit_id": "311",
                    "org_unit_active": True,
                }
            ],
            "consents": [{"type": "publish", "choice": False}],
        }
        cerebrum = {
            "institution": "uio",
            "source_system": "cerebrum",
            "source_id": "887123",
            "source_timestamp": datetime(2026, 9, 1, 6, 20, tzinfo=UTC),
            "iam_person_id": "612004",
            "username": "asmundod",
            "feide_principal_name": "asmundod@uio.no",
            "status": "ACTIVE",
            "expires_on": date(2026, 12, 31),
            "affiliations": [
                {
                    "affiliation": "TILKNYTTET",
                    "status": "gjesteforsker",
                    "org_unit_id": "311",
                    "source_system": "GREG",
                }
            ],
            "external_ids": [{"id_type": "GREG_PID", "value": "20931"}],
            "publicly_visible": False,
        }
        person = view(greg_record, cerebrum)
        finding = only(evaluate(person))
        assert finding.subject == f"{PERSON_KEY}/role:40117"
        assert finding.due_date == date(2026, 12, 31)
        assert "Åsmund Ødegård" in finding.title_nb
        assert "2027-06-30" in finding.description_en
        texts = " ".join(
            [finding.title_nb, finding.title_en, finding.description_nb, finding.description_en]
        )
        assert "c2a1f0" not in texts
        assert "020679" not in texts
        values = " ".join(e.value or "" for e in finding.evidence)
        assert "c2a1f0" not in values
        assert "asmundod: ACTIVE, expires 2026-12-31" in values


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example gives exactly one finding of this rule."""
        person, now = guest_access.example()
        finding = only(list(guest_access.evaluate(person, now, SETTINGS)))
        assert finding.rule_id == RULE
        assert finding.display_name == "Ingrid Haugland"
