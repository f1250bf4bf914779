"""Tests for the rule access.leaver_still_active."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.clock import start_of_day
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import leaver_access
from hub.rules.settings import RuleSettings
from tests import rule_builders as build
from tests.rule_builders import only

RULE_ID = leaver_access.RULE_ID
NOW = datetime(2026, 7, 6, 8, 0, tzinfo=UTC)  # 10:00 in Oslo
TODAY = date(2026, 7, 6)
END = date(2026, 6, 30)
GRACE_ENDS = start_of_day(date(2026, 7, 2))  # midnight after the end date + 1 day
EMPLOYEE_STAMP = datetime(2026, 6, 20, 9, 0, tzinfo=UTC)
ACCOUNT_STAMP = datetime(2026, 7, 5, 2, 0, tzinfo=UTC)
GREG_STAMP = datetime(2026, 7, 4, 12, 0, tzinfo=UTC)
DEFAULT = RuleSettings()
PERSON_KEY = "p-2b4d6f8a0c1e3a5c7e9b1d3f"
EMPLOYEE_ID = "287711"


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee whose employment ended on 2026-06-30."""
    fields: dict[str, Any] = {
        "first_name": "Nora",
        "last_name": "Lie",
        "start_date": date(2022, 8, 1),
        "end_date": END,
        "end_reason": "10",
        "additional_positions": [],
    }
    return build.employee(EMPLOYEE_ID, EMPLOYEE_STAMP, **(fields | overrides))


def affiliation(
    kind: str = "ANSATT", status: str = "tekadm", source: str | None = "DFO_SAP"
) -> dict[str, Any]:
    """An IAM affiliation."""
    return {
        "affiliation": kind,
        "status": status,
        "org_unit_id": "50001300",
        "source_system": source,
    }


def account(
    account_id: str = "70144",
    status: str = "ACTIVE",
    username: str = "noral",
    affiliations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Cerebrum account, by default with the ANSATT affiliation DFØ gave."""
    return build.account(
        account_id,
        ACCOUNT_STAMP,
        iam_person_id="40021",
        username=username,
        feide_principal_name=f"{username}@uio.no",
        status=status,
        expires_on=None,
        affiliations=[affiliation()] if affiliations is None else affiliations,
        external_ids=[{"id_type": "DFO_PID", "value": EMPLOYEE_ID}],
    )


def iam_person(*affiliations: dict[str, Any]) -> dict[str, Any]:
    """A Cerebrum person with the given affiliations."""
    return {
        "institution": "uio",
        "source_system": "cerebrum",
        "source_id": "40021",
        "source_timestamp": ACCOUNT_STAMP,
        "iam_person_id": "40021",
        "first_name": "Nora",
        "last_name": "Lie",
        "affiliations": list(affiliations),
        "usernames": ["noral"],
    }


def greg_person(*roles: tuple[str, date | None, date | None]) -> dict[str, Any]:
    """A Greg guest with roles given as (type, start, end)."""
    return {
        "institution": "uio",
        "source_system": "greg",
        "source_id": "1207",
        "source_timestamp": GREG_STAMP,
        "greg_id": "1207",
        "first_name": "Nora",
        "last_name": "Lie",
        "roles": [
            {
                "role_id": str(900 + i),
                "type": kind,
                "start_date": start,
                "end_date": end,
                "sponsor_id": "88",
                "org_unit_id": "41",
                "org_unit_active": True,
            }
            for i, (kind, start, end) in enumerate(roles)
        ],
    }


def view(*records: tuple[str, dict[str, Any]]) -> PersonView:
    """A person view holding the given (source topic, record) pairs."""
    return PersonView.of(PERSON_KEY, "uio", list(records))


def leaver(*extra: tuple[str, dict[str, Any]], **overrides: Any) -> PersonView:
    """The leaver's employee record, an active account, and any extra records."""
    return view(
        (SourceKind.DFO_EMPLOYEE, employee(**overrides)),
        (SourceKind.IAM_ACCOUNT, account()),
        *extra,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = DEFAULT
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(leaver_access.evaluate(person, now, settings))


class TestWhenItFires:
    def test_fires_for_a_leaver_with_an_active_account(self) -> None:
        """Ended employment, active account, only DFØ's ANSATT affiliation: a finding."""
        only(evaluate(leaver()))

    def test_no_finding_for_a_running_employment(self) -> None:
        """Open-ended or future end dates are no leavers."""
        assert evaluate(leaver(end_date=None)) == []
        assert evaluate(leaver(end_date=TODAY)) == []
        assert evaluate(leaver(end_date=TODAY + timedelta(days=30))) == []

    @pytest.mark.parametrize("status", ["DISABLED", "EXPIRED", "DELETED"])
    def test_no_finding_when_no_account_is_active(self, status: str) -> None:
        """A closed account is what IAM should have done."""
        person = view(
            (SourceKind.DFO_EMPLOYEE, employee()), (SourceKind.IAM_ACCOUNT, account(status=status))
        )
        assert evaluate(person) == []

    def test_no_finding_without_employee_or_accounts(self) -> None:
        """Without DFØ data there is no end date; without accounts nothing is open."""
        assert evaluate(view((SourceKind.IAM_ACCOUNT, account()))) == []
        assert evaluate(view((SourceKind.DFO_EMPLOYEE, employee()))) == []

    @pytest.mark.parametrize(
        "other",
        [
            affiliation("TILKNYTTET", "emeritus"),
            affiliation("STUDENT", "aktiv", "FS"),
            affiliation("ANSATT", "tekadm", "MANUAL"),
        ],
    )
    def test_other_affiliation_on_the_iam_person_is_a_reason(self, other: dict[str, Any]) -> None:
        """An affiliation other than ANSATT from DFØ keeps the account legitimately open."""
        assert evaluate(leaver((SourceKind.IAM_PERSON, iam_person(affiliation(), other)))) == []

    def test_other_affiliation_on_an_account_is_a_reason(self) -> None:
        """An affiliation recorded on the account counts like one on the person."""
        acc = account(
            affiliations=[affiliation(), affiliation("TILKNYTTET", "gjesteforsker", "GREG")]
        )
        assert (
            evaluate(view((SourceKind.DFO_EMPLOYEE, employee()), (SourceKind.IAM_ACCOUNT, acc)))
            == []
        )

    @pytest.mark.parametrize("source", ["DFO_SAP", "dfo_sap", None])
    def test_dfo_ansatt_affiliation_is_no_reason(self, source: str | None) -> None:
        """ANSATT from DFØ (or of unknown source) is the very employment that ended."""
        person = leaver(
            (SourceKind.IAM_PERSON, iam_person(affiliation("ANSATT", "tekadm", source)))
        )
        only(evaluate(person))

    def test_active_greg_role_is_a_reason(self) -> None:
        """A guest role running today keeps the account legitimately open."""
        role = ("guest-researcher", TODAY - timedelta(days=3), TODAY)
        assert evaluate(leaver((SourceKind.GREG_PERSON, greg_person(role)))) == []

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (date(2025, 1, 1), TODAY - timedelta(days=1)),
            (TODAY + timedelta(days=1), TODAY + timedelta(days=90)),
        ],
    )
    def test_greg_role_not_active_today_is_no_reason(self, start: date, end: date) -> None:
        """A role that ended yesterday or starts tomorrow gives no access today."""
        only(
            evaluate(
                leaver((SourceKind.GREG_PERSON, greg_person(("external-partner", start, end))))
            )
        )

    def test_additional_position_still_running_is_a_reason(self) -> None:
        """A DFØ additional position (tilleggsstilling) still running is another employment."""
        extra = {"position_id": "30054321", "start_date": date(2025, 8, 1), "end_date": None}
        assert evaluate(leaver(additional_positions=[extra])) == []

    def test_employment_starting_within_six_days_is_a_reason(self) -> None:
        """DFØ shows an affiliation 6 days before the start: a re-hire then keeps the account."""
        soon = {
            "position_id": "30054321",
            "start_date": TODAY + timedelta(days=6),
            "end_date": None,
        }
        later = {**soon, "start_date": TODAY + timedelta(days=7)}
        assert evaluate(leaver(additional_positions=[soon])) == []
        only(evaluate(leaver(additional_positions=[later])))

    def test_another_active_employee_record_is_a_reason(self) -> None:
        """A second, running employment under another employee number keeps the account."""
        other = employee(
            source_id="301122",
            employee_id="301122",
            source_timestamp=EMPLOYEE_STAMP - timedelta(days=1),
            start_date=date(2026, 7, 1),
            end_date=None,
        )
        assert evaluate(leaver((SourceKind.DFO_EMPLOYEE, other))) == []


class TestBoundaries:
    def test_grace_boundary_to_the_minute(self) -> None:
        """A minute before midnight after end date + 1 day: nothing; at that midnight: found."""
        person = leaver()
        assert evaluate(person, now=GRACE_ENDS - timedelta(minutes=1)) == []
        only(evaluate(person, now=GRACE_ENDS))

    def test_next_check_is_the_end_of_the_grace_period(self) -> None:
        """Before the grace ends, next_check is the moment it ends."""
        assert leaver_access.next_check(
            leaver(), datetime(2026, 6, 30, 12, 0, tzinfo=UTC), DEFAULT
        ) == (GRACE_ENDS)

    def test_next_check_after_the_grace_is_none_without_other_dates(self) -> None:
        """Once the finding stands, no date can change it: no re-check."""
        assert leaver_access.next_check(leaver(), NOW, DEFAULT) is None

    def test_next_check_is_the_day_after_a_greg_role_ends(self) -> None:
        """A running guest role hides the finding until the day after it ends."""
        role_end = TODAY + timedelta(days=10)
        person = leaver(
            (SourceKind.GREG_PERSON, greg_person(("guest-researcher", date(2026, 1, 1), role_end)))
        )
        moment = leaver_access.next_check(person, NOW, DEFAULT)
        assert moment == start_of_day(role_end + timedelta(days=1))
        assert moment is not None
        assert evaluate(person, now=moment - timedelta(minutes=1)) == []
        only(evaluate(person, now=moment))

    def test_next_check_is_six_days_before_a_new_position(self) -> None:
        """A future additional position is re-checked when it starts to count (start - 6)."""
        extra = {
            "position_id": "30054321",
            "start_date": TODAY + timedelta(days=20),
            "end_date": None,
        }
        moment = leaver_access.next_check(leaver(additional_positions=[extra]), NOW, DEFAULT)
        assert moment == start_of_day(TODAY + timedelta(days=14))

    def test_no_next_check_without_an_end_date(self) -> None:
        """An open-ended employment gives no leaver date to wait for."""
        assert leaver_access.next_check(leaver(end_date=None), NOW, DEFAULT) is None


class TestTheFinding:
    def test_classification(self) -> None:
        """P2, owned by IAM, about the person, due on end date + grace (2026-07-01)."""
        finding = only(evaluate(leaver()))
        assert finding.rule_id == RULE_ID
        assert finding.subject == PERSON_KEY
        assert finding.severity is Severity.P2
        assert finding.owner_group == "iam"
        assert finding.due_date == date(2026, 7, 1)
        assert finding.display_name == "Nora Lie"

    def test_due_date_does_not_move_day_by_day(self) -> None:
        """Evaluated on later days, the due date stays end date + grace."""
        dues = {only(evaluate(leaver(), now=NOW + timedelta(days=d))).due_date for d in range(3)}
        assert dues == {date(2026, 7, 1)}

    def test_evidence(self) -> None:
        """The evidence has DFØ's end date, the active account and the affiliations seen."""
        person = leaver(
            (
                SourceKind.GREG_PERSON,
                greg_person(("guest-researcher", date(2025, 1, 1), date(2026, 5, 31))),
            )
        )
        finding = only(evaluate(person))
        values = {(e.system, e.field): e.value for e in finding.evidence}
        assert values[("dfo_sap", "end_date")] == "2026-06-30"
        assert values[("cerebrum", "account 70144 status")] == "noral: ACTIVE"
        assert values[("cerebrum", "account 70144 affiliation")] == "ANSATT/tekadm (DFO_SAP)"
        assert values[("greg", "role 900")] == "guest-researcher 2025-01-01..2026-05-31"
        stamps = {e.system: e.source_timestamp for e in finding.evidence}
        assert stamps == {"dfo_sap": EMPLOYEE_STAMP, "cerebrum": ACCOUNT_STAMP, "greg": GREG_STAMP}

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_person_and_end_date(self, text: str) -> None:
        """Each title and description names the person and the end date."""
        value = getattr(only(evaluate(leaver())), text)
        assert "Nora Lie" in value
        assert "2026-06-30" in value

    def test_descriptions_name_the_active_accounts(self) -> None:
        """The descriptions say which account is still active."""
        finding = only(evaluate(leaver()))
        assert "noral" in finding.description_nb
        assert "noral" in finding.description_en
        assert finding.suggested_fix_nb != finding.suggested_fix_en


class TestSettings:
    def test_grace_from_settings(self) -> None:
        """With a 3-day grace the finding waits until midnight after end date + 3 days."""
        settings = RuleSettings.tuned(RULE_ID, grace_minutes=3 * 24 * 60)
        opens = start_of_day(date(2026, 7, 4))
        assert evaluate(leaver(), now=opens - timedelta(minutes=1), settings=settings) == []
        finding = only(evaluate(leaver(), now=opens, settings=settings))
        assert finding.due_date == date(2026, 7, 3)

    def test_zero_grace_fires_the_day_after_the_end_date(self) -> None:
        """Without grace the finding appears at midnight after the end date, due that day."""
        settings = RuleSettings.tuned(RULE_ID, grace_minutes=0)
        opens = start_of_day(date(2026, 7, 1))
        assert evaluate(leaver(), now=opens - timedelta(minutes=1), settings=settings) == []
        assert only(evaluate(leaver(), now=opens, settings=settings)).due_date == END

    def test_dfo_affiliation_sources_from_settings(self) -> None:
        """Naming MANUAL as a DFØ source makes a manual ANSATT affiliation no reason."""
        person = leaver(
            (SourceKind.IAM_PERSON, iam_person(affiliation("ANSATT", "tekadm", "MANUAL")))
        )
        assert evaluate(person) == []
        settings = RuleSettings.tuned(RULE_ID, params={"dfo_affiliation_sources": "DFO_SAP,MANUAL"})
        only(evaluate(person, settings=settings))


class TestPurityAndExample:
    def test_evaluation_is_pure(self) -> None:
        """Evaluating twice gives equal findings and leaves the view unchanged."""
        person = leaver((SourceKind.IAM_PERSON, iam_person(affiliation())))
        before = repr(person)
        assert evaluate(person) == evaluate(person)
        assert repr(person) == before

    def test_example_fires(self) -> None:
        """The catalogue example gives exactly one finding."""
        person, now = leaver_access.example()
        assert only(evaluate(person, now=now)).display_name == "Nora Lie"

    def test_spec(self) -> None:
        """The spec carries the rule id, P2, IAM and a default grace of one day."""
        spec = leaver_access.SPEC
        assert (spec.rule_id, spec.severity, spec.owner_group) == (RULE_ID, Severity.P2, "iam")
        assert spec.default_grace == timedelta(days=1)


class TestRealisticRecords:
    def test_native_dfo_leaver_with_cerebrum_and_expired_greg_role(self) -> None:
        """A native DFØ ansatt that ended 2026-06-30 (sluttarsak 10), a Cerebrum person and
        account with only DFØ's ANSATT/tekadm, and a Greg role that ended in May: found."""
        native = {
            "ansatt": [
                {
                    "id": "00287711",
                    "fnr": "24058812345",
                    "annenId": [],
                    "brukerident": "NLI287711",
                    "eksternIdent": "noral",
                    "fornavn": "Nora",
                    "etternavn": "Lie",
                    "fdato": "1988-05-24",
                    "kjonn": "K",
                    "stillingId": "30041177",
                    "medarbeidergruppe": "1",
                    "medarbeiderundergruppe": "17",
                    "startdato": "2022-08-01",
                    "sluttdato": "2026-06-30",
                    "dellonnsprosent": "100,0",
                    "tittel": "Seniorkonsulent",
                    "tilleggsstilling": [
                        {
                            "stillingId": "30054321",
                            "startdato": "2024-01-01",
                            "sluttdato": "2025-12-31",
                        }
                    ],
                    "eksternbruker": 0,
                    "lederflagg": 0,
                    "reservasjonPublisering": "N",
                    "epost": "nora.lie@admin.uio.no",
                    "mobilPrivat": "+47 415 55 555",
                    "privatEpost": "",
                    "organisasjonId": "50001300",
                    "kostnadssted": "130100",
                    "sluttarsak": "10",
                    "endretDato": "2026-06-18",
                }
            ]
        }
        fetched = datetime(2026, 6, 18, 6, 5, tzinfo=UTC)
        mapped = map_employee(native, institution="uio", secret="test-secret", fetched_at=fetched)
        person = view(
            (SourceKind.DFO_EMPLOYEE, mapped),
            (SourceKind.IAM_PERSON, iam_person(affiliation())),
            (SourceKind.IAM_ACCOUNT, account()),
            (
                SourceKind.GREG_PERSON,
                greg_person(("external-consultant", date(2026, 1, 1), date(2026, 5, 31))),
            ),
        )
        finding = only(evaluate(person))
        assert finding.due_date == date(2026, 7, 1)
        assert "24058812345" not in repr(finding)
        assert ("dfo_sap", "position 30054321", "2024-01-01..2025-12-31") in {
            (e.system, e.field, e.value) for e in finding.evidence
        }
        # IAM closing the account resolves it.
        closed = view(
            (SourceKind.DFO_EMPLOYEE, mapped), (SourceKind.IAM_ACCOUNT, account(status="DISABLED"))
        )
        assert evaluate(closed) == []
