"""payroll.closed_cost_centre: pay charged to an unknown or closed org unit or cost centre."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, ReferenceData, SourceKind
from hub.rules.examples import dfo_employee
from hub.rules.payroll_periods import (
    day_param,
    next_cutoff,
    nok_en,
    nok_nb,
    period_bounds,
)
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "evaluate", "evidence", "example", "next_check"]

Record = dict[str, Any]

RULE_ID = "payroll.closed_cost_centre"

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Pay posted to a closed or unknown cost centre",
    title_nb="Lønn ført på nedlagt eller ukjent koststed",
    why=(
        "The payroll journal SAP posts to Unit4 carries each line's cost centre and org"
        " unit (ansattekontering). A line charged to a unit that OrgReg does not know, or"
        " to a cost centre that is closed, is rejected or lands on a suspense account:"
        " the accounts and the budget follow-up of the unit are wrong until someone"
        " re-posts it, and the person's next pay goes the same way until the allocation"
        " in DFØ is corrected."
    ),
    systems=("DFØ payroll", "DFØ SAP HR", "OrgReg", "Unit4"),
    severity=Severity.P1,
    owner_group="finance",
    deadline=(
        "Appears when a payroll result has been known for the grace period (a day by"
        " default, so that a new unit can reach DFØ's and OrgReg's reference data) and one"
        " of its lines is charged to an org unit OrgReg does not know or closed (validTo)"
        " before the payment date, or to a cost centre no DFØ org unit carries or whose"
        " units all closed before the payment date (the period's last day when there is"
        " no payment date). Never fires while the reference data in question is not"
        " loaded. Due at the next payroll cut-off (day `cutoff_day`, default the 10th)"
        " after the payment date. Resolves when the reference data shows the unit or cost"
        " centre open, or the payroll result is corrected."
    ),
    default_grace=timedelta(hours=24),
)

_WHAT = {
    ("unit", "unknown"): ("ukjent enhet", "an unknown org unit"),
    ("unit", "closed"): ("nedlagt enhet", "a closed org unit"),
    ("cost_centre", "unknown"): ("ukjent koststed", "an unknown cost centre"),
    ("cost_centre", "closed"): ("nedlagt koststed", "a closed cost centre"),
}


@dataclass
class _Problem:
    """One unit or cost centre a pay period's lines are charged to, and what is wrong."""

    period: str
    kind: str  # "unit" or "cost_centre"
    key: str
    reason: str  # "unknown" or "closed"
    valid_to: date | None
    pay_day: date
    amount: float = 0.0
    results: dict[str, Record] = field(default_factory=dict)


def _pay_day(result: Record) -> date | None:
    """The payment date, or the pay period's last day when there is none."""
    paid_on: date | None = result.get("paid_on")
    if paid_on is not None:
        return paid_on
    bounds = period_bounds(result.get("period"))
    return bounds[1] if bounds else None


def _closed_before(units: Sequence[Record], day: date) -> date | None:
    """The last valid day of ``units`` if every one of them closed before ``day``."""
    ends: list[date | None] = [unit.get("valid_to") for unit in units]
    closed = [end for end in ends if end is not None and end < day]
    if not ends or len(closed) < len(ends):
        return None
    return max(closed)


def _checks(
    view: PersonView, result: Record, line: Record
) -> Iterator[tuple[str, str, str, date | None]]:
    """(kind, key, reason, valid_to) for each thing wrong with one line's charging."""
    pay_day = _pay_day(result)
    if pay_day is None:
        return
    reference = view.reference
    unit_id = (line.get("org_unit_id") or "").strip()
    if unit_id and reference.has_orgreg():
        unit = reference.orgreg_for_dfo(unit_id)
        if unit is None:
            yield "unit", unit_id, "unknown", None
        elif (closed := _closed_before([unit], pay_day)) is not None:
            yield "unit", unit_id, "closed", closed
    cost_centre = (line.get("cost_centre") or "").strip()
    if cost_centre and reference.dfo_org_units:
        units = reference.dfo_units_for_cost_centre(cost_centre)
        if not units:
            yield "cost_centre", cost_centre, "unknown", None
        elif (closed := _closed_before(units, pay_day)) is not None:
            yield "cost_centre", cost_centre, "closed", closed


def _problems(view: PersonView, now: datetime, grace: timedelta) -> list[_Problem]:
    problems: dict[tuple[str, str, str], _Problem] = {}
    for result in view.payroll_results:
        period = str(result.get("period") or "").strip()
        pay_day = _pay_day(result)
        if pay_day is None or result["source_timestamp"] + grace > now:
            continue
        for line in result.get("lines") or []:
            amount = float(line.get("amount") or 0.0)
            if amount == 0:
                continue
            for kind, key, reason, valid_to in _checks(view, result, line):
                problem = problems.setdefault(
                    (period, kind, key), _Problem(period, kind, key, reason, valid_to, pay_day)
                )
                problem.amount += amount
                problem.pay_day = min(problem.pay_day, pay_day)
                problem.results[result["source_id"]] = result
    return [problems[k] for k in sorted(problems)]


def _reference_evidence(view: PersonView, kind: str, key: str) -> Evidence:
    reference = view.reference
    if kind == "unit":
        unit = reference.orgreg_for_dfo(key)
        if unit is None:
            return Evidence("orgreg", f"unit with dfo_org_id {key}", "none")
        valid_to = unit.get("valid_to")
        return Evidence(
            "orgreg",
            f"unit with dfo_org_id {key}",
            f"ou {unit.get('ou_id')}: valid_to {valid_to.isoformat() if valid_to else 'none'}",
            unit.get("source_timestamp"),
        )
    units = reference.dfo_units_for_cost_centre(key)
    if not units:
        return Evidence("dfo_sap", f"org units with cost_centre {key}", "none")
    described = "; ".join(
        f"{u.get('org_unit_id')}: valid_to"
        f" {u['valid_to'].isoformat() if u.get('valid_to') else 'none'}"
        for u in sorted(units, key=lambda u: str(u.get("org_unit_id")))
    )
    stamps = [u["source_timestamp"] for u in units if u.get("source_timestamp")]
    return Evidence(
        "dfo_sap", f"org units with cost_centre {key}", described, max(stamps, default=None)
    )


def _line_evidence(results: Sequence[Record]) -> list[Evidence]:
    items: list[Evidence] = []
    for result in sorted(results, key=lambda r: (str(r.get("period")), str(r["source_id"]))):
        paid_on = result.get("paid_on")
        for line in result.get("lines") or []:
            items.append(
                Evidence(
                    "payroll",
                    f"period {result.get('period')} run {result.get('run_id')}"
                    f" wage type {line.get('wage_type')}",
                    f"amount {float(line.get('amount') or 0.0):.2f};"
                    f" cost_centre {line.get('cost_centre') or 'none'};"
                    f" org_unit_id {line.get('org_unit_id') or 'none'};"
                    f" paid_on {paid_on.isoformat() if paid_on else 'none'}",
                    result["source_timestamp"],
                )
            )
    return items


def evidence(view: PersonView) -> Sequence[Evidence]:
    """Every payroll line's charging, and what OrgReg and DFØ say about each unit and
    cost centre it names (as far as that reference data is loaded)."""
    items = _line_evidence(view.payroll_results)
    looked_up: set[tuple[str, str]] = set()
    for result in view.payroll_results:
        for line in result.get("lines") or []:
            unit_id = (line.get("org_unit_id") or "").strip()
            if unit_id and view.reference.has_orgreg():
                looked_up.add(("unit", unit_id))
            cost_centre = (line.get("cost_centre") or "").strip()
            if cost_centre and view.reference.dfo_org_units:
                looked_up.add(("cost_centre", cost_centre))
    items += [_reference_evidence(view, kind, key) for kind, key in sorted(looked_up)]
    return items


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The moment a payroll result's grace period ends (the payment dates and the units'
    validity are fixed dates in the past: only the grace waits)."""
    grace = SPEC.grace(settings)
    moments = [r["source_timestamp"] + grace for r in view.payroll_results if r.get("lines")]
    return min((m for m in moments if m > now), default=None)


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding per pay period and unit or cost centre that the period's pay is charged
    to, but that is unknown, or closed before the payment date."""
    cutoff_day = day_param(settings, RULE_ID, "cutoff_day", 10)
    return [
        _finding(view, problem, next_cutoff(problem.pay_day, cutoff_day))
        for problem in _problems(view, now, SPEC.grace(settings))
    ]


def _finding(view: PersonView, problem: _Problem, due: date) -> Finding:
    employee = view.employee
    first = next(iter(problem.results.values()))
    employee_id = employee["employee_id"] if employee else first.get("employee_id")
    name = view.display_name or f"ansatt {employee_id}"
    what_nb, what_en = _WHAT[(problem.kind, problem.reason)]
    thing_nb = f"enhet {problem.key}" if problem.kind == "unit" else f"koststed {problem.key}"
    thing_en = f"org unit {problem.key}" if problem.kind == "unit" else f"cost centre {problem.key}"
    if problem.reason == "closed" and problem.valid_to is not None:
        why_nb = (
            f"{thing_nb} ble avsluttet {problem.valid_to.isoformat()}, før utbetalingen"
            f" {problem.pay_day.isoformat()}"
        )
        why_en = (
            f"{thing_en} closed on {problem.valid_to.isoformat()}, before the payment on"
            f" {problem.pay_day.isoformat()}"
        )
    elif problem.kind == "unit":
        why_nb = f"{thing_nb} (DFØs organisasjonId) finnes ikke i OrgReg"
        why_en = f"{thing_en} (DFØ's organisasjonId) is not known in OrgReg"
    else:
        why_nb = f"ingen av DFØs organisasjonsenheter har {thing_nb}"
        why_en = f"no DFØ org unit carries {thing_en}"
    return SPEC.finding(
        view,
        due_date=due,
        title_nb=f"Lønn ført på {what_nb}: {name}, periode {problem.period}, {thing_nb}",
        title_en=f"Pay posted to {what_en}: {name}, period {problem.period}, {thing_en}",
        description_nb=(
            f"Lønnen til {name} (ansattnummer {employee_id}) for lønnsperioden"
            f" {problem.period} er kontert med {nok_nb(problem.amount)} på {thing_nb}, men"
            f" {why_nb}. Posteringen i Unit4 kan da bli avvist eller havne på feil sted."
        ),
        description_en=(
            f"The pay of {name} (employee number {employee_id}) for the pay period"
            f" {problem.period} charges {nok_en(problem.amount)} to {thing_en}, but"
            f" {why_en}. The posting in Unit4 may then be rejected or land in the wrong place."
        ),
        suggested_fix_nb=(
            "Rett ansattekonteringen i DFØ til et åpent koststed og en gyldig enhet, og få"
            " lønnsbilaget omkontert i Unit4 før neste lønnsfrist. Er enheten feilaktig"
            " avsluttet eller mangler den i OrgReg, meld det til eieren av"
            " organisasjonsregisteret."
        ),
        suggested_fix_en=(
            "Correct the cost allocation (ansattekontering) in DFØ to an open cost centre and"
            " a valid unit, and have the payroll voucher re-posted in Unit4 before the next"
            " payroll cut-off. If the unit was closed by mistake or is missing in OrgReg,"
            " tell the org registry's owner."
        ),
        evidence=[
            *_line_evidence(list(problem.results.values())),
            _reference_evidence(view, problem.kind, problem.key),
        ],
        detail=f"period:{problem.period}/{problem.kind}:{problem.key}",
    )


def example() -> tuple[PersonView, datetime]:
    """Ingrid Lie's October salary was charged to a cost centre closed in the summer merger."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    stamp = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    employee = dfo_employee(
        "678901",
        "Ingrid",
        "Lie",
        stamp,
        start_date=date(2018, 1, 1),
        end_date=None,
        org_unit_id="50001450",
        cost_centre="145000",
    )
    result = {
        "institution": "uio",
        "source_system": "unit4_payroll_postings",
        "source_id": "678901/2026-10/LØNN-2026-10",
        "source_timestamp": datetime(2026, 10, 12, 5, 0, tzinfo=UTC),
        "employee_id": "678901",
        "period": "2026-10",
        "run_id": "LØNN-2026-10",
        "run_type": "regular",
        "paid_on": date(2026, 10, 12),
        "lines": [
            {
                "wage_type": "1010",
                "description": "Fastlønn",
                "amount": 52400.0,
                "hours": None,
                "rate": None,
                "position_id": "30045678",
                "cost_centre": "143000",
                "org_unit_id": "50001450",
                "hourly": False,
            }
        ],
        "total_amount": 52400.0,
    }

    def dfo_unit(unit_id: str, name: str, cost_centre: str, valid_to: date | None) -> Record:
        return {
            "institution": "uio",
            "source_system": "dfo_sap",
            "source_id": unit_id,
            "source_timestamp": stamp,
            "org_unit_id": unit_id,
            "name": name,
            "parent_id": "50001000",
            "cost_centre": cost_centre,
            "valid_from": date(2010, 1, 1),
            "valid_to": valid_to,
            "leader_employee_id": None,
        }

    orgreg = {
        "institution": "uio",
        "source_system": "orgreg",
        "source_id": "1450",
        "source_timestamp": stamp,
        "ou_id": "1450",
        "parent_id": "1000",
        "valid_from": date(2026, 7, 1),
        "valid_to": None,
        "names": {"name_nob": "Institutt for biovitenskap", "name_nno": None, "name_eng": None},
        "external_keys": [{"source_system": "dfo_sap", "type": "dfo_org_id", "value": "50001450"}],
    }
    reference = ReferenceData(
        dfo_org_units={
            "50001430": dfo_unit("50001430", "Biologisk institutt", "143000", date(2026, 6, 30)),
            "50001450": dfo_unit("50001450", "Institutt for biovitenskap", "145000", None),
        },
        orgreg_units={"1450": orgreg},
    )
    view = PersonView.of(
        "p-ingrid",
        "uio",
        [(SourceKind.DFO_EMPLOYEE, employee), (SourceKind.PAYROLL_RESULT, result)],
    )
    return PersonView(
        view.person_key, view.institution, records=view.records, reference=reference
    ), now
