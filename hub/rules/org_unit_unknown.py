"""org.unknown_unit: DFØ places a person in a unit that OrgReg does not know, or has closed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.errors import ConfigurationError
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, ReferenceData, SourceKind
from hub.rules.employment import AFFILIATION_EARLY_DAYS, active_on, record_time
from hub.rules.examples import dfo_employee
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "evaluate", "evidence", "example", "next_check"]

Record = dict[str, Any]

RULE_ID = "org.unknown_unit"

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Org unit unknown in OrgReg",
    title_nb="Enhet ukjent i OrgReg",
    why=(
        "Org changes must flow from DFØ through OrgReg to the target systems. When DFØ"
        " places a person, or a position they hold, in a unit OrgReg does not know (or has"
        " closed), IAM cannot give the right affiliation, and the person's web page,"
        " access and mailing lists end up under the wrong unit or none. Each such unit"
        " makes extra work for every department that has people in it."
    ),
    systems=("DFØ", "OrgReg"),
    severity=Severity.P2,
    owner_group="org",
    deadline=(
        "Appears while the employment (or the holding of the position) is active, counted"
        " from the lead days (default 6, as IAM gives the affiliation) before its start,"
        " once the DFØ record has been known for the grace period (a day by default, so"
        " that OrgReg can take in a new unit), and the unit has no OrgReg unit with the"
        " external key dfo_sap/dfo_org_id, or that unit's validTo is before today. Never"
        " fires while OrgReg's reference data is not loaded. Due `days` (default 7) days"
        " after it appears, or on the start date if that comes sooner. Resolves when"
        " OrgReg knows the unit as open, or DFØ moves the person or position elsewhere."
    ),
    default_lead_days=AFFILIATION_EARLY_DAYS,
    default_grace=timedelta(hours=24),
)


@dataclass(frozen=True)
class _Placement:
    """One DFØ record that places the person in a unit: the employment or a position."""

    unit_id: str
    via: str  # "employment" or "position <id>"
    start: date | None
    end: date | None
    known_at: datetime
    record: Record


def _placements(view: PersonView) -> list[_Placement]:
    """Every unit DFØ places the person in, active or not."""
    employee = view.employee
    if employee is None:
        return []
    placements: list[_Placement] = []
    unit_id = (employee.get("org_unit_id") or "").strip()
    if unit_id:
        placements.append(
            _Placement(
                unit_id,
                "employment",
                employee.get("start_date"),
                employee.get("end_date"),
                record_time(employee),
                employee,
            )
        )
    for position in view.positions:
        unit_id = (position.get("org_unit_id") or "").strip()
        if not unit_id:
            continue
        for holder in position.get("holders") or []:
            if holder.get("employee_id") == employee.get("employee_id"):
                placements.append(
                    _Placement(
                        unit_id,
                        f"position {position.get('position_id')}",
                        holder.get("start_date"),
                        holder.get("end_date"),
                        record_time(position),
                        position,
                    )
                )
    return placements


def _fix_days(settings: RuleSettings) -> int:
    days = settings.param(RULE_ID, "days", 7)
    if days < 0:
        raise ConfigurationError(f"rule {RULE_ID}: parameter 'days' must not be negative")
    return days


def _is_active(placement: _Placement, today: date, lead: int) -> bool:
    span = {"start_date": placement.start, "end_date": placement.end}
    return active_on(span, today, early_days=lead)


def _orgreg_evidence(view: PersonView, unit_id: str) -> Evidence:
    unit = view.reference.orgreg_for_dfo(unit_id)
    if unit is None:
        return Evidence("orgreg", f"unit with dfo_org_id {unit_id}", "none")
    valid_from, valid_to = unit.get("valid_from"), unit.get("valid_to")
    return Evidence(
        "orgreg",
        f"unit with dfo_org_id {unit_id}",
        f"ou {unit.get('ou_id')}: valid"
        f" {valid_from.isoformat() if valid_from else 'none'}"
        f" to {valid_to.isoformat() if valid_to else 'none'}",
        unit.get("source_timestamp"),
    )


def _placement_evidence(placement: _Placement) -> Evidence:
    def iso(day: date | None) -> str:
        return day.isoformat() if day else "none"

    return Evidence(
        "dfo_sap",
        f"{placement.via} org_unit_id",
        f"{placement.unit_id} (from {iso(placement.start)} to {iso(placement.end)})",
        placement.record["source_timestamp"],
    )


def evidence(view: PersonView) -> Sequence[Evidence]:
    """Each unit DFØ places the person in, and what OrgReg says about it."""
    placements = _placements(view)
    items = [_placement_evidence(p) for p in placements]
    if view.reference.has_orgreg():
        items += [_orgreg_evidence(view, unit) for unit in sorted({p.unit_id for p in placements})]
    else:
        items.append(Evidence("orgreg", "reference data", "not loaded"))
    return items


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The next moment a placement becomes active (start less the lead days) or ends, a
    DFØ record's grace period ends, or an OrgReg unit the person is placed in closes."""
    if not view.reference.has_orgreg():
        return None
    lead = timedelta(days=SPEC.lead_days(settings))
    grace = SPEC.grace(settings)
    moments: list[datetime] = []
    for placement in _placements(view):
        moments.append(placement.known_at + grace)
        if placement.start is not None:
            moments.append(start_of_day(placement.start - lead))
        if placement.end is not None:
            moments.append(start_of_day(placement.end + timedelta(days=1)))
        unit = view.reference.orgreg_for_dfo(placement.unit_id)
        if unit is not None and unit.get("valid_to") is not None:
            moments.append(start_of_day(unit["valid_to"] + timedelta(days=1)))
    return min((m for m in moments if m > now), default=None)


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding per unit an active placement names that OrgReg does not know, or closed."""
    if not view.reference.has_orgreg():
        return []
    today = business_date(now)
    lead = SPEC.lead_days(settings)
    grace = SPEC.grace(settings)
    by_unit: dict[str, list[_Placement]] = {}
    for placement in _placements(view):
        if _is_active(placement, today, lead):
            by_unit.setdefault(placement.unit_id, []).append(placement)
    findings: list[Finding] = []
    for unit_id, placements in sorted(by_unit.items()):
        unit = view.reference.orgreg_for_dfo(unit_id)
        valid_to: date | None = unit.get("valid_to") if unit is not None else None
        if unit is not None and (valid_to is None or valid_to >= today):
            continue
        known_at = min(p.known_at for p in placements)
        if known_at + grace > now:
            continue
        findings.append(
            _finding(view, unit_id, placements, valid_to, _due(placements, valid_to, settings))
        )
    return findings


def _due(placements: list[_Placement], valid_to: date | None, settings: RuleSettings) -> date:
    """``days`` after the day the finding appeared, or the start date if that is sooner."""
    grace = SPEC.grace(settings)
    lead = timedelta(days=SPEC.lead_days(settings))
    starts = [p.start for p in placements if p.start is not None]
    appeared = [business_date(min(p.known_at for p in placements) + grace)]
    appeared += [min(starts) - lead] if starts else []
    appeared += [valid_to + timedelta(days=1)] if valid_to is not None else []
    day = max(appeared)
    due = day + timedelta(days=_fix_days(settings))
    later_starts = [start for start in starts if start >= day]
    return min([due, *later_starts])


def _finding(
    view: PersonView,
    unit_id: str,
    placements: list[_Placement],
    valid_to: date | None,
    due: date,
) -> Finding:
    employee = view.employee or {}
    name = view.display_name or f"ansatt {employee.get('employee_id')}"
    dfo_unit = view.reference.dfo_org_units.get(unit_id) or {}
    unit_name = f" ({dfo_unit['name']})" if dfo_unit.get("name") else ""
    via_nb = ", ".join(
        "arbeidsforholdet" if p.via == "employment" else p.via.replace("position", "stilling")
        for p in placements
    )
    via_en = ", ".join(p.via for p in placements)
    if valid_to is None:
        state_nb, state_en = "Ukjent enhet i OrgReg", "Org unit unknown in OrgReg"
        problem_nb = f"men OrgReg har ingen enhet med ekstern nøkkel dfo_sap/dfo_org_id = {unit_id}"
        problem_en = f"but OrgReg has no unit with the external key dfo_sap/dfo_org_id {unit_id}"
    else:
        state_nb, state_en = "Nedlagt enhet i OrgReg", "Org unit closed in OrgReg"
        problem_nb = f"men enheten ble avsluttet i OrgReg {valid_to.isoformat()}"
        problem_en = f"but OrgReg closed the unit on {valid_to.isoformat()}"
    return SPEC.finding(
        view,
        due_date=due,
        title_nb=f"{state_nb}: {name}, enhet {unit_id}{unit_name}",
        title_en=f"{state_en}: {name}, unit {unit_id}{unit_name}",
        description_nb=(
            f"DFØ plasserer {name} i enhet {unit_id}{unit_name} ({via_nb}), {problem_nb}."
            " IAM kan da ikke gi riktig tilknytning, og nettside, tilganger og e-postlister"
            " havner under feil enhet eller ingen."
        ),
        description_en=(
            f"DFØ places {name} in unit {unit_id}{unit_name} ({via_en}), {problem_en}."
            " IAM then cannot give the right affiliation, and the web page, access and"
            " mailing lists end up under the wrong unit or none."
        ),
        suggested_fix_nb=(
            f"Opprett eller gjenåpne enheten i OrgReg med ekstern nøkkel dfo_sap/dfo_org_id ="
            f" {unit_id}. Er det DFØ som bruker en feil eller nedlagt enhet, må HR flytte"
            " arbeidsforholdet eller stillingen til riktig enhet i DFØ."
        ),
        suggested_fix_en=(
            f"Create or reopen the unit in OrgReg with the external key dfo_sap/dfo_org_id"
            f" {unit_id}. If DFØ uses a wrong or closed unit, HR must move the employment or"
            " position to the right unit in DFØ."
        ),
        evidence=[*(_placement_evidence(p) for p in placements), _orgreg_evidence(view, unit_id)],
        detail=f"unit:{unit_id}",
    )


def example() -> tuple[PersonView, datetime]:
    """Per Olsen's new research group exists in DFØ but has not reached OrgReg."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    employee = dfo_employee(
        "789012",
        "Per",
        "Olsen",
        datetime(2026, 11, 18, 9, 30, tzinfo=UTC),
        start_date=date(2021, 8, 1),
        end_date=None,
        org_unit_id="50001488",
        changed_date=date(2026, 11, 18),
    )
    orgreg = {
        "institution": "uio",
        "source_system": "orgreg",
        "source_id": "1430",
        "source_timestamp": datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
        "ou_id": "1430",
        "parent_id": "1000",
        "valid_from": date(2010, 1, 1),
        "valid_to": None,
        "names": {
            "name_nob": "Institutt for biovitenskap",
            "name_nno": None,
            "name_eng": "Department of Biosciences",
        },
        "external_keys": [{"source_system": "dfo_sap", "type": "dfo_org_id", "value": "50001430"}],
    }
    view = PersonView.of("p-per", "uio", [(SourceKind.DFO_EMPLOYEE, employee)])
    reference = ReferenceData(orgreg_units={"1430": orgreg})
    return PersonView(
        view.person_key, view.institution, records=view.records, reference=reference
    ), now
