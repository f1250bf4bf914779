"""Tests for the rule payroll.closed_cost_centre."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.dfo.mapping import map_employee
from hub.findings import Finding, Severity
from hub.person_view import PersonView, ReferenceData, SourceKind
from hub.rules import closed_cost_centre as rule
from hub.rules.settings import RuleSettings
from tests import rule_builders as build
from tests.factories import DATA
from tests.rule_builders import only

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
RUN_STAMP = datetime(2026, 10, 12, 5, 0, tzinfo=UTC)
REFERENCE_STAMP = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
SETTINGS = RuleSettings()
PERSON_KEY = "p-0cc175b9c0f1b6a831c399e2"
EMPLOYEE_ID = "678901"
OPEN_UNIT, CLOSED_UNIT = "50001450", "50001430"
OPEN_CC, CLOSED_CC = "145000", "143000"
MERGER = date(2026, 6, 30)


def dfo_unit(unit_id: str, cost_centre: str, valid_to: date | None, name: str) -> dict[str, Any]:
    """A DFØ org unit (orgenhet) as the DFØ connector maps it."""
    return {
        "institution": "uio",
        "source_system": "dfo_sap",
        "source_id": unit_id,
        "source_timestamp": REFERENCE_STAMP,
        "org_unit_id": unit_id,
        "name": name,
        "parent_id": "50001000",
        "cost_centre": cost_centre,
        "valid_from": date(2010, 1, 1),
        "valid_to": valid_to,
        "leader_employee_id": None,
    }


def orgreg_unit(ou_id: str, dfo_id: str, valid_to: date | None, name: str) -> dict[str, Any]:
    """An OrgReg unit (GET /v3/ou/{ouId}) with its DFØ external key."""
    return {
        "institution": "uio",
        "source_system": "orgreg",
        "source_id": ou_id,
        "source_timestamp": REFERENCE_STAMP,
        "ou_id": ou_id,
        "parent_id": "1000",
        "valid_from": date(2010, 1, 1),
        "valid_to": valid_to,
        "names": {"name_nob": name, "name_nno": None, "name_eng": None},
        "external_keys": [
            {"source_system": "dfo_sap", "type": "dfo_org_id", "value": dfo_id},
            {"source_system": "sapuio", "type": "legacy_stedkode", "value": "150000"},
        ],
    }


REFERENCE = ReferenceData(
    dfo_org_units={
        CLOSED_UNIT: dfo_unit(CLOSED_UNIT, CLOSED_CC, MERGER, "Biologisk institutt"),
        OPEN_UNIT: dfo_unit(OPEN_UNIT, OPEN_CC, None, "Institutt for biovitenskap"),
    },
    orgreg_units={
        "1430": orgreg_unit("1430", CLOSED_UNIT, MERGER, "Biologisk institutt"),
        "1450": orgreg_unit("1450", OPEN_UNIT, None, "Institutt for biovitenskap"),
    },
)


def line(
    cost_centre: str | None = OPEN_CC, org_unit: str | None = OPEN_UNIT, amount: float = 52400.0
) -> dict[str, Any]:
    """A payroll line charged to a cost centre and org unit."""
    return {
        "wage_type": "1010",
        "description": "Fastlønn",
        "amount": amount,
        "hours": None,
        "rate": None,
        "position_id": "30045678",
        "cost_centre": cost_centre,
        "org_unit_id": org_unit,
        "hourly": False,
    }


def result(
    *lines: dict[str, Any],
    period: str = "2026-10",
    paid_on: date | None = date(2026, 10, 12),
    stamp: datetime = RUN_STAMP,
    run_id: str | None = None,
) -> dict[str, Any]:
    """A payroll result with the given lines (one open line by default)."""
    items = list(lines) or [line()]
    return build.payroll_result(
        EMPLOYEE_ID,
        period,
        run_id or f"LØNN-{period}",
        stamp,
        amount=sum(item["amount"] for item in items),
        lines=items,
        paid_on=paid_on,
        source_system="unit4_payroll_postings",
    )


def employee() -> dict[str, Any]:
    """Ingrid Lie's DFØ employee record."""
    return {
        "institution": "uio",
        "source_system": "dfo_sap",
        "source_id": EMPLOYEE_ID,
        "source_timestamp": REFERENCE_STAMP,
        "employee_id": EMPLOYEE_ID,
        "first_name": "Ingrid",
        "last_name": "Lie",
        "start_date": date(2018, 1, 1),
        "end_date": None,
    }


def view(*results: dict[str, Any], reference: ReferenceData = REFERENCE) -> PersonView:
    """A person view with Ingrid's employee record, the results and the reference data."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, employee()),
        *[(SourceKind.PAYROLL_RESULT, r) for r in results],
        key=PERSON_KEY,
        reference=reference,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = SETTINGS
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(rule.evaluate(person, now, settings))


def details(findings: list[Finding]) -> list[str]:
    """The part of each finding's subject after the person key."""
    return [f.subject.removeprefix(f"{PERSON_KEY}/") for f in findings]


class TestWhenItFires:
    def test_no_finding_for_an_open_cost_centre_and_unit(self) -> None:
        """Pay charged to an open cost centre and a unit OrgReg knows is fine."""
        assert evaluate(view(result())) == []

    def test_a_closed_cost_centre_is_found(self) -> None:
        """Pay charged to a cost centre whose only DFØ unit closed in June is found."""
        finding = only(evaluate(view(result(line(cost_centre=CLOSED_CC)))))
        assert details([finding]) == [f"period:2026-10/cost_centre:{CLOSED_CC}"]
        assert "nedlagt koststed" in finding.title_nb

    def test_an_unknown_cost_centre_is_found(self) -> None:
        """Pay charged to a cost centre no DFØ unit carries is found."""
        finding = only(evaluate(view(result(line(cost_centre="999900")))))
        assert details([finding]) == ["period:2026-10/cost_centre:999900"]
        assert "ukjent koststed" in finding.title_nb
        assert "unknown cost centre" in finding.title_en

    def test_a_unit_unknown_in_orgreg_is_found(self) -> None:
        """Pay charged to an org unit with no OrgReg unit is found."""
        finding = only(evaluate(view(result(line(org_unit="50009999")))))
        assert details([finding]) == ["period:2026-10/unit:50009999"]
        assert "OrgReg" in finding.description_en

    def test_a_unit_closed_in_orgreg_is_found(self) -> None:
        """Pay charged to an org unit OrgReg closed before the payment is found."""
        finding = only(evaluate(view(result(line(org_unit=CLOSED_UNIT)))))
        assert details([finding]) == [f"period:2026-10/unit:{CLOSED_UNIT}"]
        assert MERGER.isoformat() in finding.description_nb

    def test_a_bad_unit_and_cost_centre_give_two_findings(self) -> None:
        """A line with both a closed unit and a closed cost centre gives one finding each."""
        findings = evaluate(view(result(line(CLOSED_CC, CLOSED_UNIT))))
        assert details(findings) == [
            f"period:2026-10/cost_centre:{CLOSED_CC}",
            f"period:2026-10/unit:{CLOSED_UNIT}",
        ]

    def test_one_finding_per_period_and_cost_centre(self) -> None:
        """Two runs in one period charging the closed cost centre give one finding."""
        extra = result(line(cost_centre=CLOSED_CC, amount=1500.0), run_id="EKSTRA-2026-10")
        finding = only(evaluate(view(result(line(cost_centre=CLOSED_CC)), extra)))
        assert "53 900,00 kr" in finding.description_nb
        assert len([e for e in finding.evidence if e.system == "payroll"]) == 2

    def test_each_period_gets_its_own_finding(self) -> None:
        """The closed cost centre charged in September and October gives two findings."""
        september = result(line(cost_centre=CLOSED_CC), period="2026-09", paid_on=date(2026, 9, 12))
        findings = evaluate(view(september, result(line(cost_centre=CLOSED_CC))))
        assert details(findings) == [
            f"period:2026-09/cost_centre:{CLOSED_CC}",
            f"period:2026-10/cost_centre:{CLOSED_CC}",
        ]

    def test_a_cost_centre_with_one_open_unit_is_open(self) -> None:
        """A cost centre shared by a closed and an open DFØ unit is still open."""
        reference = dataclasses.replace(
            REFERENCE,
            dfo_org_units={
                **REFERENCE.dfo_org_units,
                "50001431": dfo_unit("50001431", CLOSED_CC, None, "Seksjon for akvatisk biologi"),
            },
        )
        assert evaluate(view(result(line(cost_centre=CLOSED_CC)), reference=reference)) == []

    def test_lines_of_zero_are_ignored(self) -> None:
        """A zero line charged to a closed cost centre moves no money and is not reported."""
        person = view(result(line(), line(cost_centre=CLOSED_CC, amount=0.0)))
        assert evaluate(person) == []

    def test_lines_without_charging_are_ignored(self) -> None:
        """A line with neither cost centre nor unit has nothing to check."""
        assert evaluate(view(result(line(cost_centre=None, org_unit=None)))) == []

    def test_evaluation_is_pure(self) -> None:
        """The same view and time give equal findings twice."""
        person = view(result(line(CLOSED_CC, "50009999")))
        assert evaluate(person) == evaluate(person)


class TestReferenceData:
    def test_no_finding_without_reference_data(self) -> None:
        """With no reference data loaded, nothing can be judged and nothing is reported."""
        person = view(result(line("999900", "50009999")), reference=ReferenceData())
        assert evaluate(person) == []

    def test_only_orgreg_loaded_checks_units_only(self) -> None:
        """With only OrgReg loaded, units are checked but cost centres are not."""
        reference = ReferenceData(orgreg_units=REFERENCE.orgreg_units)
        findings = evaluate(view(result(line("999900", "50009999")), reference=reference))
        assert details(findings) == ["period:2026-10/unit:50009999"]

    def test_only_dfo_loaded_checks_cost_centres_only(self) -> None:
        """With only DFØ's org units loaded, cost centres are checked but units are not."""
        reference = ReferenceData(dfo_org_units=REFERENCE.dfo_org_units)
        findings = evaluate(view(result(line("999900", "50009999")), reference=reference))
        assert details(findings) == ["period:2026-10/cost_centre:999900"]

    def test_an_orgreg_index_is_used(self) -> None:
        """OrgReg units given only as an index by DFØ id count as loaded and known."""
        index = {OPEN_UNIT: REFERENCE.orgreg_units["1450"]}
        reference = ReferenceData(orgreg_by_dfo_id=index)
        assert evaluate(view(result(line(org_unit=OPEN_UNIT)), reference=reference)) == []
        only(evaluate(view(result(line(org_unit="50009999")), reference=reference)))


class TestTiming:
    def test_closed_the_day_before_payment_is_found(self) -> None:
        """A unit whose last valid day is the day before the payment is closed."""
        person = view(result(line(org_unit=CLOSED_UNIT), paid_on=MERGER + timedelta(days=1)))
        only(evaluate(person))

    def test_closed_on_the_payment_day_is_still_open(self) -> None:
        """A unit valid through the payment day was open when the pay was posted."""
        assert evaluate(view(result(line(org_unit=CLOSED_UNIT), paid_on=MERGER))) == []

    def test_without_payment_date_the_period_end_counts(self) -> None:
        """Without paid_on the period's last day decides: June 2026 pay is fine, July not."""
        june = result(line(CLOSED_CC, CLOSED_UNIT), period="2026-06", paid_on=None)
        assert evaluate(view(june)) == []
        july = result(line(CLOSED_CC), period="2026-07", paid_on=None)
        finding = only(evaluate(view(july)))
        assert finding.due_date == date(2026, 8, 10)

    def test_no_finding_one_minute_before_the_grace_ends(self) -> None:
        """A result known for a minute less than the grace (24 h) is not reported yet."""
        person = view(result(line(cost_centre=CLOSED_CC)))
        assert evaluate(person, now=RUN_STAMP + timedelta(hours=24, minutes=-1)) == []

    def test_finding_when_the_grace_ends(self) -> None:
        """At exactly the result's timestamp plus the grace, the finding appears."""
        person = view(result(line(cost_centre=CLOSED_CC)))
        only(evaluate(person, now=RUN_STAMP + timedelta(hours=24)))

    def test_next_check_is_the_end_of_the_grace(self) -> None:
        """Within the grace, next_check returns its end; after it, None."""
        person = view(result(line(cost_centre=CLOSED_CC)))
        now = RUN_STAMP + timedelta(minutes=30)
        assert rule.next_check(person, now, SETTINGS) == RUN_STAMP + timedelta(hours=24)
        assert rule.next_check(person, NOW, SETTINGS) is None

    def test_grace_setting_changes_the_outcome(self) -> None:
        """With the grace tuned to 0 minutes a fresh posting is reported at once."""
        person = view(result(line(cost_centre=CLOSED_CC)))
        now = RUN_STAMP + timedelta(minutes=1)
        assert evaluate(person, now=now) == []
        only(evaluate(person, now=now, settings=RuleSettings.tuned(rule.RULE_ID, grace_minutes=0)))


class TestDueDate:
    def test_due_at_the_next_cutoff_after_payment(self) -> None:
        """October pay on the 12th is due at the cut-off on 10 November."""
        finding = only(evaluate(view(result(line(cost_centre=CLOSED_CC)))))
        assert finding.due_date == date(2026, 11, 10)

    def test_cutoff_day_setting_changes_the_due_date(self) -> None:
        """With the cut-off on the 15th, October pay on the 12th is due on 15 October."""
        tuned = RuleSettings.tuned(rule.RULE_ID, params={"cutoff_day": 15})
        finding = only(evaluate(view(result(line(cost_centre=CLOSED_CC))), settings=tuned))
        assert finding.due_date == date(2026, 10, 15)


class TestTheFinding:
    def test_classification(self) -> None:
        """The finding is P1, owned by finance, about the person."""
        finding = only(evaluate(view(result(line(cost_centre=CLOSED_CC)))))
        assert finding.rule_id == "payroll.closed_cost_centre"
        assert finding.severity is Severity.P1
        assert finding.owner_group == "finance"
        assert finding.subject.startswith(f"{PERSON_KEY}/")
        assert finding.display_name == "Ingrid Lie"

    def test_evidence_shows_the_line_and_the_reference(self) -> None:
        """The evidence has the payroll line and DFØ's closed unit for the cost centre."""
        finding = only(evaluate(view(result(line(cost_centre=CLOSED_CC)))))
        pay = [e for e in finding.evidence if e.system == "payroll"]
        assert len(pay) == 1
        assert f"cost_centre {CLOSED_CC}" in (pay[0].value or "")
        assert pay[0].source_timestamp == RUN_STAMP
        dfo = [e for e in finding.evidence if e.system == "dfo_sap"]
        assert [(e.value, e.source_timestamp) for e in dfo] == [
            (f"{CLOSED_UNIT}: valid_to {MERGER.isoformat()}", REFERENCE_STAMP)
        ]

    def test_evidence_says_none_for_an_unknown_unit(self) -> None:
        """For a unit OrgReg does not know, the OrgReg evidence says 'none'."""
        finding = only(evaluate(view(result(line(org_unit="50009999")))))
        orgreg = [e for e in finding.evidence if e.system == "orgreg"]
        assert [e.value for e in orgreg] == ["none"]

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_person_period_and_cost_centre(self, text: str) -> None:
        """Each title and description names the person, the period and the cost centre."""
        finding = only(evaluate(view(result(line(cost_centre=CLOSED_CC)))))
        value = getattr(finding, text)
        assert "Ingrid Lie" in value
        assert "2026-10" in value
        assert CLOSED_CC in value

    def test_texts_are_translations(self) -> None:
        """The nb and en texts differ."""
        finding = only(evaluate(view(result(line(cost_centre=CLOSED_CC)))))
        assert finding.title_nb != finding.title_en
        assert finding.description_nb != finding.description_en
        assert finding.suggested_fix_nb != finding.suggested_fix_en

    def test_evidence_function_looks_up_every_charged_unit(self) -> None:
        """evidence(view) lists each line and what OrgReg and DFØ say about its unit and cost
        centre."""
        items = rule.evidence(view(result(line())))
        assert any(e.system == "orgreg" and "ou 1450" in (e.value or "") for e in items)
        assert any(e.system == "dfo_sap" and OPEN_UNIT in (e.value or "") for e in items)


class TestRealisticRecords:
    def test_salary_after_a_merger(self) -> None:
        """Kari Nordmann (mapped from DFØ's format) paid to her old unit after it closed."""
        body: dict[str, Any] = json.loads((DATA / "dfo" / "ansatt_regular.json").read_text())
        kari = map_employee(
            body,
            institution="uio",
            secret="test-secret",
            fetched_at=datetime(2026, 10, 16, 5, 0, tzinfo=UTC),
        )
        posting = result(
            line(cost_centre="123400", org_unit="50001234", amount=61250.0),
            line(cost_centre=OPEN_CC, org_unit=OPEN_UNIT, amount=6800.0),
        )
        posting.update(employee_id="123456", source_id="123456/2026-10/LØNN-2026-10")
        reference = dataclasses.replace(
            REFERENCE,
            dfo_org_units={
                **REFERENCE.dfo_org_units,
                "50001234": dfo_unit(
                    "50001234", "123400", date(2026, 8, 31), "Institutt for informatikk"
                ),
            },
            orgreg_units={
                **REFERENCE.orgreg_units,
                "1234": orgreg_unit("1234", "50001234", date(2026, 8, 31), "Informatikk"),
            },
        )
        records = [(SourceKind.DFO_EMPLOYEE, kari), (SourceKind.PAYROLL_RESULT, posting)]
        person = dataclasses.replace(PersonView.of(PERSON_KEY, "uio", records), reference=reference)
        findings = evaluate(person)
        assert details(findings) == [
            "period:2026-10/cost_centre:123400",
            "period:2026-10/unit:50001234",
        ]
        assert all("Kari Nordmann" in f.title_nb for f in findings)
        assert "61 250,00 kr" in findings[0].description_nb


class TestExample:
    def test_example_fires(self) -> None:
        """The catalogue example produces a finding with default settings."""
        person, now = rule.example()
        finding = only(list(rule.evaluate(person, now, RuleSettings())))
        assert finding.display_name == "Ingrid Lie"
        assert finding.owner_group == "finance"
