"""Tests for the rule access.position_unclassifiable."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import pytest

from connectors.dfo.mapping import map_employee, map_position
from hub.clock import start_of_day
from hub.findings import Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules import position_classification
from hub.rules.settings import RuleSettings
from tests import rule_builders as build
from tests.rule_builders import only

RULE_ID = position_classification.RULE_ID
NOW = datetime(2026, 9, 23, 11, 0, tzinfo=UTC)  # 13:00 in Oslo
TODAY = date(2026, 9, 23)
START = date(2026, 10, 1)
EMPLOYEE_STAMP = datetime(2026, 9, 21, 14, 0, tzinfo=UTC)
POSITION_STAMP = datetime(2026, 9, 21, 14, 1, tzinfo=UTC)
DEFAULT = RuleSettings()
PERSON_KEY = "p-9e8d7c6b5a4f3e2d1c0b9a87"
EMPLOYEE_ID = "356120"
POSITION_ID = "30098001"


def employee(**overrides: Any) -> dict[str, Any]:
    """A DFØ employee (MG 1, MUG 17) starting on 2026-10-01 in position 30098001."""
    fields: dict[str, Any] = {
        "first_name": "Emil",
        "last_name": "Strand",
        "employee_group": "1",
        "employee_subgroup": "17",
        "main_position_id": POSITION_ID,
        "start_date": START,
        "end_date": None,
        "changed_date": date(2026, 9, 14),
    }
    return build.employee(EMPLOYEE_ID, EMPLOYEE_STAMP, **(fields | overrides))


def position(
    position_id: str = POSITION_ID,
    categories: tuple[tuple[str, str], ...] = (("50078199", "Ukjent"),),
) -> dict[str, Any]:
    """A DFØ position with the given (category id, name) pairs."""
    return {
        "institution": "uio",
        "source_system": "dfo_sap",
        "source_id": position_id,
        "source_timestamp": POSITION_STAMP,
        "position_id": position_id,
        "position_code": "20001434",
        "title": "Rådgiver",
        "org_unit_id": "50001300",
        "holders": [{"employee_id": EMPLOYEE_ID, "start_date": START, "end_date": None}],
        "categories": [{"category_id": c, "name": n} for c, n in categories],
    }


def view(
    employee_record: dict[str, Any] | None, *positions: dict[str, Any], tasks: Any = None
) -> PersonView:
    """A person view holding the employee and positions (and tasks, if given)."""
    return build.person(
        (SourceKind.DFO_EMPLOYEE, employee_record),
        *[(SourceKind.DFO_POSITION, p) for p in positions],
        key=PERSON_KEY,
        tasks=tasks,
    )


def evaluate(
    person: PersonView, now: datetime = NOW, settings: RuleSettings = DEFAULT
) -> list[Finding]:
    """The rule's findings as a list."""
    return list(position_classification.evaluate(person, now, settings))


class TestWhenItFires:
    def test_fires_for_an_unmapped_category(self) -> None:
        """MG/MUG 1/17 and a position category outside the mapping give a finding."""
        only(evaluate(view(employee(), position())))

    def test_fires_for_a_position_without_categories(self) -> None:
        """A main position with no category at all cannot be classified either."""
        only(evaluate(view(employee(), position(categories=()))))

    @pytest.mark.parametrize("category", ["50078118", "50078119", "50078120"])
    def test_no_finding_for_a_mapped_category(self, category: str) -> None:
        """The tekadm and vitenskapelig categories classify the employment."""
        assert evaluate(view(employee(), position(categories=((category, "Kat"),)))) == []

    @pytest.mark.parametrize(("group", "subgroup"), [("9", "90"), ("9", "93"), ("9", "95")])
    def test_no_finding_when_mg_mug_classifies(self, group: str, subgroup: str) -> None:
        """MG/MUG 9/90, 9/93 and 9/95 give TILKNYTTET whatever the position says."""
        record = employee(employee_group=group, employee_subgroup=subgroup)
        assert evaluate(view(record, position())) == []

    def test_ignored_group_never_fires(self) -> None:
        """MG/MUG 8/50 is ignored on purpose by the mapping: no finding, even unclassified."""
        record = employee(employee_group="8", employee_subgroup="50", main_position_id=None)
        assert evaluate(view(record)) == []

    def test_only_the_main_position_counts(self) -> None:
        """A mapped category on another position does not classify the main one."""
        other = position("30011111", (("50078120", "Vitenskapelig"),))
        only(evaluate(view(employee(), position(), other)))

    def test_fires_at_once_without_a_main_position(self) -> None:
        """Without a main position nothing is on its way: fresh data is judged at once."""
        record = employee(main_position_id=None, source_timestamp=NOW - timedelta(minutes=1))
        finding = only(evaluate(view(record)))
        assert "ingen hovedstilling" in finding.description_nb
        assert "no main position" in finding.description_en

    def test_no_finding_after_the_employment_ended(self) -> None:
        """An employment that ended yesterday needs no affiliation."""
        record = employee(start_date=date(2020, 1, 1), end_date=TODAY - timedelta(days=1))
        assert evaluate(view(record, position())) == []

    def test_fires_for_a_running_employment(self) -> None:
        """A long-running employment whose position lost its category is found too."""
        only(evaluate(view(employee(start_date=date(2019, 3, 1)), position())))

    def test_no_finding_without_employee_or_start(self) -> None:
        """Without DFØ's employee or a start date there is nothing to classify."""
        assert evaluate(view(None, position())) == []
        assert evaluate(view(employee(start_date=None), position())) == []


class TestBoundaries:
    def test_lead_window_boundary_by_day(self) -> None:
        """Start in 15 days: nothing; in 14 days (the default lead): a finding."""
        assert evaluate(view(employee(start_date=TODAY + timedelta(days=15)), position())) == []
        only(evaluate(view(employee(start_date=TODAY + timedelta(days=14)), position())))

    def test_lead_window_boundary_to_the_minute(self) -> None:
        """One minute before Oslo midnight of start - 14 days: nothing; at it: found."""
        opens = start_of_day(START - timedelta(days=14))
        person = view(employee(), position())
        assert evaluate(person, now=opens - timedelta(minutes=1)) == []
        only(evaluate(person, now=opens))

    def test_next_check_is_the_opening_of_the_lead_window(self) -> None:
        """Before the window, next_check is Oslo midnight of start less 14 days."""
        person = view(employee(), position())
        early = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
        assert position_classification.next_check(person, early, DEFAULT) == start_of_day(
            date(2026, 9, 17)
        )

    def test_next_check_is_the_day_after_the_end(self) -> None:
        """Within the window, the next change is the day after the end date."""
        person = view(employee(end_date=date(2027, 6, 30)), position())
        assert position_classification.next_check(person, NOW, DEFAULT) == start_of_day(
            date(2027, 7, 1)
        )

    def test_missing_main_position_waits_for_the_grace_period(self) -> None:
        """The position may arrive after the employee: found only 60 minutes after DFØ's
        employee data, and next_check is that moment."""
        stamp = NOW - timedelta(minutes=30)
        person = view(employee(source_timestamp=stamp))
        ends = stamp + timedelta(minutes=60)
        assert evaluate(person) == []
        assert evaluate(person, now=ends - timedelta(minutes=1)) == []
        finding = only(evaluate(person, now=ends))
        assert position_classification.next_check(person, NOW, DEFAULT) == ends
        assert "ikke har mottatt" in finding.description_nb

    def test_open_task_is_not_hidden_by_the_grace_period(self) -> None:
        """A refetched employee record does not make an open task flicker shut."""
        task = {"task_id": "t-1", "rule_id": RULE_ID, "subject": PERSON_KEY, "state": "OPEN"}
        person = view(employee(source_timestamp=NOW - timedelta(minutes=5)), tasks={"t-1": task})
        only(evaluate(person))

    def test_present_position_is_judged_without_waiting(self) -> None:
        """With the main position at hand, fresh data is judged at once."""
        only(evaluate(view(employee(source_timestamp=NOW - timedelta(minutes=1)), position())))


class TestTheFinding:
    def test_classification(self) -> None:
        """P2, owned by IAM, about the person, due 6 days before the start."""
        finding = only(evaluate(view(employee(), position())))
        assert finding.rule_id == RULE_ID
        assert finding.subject == PERSON_KEY
        assert finding.severity is Severity.P2
        assert finding.owner_group == "iam"
        assert finding.due_date == date(2026, 9, 25)
        assert finding.display_name == "Emil Strand"

    def test_due_date_after_a_late_change_is_a_week_after_it(self) -> None:
        """For a running employment changed in DFØ on 2026-09-20 the due date is 09-27,
        the same on every later day."""
        person = view(
            employee(start_date=date(2019, 3, 1), changed_date=date(2026, 9, 20)), position()
        )
        dues = {only(evaluate(person, now=NOW + timedelta(days=d))).due_date for d in range(3)}
        assert dues == {date(2026, 9, 27)}

    def test_evidence(self) -> None:
        """The evidence holds MG, MUG, the main position id and its categories."""
        finding = only(evaluate(view(employee(), position())))
        values = {(e.system, e.field): e.value for e in finding.evidence}
        assert values[("dfo_sap", "employee_group")] == "1"
        assert values[("dfo_sap", "employee_subgroup")] == "17"
        assert values[("dfo_sap", "main_position_id")] == POSITION_ID
        assert values[("dfo_sap", f"position {POSITION_ID} categories")] == (
            "50078199 Ukjent (20001434 Rådgiver)"
        )
        stamps = {e.source_timestamp for e in finding.evidence}
        assert stamps == {EMPLOYEE_STAMP, POSITION_STAMP}

    def test_evidence_notes_a_missing_position(self) -> None:
        """When the main position has not arrived, the evidence says so."""
        finding = only(evaluate(view(employee())))
        values = {(e.system, e.field): e.value for e in finding.evidence}
        assert values[("dfo_sap", f"position {POSITION_ID}")] == "not received"

    @pytest.mark.parametrize("text", ["title_nb", "title_en", "description_nb", "description_en"])
    def test_texts_name_the_person_and_the_groups(self, text: str) -> None:
        """Each title and description names the person and MG/MUG 1/17."""
        value = getattr(only(evaluate(view(employee(), position()))), text)
        assert "Emil Strand" in value
        assert "1/17" in value

    def test_descriptions_name_position_and_category(self) -> None:
        """The descriptions name the main position and its category."""
        finding = only(evaluate(view(employee(), position())))
        for value in (finding.description_nb, finding.description_en):
            assert POSITION_ID in value
            assert "50078199" in value
        assert finding.suggested_fix_nb != finding.suggested_fix_en


class TestSettings:
    def test_lead_days_from_settings(self) -> None:
        """Lead days 20 report an employment starting in 20 days; the default 14 does not."""
        person = view(employee(start_date=TODAY + timedelta(days=20)), position())
        assert evaluate(person) == []
        only(evaluate(person, settings=RuleSettings.tuned(RULE_ID, lead_days=20)))

    def test_grace_from_settings(self) -> None:
        """With no grace a missing position is reported at once."""
        person = view(employee(source_timestamp=NOW - timedelta(minutes=5)))
        assert evaluate(person) == []
        only(evaluate(person, settings=RuleSettings.tuned(RULE_ID, grace_minutes=0)))

    def test_due_days_from_settings(self) -> None:
        """due_days 14 puts the due date 14 days after DFØ's last change."""
        person = view(
            employee(start_date=date(2019, 3, 1), changed_date=date(2026, 9, 20)), position()
        )
        settings = RuleSettings.tuned(RULE_ID, params={"due_days": 14})
        assert only(evaluate(person, settings=settings)).due_date == date(2026, 10, 4)


class TestPurityAndExample:
    def test_evaluation_is_pure(self) -> None:
        """Evaluating twice gives equal findings and leaves the view unchanged."""
        person = view(employee(), position())
        before = repr(person)
        assert evaluate(person) == evaluate(person)
        assert repr(person) == before

    def test_example_fires(self) -> None:
        """The catalogue example gives exactly one finding."""
        person, now = position_classification.example()
        assert only(evaluate(person, now=now)).display_name == "Emil Strand"

    def test_spec(self) -> None:
        """The spec carries the rule id, P2 and IAM."""
        spec = position_classification.SPEC
        assert (spec.rule_id, spec.severity, spec.owner_group) == (RULE_ID, Severity.P2, "iam")


class TestRealisticRecords:
    NATIVE_ANSATT: ClassVar[dict[str, Any]] = {
        "ansatt": [
            {
                "id": "00356120",
                "fnr": "03079412345",
                "annenId": [],
                "fornavn": "Emil",
                "etternavn": "Strand",
                "fdato": "1994-07-03",
                "kjonn": "M",
                "stillingId": 30098001,
                "medarbeidergruppe": "1",
                "medarbeiderundergruppe": "17",
                "startdato": "2026-10-01",
                "sluttdato": "9999-12-31",
                "dellonnsprosent": "100",
                "tittel": "Rådgiver",
                "tilleggsstilling": [],
                "eksternbruker": 0,
                "lederflagg": 0,
                "reservasjonPublisering": "N",
                "mobilPrivat": "+47 934 56 789",
                "privatEpost": "emil.strand@example.org",
                "organisasjonId": "50001300",
                "kostnadssted": "130100",
                "endretDato": "2026-09-14",
            }
        ]
    }

    @staticmethod
    def native_stilling(category: str) -> dict[str, Any]:
        """A native stilling body, unwrapped as DFØ sometimes sends it."""
        return {
            "stilling": {
                "id": 30098001,
                "stillingskode": 20001434,
                "stillingstittel": "Rådgiver",
                "yrkeskode": 2422117,
                "organisasjonId": 50001300,
                "innehaver": {
                    "innehaverAnsattnr": "00356120",
                    "innehaverStartdato": "2026-10-01",
                    "innehaverSluttdato": "9999-12-31",
                },
                "stillingskat": {"stillingskatId": category, "stillingskatBetegn": "Administrativ"},
            }
        }

    def test_native_dfo_employee_and_position(self) -> None:
        """Native DFØ bodies: an unmapped category 50078121 gives a finding; the same
        position with category 50078118 (tekadm) gives none."""
        fetched = datetime(2026, 9, 21, 14, 0, tzinfo=UTC)
        hire = map_employee(
            self.NATIVE_ANSATT, institution="uio", secret="test-secret", fetched_at=fetched
        )
        unmapped = map_position(
            self.native_stilling("50078121"), institution="uio", fetched_at=fetched
        )
        finding = only(evaluate(view(hire, unmapped)))
        assert finding.due_date == date(2026, 9, 25)
        assert "03079412345" not in repr(finding)
        values = {(e.system, e.field): e.value for e in finding.evidence}
        assert values[("dfo_sap", "position 30098001 categories")] == (
            "50078121 Administrativ (20001434 Rådgiver)"
        )
        mapped = map_position(
            self.native_stilling("50078118"), institution="uio", fetched_at=fetched
        )
        assert evaluate(view(hire, mapped)) == []
