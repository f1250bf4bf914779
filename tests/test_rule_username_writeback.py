"""Tests for the rule access.username_mismatch (mismatch 12: eksternIdent vs IAM)."""

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
from hub.rules import RuleSettings, username_writeback
from hub.rules.username_writeback import RULE_ID
from tests import rule_builders as build
from tests.rule_builders import only

DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HR_STAMP = NOW - timedelta(days=3)
IAM_STAMP = NOW - timedelta(days=2)
GRACE = timedelta(hours=24)
DEFAULTS = RuleSettings()
PERSON_KEY = "p-0123456789abcdef01234567"


def employee(external: str | None = "pero", **overrides: Any) -> dict[str, Any]:
    """A DFØ employee whose eksternIdent is ``external``."""
    fields: dict[str, Any] = {
        "first_name": "Per",
        "last_name": "Olsen",
        "external_username": external,
    }
    return build.employee("356789", HR_STAMP, **(fields | overrides))


def iam_person(primary: str | None = "perol", **overrides: Any) -> dict[str, Any]:
    """A Cerebrum person whose primary username is ``primary``."""
    record: dict[str, Any] = {
        "institution": "uio",
        "source_system": "cerebrum",
        "source_id": "41234",
        "source_timestamp": IAM_STAMP,
        "iam_person_id": "41234",
        "first_name": "Per",
        "last_name": "Olsen",
        "usernames": ["pero", "perol"],
        "primary_username": primary,
    }
    record.update(overrides)
    return record


def account(
    account_id: str, username: str, status: str = "ACTIVE", stamp: datetime = IAM_STAMP
) -> dict[str, Any]:
    """A Cerebrum account."""
    return build.account(
        account_id,
        stamp,
        iam_person_id="41234",
        username=username,
        status=status,
    )


def view(
    hr: dict[str, Any] | None,
    person: dict[str, Any] | None = None,
    *accounts: dict[str, Any],
) -> PersonView:
    """A person view from the given records."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, hr),
        (SourceKind.IAM_PERSON, person),
        *[(SourceKind.IAM_ACCOUNT, a) for a in accounts],
        key=PERSON_KEY,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = DEFAULTS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(username_writeback.evaluate(person, now, settings))


class TestWhenItFires:
    def test_other_username_in_dfo_fires(self) -> None:
        """DFØ's eksternIdent differing from IAM's primary username is a P3 IAM finding,
        due seven days after the grace period after the later record."""
        finding = only(evaluate(view(employee("pero"), iam_person("perol"))))
        assert finding.rule_id == RULE_ID
        assert finding.subject == PERSON_KEY
        assert finding.severity is Severity.P3
        assert finding.owner_group == "iam"
        assert finding.due_date == business_date(IAM_STAMP + GRACE) + timedelta(days=7)
        for text in (finding.title_nb, finding.title_en, finding.description_nb):
            assert "Per Olsen" in text
            assert "pero" in text
            assert "perol" in text

    def test_evidence_holds_both_usernames(self) -> None:
        """The evidence carries DFØ's eksternIdent and IAM's primary username, timestamped."""
        finding = only(evaluate(view(employee("pero"), iam_person("perol"))))
        dfo = [e for e in finding.evidence if e.field == "external_username"]
        iam = [e for e in finding.evidence if e.field.endswith("primary_username")]
        assert [(e.system, e.value, e.source_timestamp) for e in dfo] == [
            ("dfo_sap", "pero", HR_STAMP)
        ]
        assert [(e.system, e.value, e.source_timestamp) for e in iam] == [
            ("cerebrum", "perol", IAM_STAMP)
        ]

    @pytest.mark.parametrize("external", ["perol", "PEROL", " Perol "])
    def test_same_username_in_any_case_is_fine(self, external: str) -> None:
        """Usernames are compared without regard to case or surrounding spaces."""
        assert evaluate(view(employee(external), iam_person("perol"))) == []

    @pytest.mark.parametrize("external", [None, "", "  "])
    def test_no_username_in_dfo_while_iam_has_one_fires(self, external: str | None) -> None:
        """DFØ holding no eksternIdent while IAM has a username means the write-back never
        came: found, saying 'none' for DFØ."""
        finding = only(evaluate(view(employee(external), iam_person("perol"))))
        assert "(none ≠ perol)" in finding.title_en
        assert "(ingen ≠ perol)" in finding.title_nb
        assert "perol" in finding.description_nb
        assert "write-back" in finding.description_en

    @pytest.mark.parametrize("external", [None, "  "])
    def test_no_username_anywhere_no_finding(self, external: str | None) -> None:
        """With no username in DFØ and no account in IAM yet, this rule has nothing to say."""
        assert evaluate(view(employee(external))) == []
        assert evaluate(view(employee(external), iam_person(None))) == []
        disabled = account("a1", "perx", "DISABLED")
        assert evaluate(view(employee(external), iam_person(None), disabled)) == []

    def test_dfo_username_without_any_account_fires(self) -> None:
        """DFØ naming a username when the person has no account at all is found."""
        finding = only(evaluate(view(employee("pero"))))
        assert "(pero ≠ none)" in finding.title_en
        assert "no active account" in finding.description_en
        assert "ingen aktiv konto" in finding.description_nb

    def test_dfo_username_on_no_account_of_the_person_fires(self) -> None:
        """DFØ's username matching none of the person's (inactive) accounts is found."""
        person = view(employee("pero"), iam_person(None), account("a1", "perx", "DISABLED"))
        finding = only(evaluate(person))
        assert "pero" in finding.title_nb

    def test_dfo_username_on_an_inactive_account_without_active_ones_is_fine(self) -> None:
        """Without a primary or an active account, DFØ's username on the person's disabled
        account is theirs: no finding (leavers are another rule's business)."""
        person = view(employee("PERO"), iam_person(None), account("a1", "pero", "DISABLED"))
        assert evaluate(person) == []

    def test_no_dfo_record_no_finding(self) -> None:
        """Without DFØ's record there is no written-back username."""
        assert evaluate(view(None, iam_person("perol"))) == []

    def test_active_account_usernames_are_used_without_a_primary(self) -> None:
        """Without a primary username, any ACTIVE account's username is accepted."""
        person = iam_person(None)
        accounts = (account("a1", "perol"), account("a2", "pero"))
        assert evaluate(view(employee("pero"), person, *accounts)) == []

    def test_inactive_accounts_do_not_count(self) -> None:
        """A username only on a disabled account does not match."""
        accounts = (account("a1", "pero", "DISABLED"), account("a2", "perol"))
        finding = only(evaluate(view(employee("pero"), iam_person(None), *accounts)))
        assert "perol" in finding.title_en

    def test_primary_username_wins_over_accounts(self) -> None:
        """When IAM names a primary username, other active accounts do not match."""
        accounts = (account("a1", "pero"),)
        only(evaluate(view(employee("pero"), iam_person("perol"), *accounts)))

    def test_evaluation_is_pure(self) -> None:
        """Evaluating twice gives equal findings."""
        person = view(employee("pero"), iam_person("perol"))
        assert evaluate(person) == evaluate(person)


class TestTiming:
    def test_grace_counts_from_the_later_record(self) -> None:
        """One minute before the grace after IAM's (later) record ends: none; at it: found."""
        person = view(employee("pero"), iam_person("perol"))
        assert evaluate(person, now=IAM_STAMP + GRACE - timedelta(minutes=1)) == []
        only(evaluate(person, now=IAM_STAMP + GRACE))

    def test_grace_counts_from_dfo_when_dfo_is_later(self) -> None:
        """A DFØ record newer than IAM's starts the grace period itself."""
        late = NOW - timedelta(hours=2)
        person = view(employee("pero", source_timestamp=late), iam_person("perol"))
        assert evaluate(person) == []
        only(evaluate(person, now=late + GRACE))

    def test_grace_counts_from_the_account_when_it_decides(self) -> None:
        """Without a primary username, the newest active account's timestamp counts."""
        fresh = NOW - timedelta(hours=1)
        accounts = (account("a1", "perol", stamp=IAM_STAMP), account("a2", "perx", stamp=fresh))
        person = view(employee("pero"), iam_person(None), *accounts)
        assert evaluate(person) == []
        assert username_writeback.next_check(person, NOW, DEFAULTS) == fresh + GRACE

    def test_grace_without_iam_records_counts_from_dfo(self) -> None:
        """With no IAM record at all, the grace counts from DFØ's record: one minute before
        its end nothing, at its end a finding."""
        person = view(employee("pero"))
        assert evaluate(person, now=HR_STAMP + GRACE - timedelta(minutes=1)) == []
        only(evaluate(person, now=HR_STAMP + GRACE))
        assert username_writeback.next_check(person, HR_STAMP, DEFAULTS) == HR_STAMP + GRACE

    def test_open_task_is_kept_through_a_new_grace(self) -> None:
        """A newer record restarting the grace does not drop an open task's finding; a
        resolved task does not keep it, nor does an open one once the names agree."""
        early = IAM_STAMP + timedelta(minutes=1)
        person = view(employee("pero"), iam_person("perol"))
        task = {"task_id": "t-1", "rule_id": RULE_ID, "subject": PERSON_KEY, "state": "OPEN"}
        assert evaluate(person, now=early) == []
        only(evaluate(dataclasses.replace(person, tasks={"t-1": task}), now=early))
        resolved = {**task, "state": "RESOLVED"}
        assert evaluate(dataclasses.replace(person, tasks={"t-1": resolved}), now=early) == []
        same = view(employee("perol"), iam_person("perol"))
        assert evaluate(dataclasses.replace(same, tasks={"t-1": task}), now=early) == []

    def test_next_check_is_the_end_of_the_grace(self) -> None:
        """Before the grace ends, the re-check is its end; after, and when names agree, none."""
        person = view(employee("pero"), iam_person("perol"))
        assert username_writeback.next_check(person, IAM_STAMP, DEFAULTS) == IAM_STAMP + GRACE
        assert username_writeback.next_check(person, IAM_STAMP + GRACE, DEFAULTS) is None
        same = view(employee("perol"), iam_person("perol"))
        assert username_writeback.next_check(same, IAM_STAMP, DEFAULTS) is None


class TestSettings:
    def test_grace_comes_from_the_settings(self) -> None:
        """With a three-day grace the two-day-old mismatch is not reported yet."""
        person = view(employee("pero"), iam_person("perol"))
        settings = RuleSettings.tuned(RULE_ID, grace_minutes=3 * 24 * 60)
        assert evaluate(person, settings=settings) == []
        assert username_writeback.next_check(person, NOW, settings) == IAM_STAMP + timedelta(days=3)

    def test_due_days_come_from_the_settings(self) -> None:
        """The due date moves with the parameter due_days."""
        settings = RuleSettings.tuned(RULE_ID, params={"due_days": 1})
        finding = only(evaluate(view(employee("pero"), iam_person("perol")), settings=settings))
        assert finding.due_date == business_date(IAM_STAMP + GRACE) + timedelta(days=1)


class TestRealisticRecords:
    def _kari(self) -> dict[str, Any]:
        body = json.loads((DATA / "dfo" / "ansatt_regular.json").read_text())
        fetched = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)
        return map_employee(body, institution="uib", secret="s", fetched_at=fetched)

    def _felles_iam(self, uhun: str) -> dict[str, Any]:
        return {
            "institution": "uib",
            "source_system": "felles_iam",
            "source_id": "6f1c2a7e-0b7d-4c39-9f1e-2d6a1c0e5b21",
            "source_timestamp": datetime(2026, 11, 19, 4, 30, tzinfo=UTC),
            "iam_person_id": "6f1c2a7e-0b7d-4c39-9f1e-2d6a1c0e5b21",
            "style": "felles_iam",
            "uhid": "6f1c2a7e-0b7d-4c39-9f1e-2d6a1c0e5b21",
            "first_name": "Kari",
            "last_name": "Nordmann",
            "usernames": [uhun],
            "primary_username": uhun,
            "feide_principal_name": f"{uhun}@uib.no",
        }

    def test_native_eksternident_against_felles_iam(self) -> None:
        """DFØ's native eksternIdent 'kno012' against Felles IAM's uhun 'kno013' fires; the
        same uhun does not."""
        hr = self._kari()
        assert hr["external_username"] == "kno012"
        now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
        wrong = PersonView.of(
            "p-kari",
            "uib",
            [(SourceKind.DFO_EMPLOYEE, hr), (SourceKind.IAM_PERSON, self._felles_iam("kno013"))],
        )
        finding = only(evaluate(wrong, now=now))
        assert "kno012" in finding.description_nb
        assert "kno013" in finding.description_en
        assert "Kari Nordmann" in finding.title_nb
        assert any(e.system == "felles_iam" for e in finding.evidence)
        right = PersonView.of(
            "p-kari",
            "uib",
            [(SourceKind.DFO_EMPLOYEE, hr), (SourceKind.IAM_PERSON, self._felles_iam("KNO012"))],
        )
        assert evaluate(right, now=now) == []


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example gives a finding."""
        person, now = username_writeback.example()
        only(list(username_writeback.evaluate(person, now, DEFAULTS)))
