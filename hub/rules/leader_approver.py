"""finance.leader_without_approver: a head of unit lacks a Unit4 approver role, or a leaver has."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.employment import active_on, record_time
from hub.rules.examples import dfo_employee
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["APPROVER_ROLES", "RULE_ID", "SPEC", "evaluate", "evidence", "example", "next_check"]

Record = dict[str, Any]

RULE_ID = "finance.leader_without_approver"

APPROVER_ROLES = frozenset({"kostnadsgodkjenner", "attestant"})

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Head of unit without an approver role, or a leaver who keeps one",
    title_nb="Leder uten godkjennerrolle, eller godkjenner som har sluttet",
    why=(
        "A head of unit must hold budget authority (BDM) as cost approver or attestant in"
        " Unit4 as well as in SAP. Without it, invoices and purchases for the unit stop"
        " and suppliers are not paid on time. A person who has left but still holds such a"
        " role can approve spending they no longer answer for, an audit finding."
    ),
    systems=("DFØ", "Unit4"),
    severity=Severity.P1,
    owner_group="finance",
    deadline=(
        "A head of unit (lederflagg) whose employment is active (from the lead days, none"
        " by default, before the start) and whose DFØ record has been known for the grace"
        " period (a day by default), with no Unit4 role kostnadsgodkjenner or attestant"
        " with budget authority valid today: due on the latest of the start date, the DFØ"
        " record's date (endretDato, else its timestamp's date) and the day after the last"
        " such role ended. An approver role still valid once the grace period has passed"
        " after the employment's end date: due the day it appears (the day after the end"
        " date plus the grace). Both resolve when Unit4 shows the role as it should be."
    ),
    default_grace=timedelta(days=1),
)


def _role_name(role: Record) -> str:
    return str(role.get("role") or "").strip().lower()


def _valid_on(role: Record, day: date) -> bool:
    start: date | None = role.get("valid_from")
    end: date | None = role.get("valid_to")
    return (start is None or start <= day) and (end is None or day <= end)


def _has_authority(role: Record) -> bool:
    """A kostnadsgodkjenner or attestant role with budget authority (BDM)."""
    return _role_name(role) in APPROVER_ROLES and bool(role.get("has_budget_authority"))


def _is_approver(role: Record) -> bool:
    """Any role that lets its holder approve spending."""
    return _role_name(role) in APPROVER_ROLES or bool(role.get("has_budget_authority"))


def _employed_on(employee: Record, day: date) -> bool:
    if active_on(employee, day):
        return True
    return any(active_on(extra, day) for extra in employee.get("additional_positions") or [])


def _record_date(employee: Record) -> date:
    changed: date | None = employee.get("changed_date")
    return changed if changed is not None else business_date(employee["source_timestamp"])


def _iso(day: date | None, open_word: str = "none") -> str:
    return day.isoformat() if day else open_word


def _role_evidence(role: Record) -> Evidence:
    return Evidence(
        "unit4",
        f"approver role {role.get('assignment_id')}",
        f"{role.get('role')};"
        f" budget authority {'yes' if role.get('has_budget_authority') else 'no'};"
        f" cost_centre {role.get('cost_centre') or 'all'};"
        f" valid {_iso(role.get('valid_from'))} to {_iso(role.get('valid_to'))}",
        role["source_timestamp"],
    )


def _employee_evidence(employee: Record) -> list[Evidence]:
    stamp = employee["source_timestamp"]
    return [
        Evidence("dfo_sap", "employee_id", employee.get("employee_id"), stamp),
        Evidence("dfo_sap", "head_of_unit", str(bool(employee.get("head_of_unit"))), stamp),
        Evidence("dfo_sap", "org_unit_id", employee.get("org_unit_id"), stamp),
        Evidence("dfo_sap", "start_date", _iso(employee.get("start_date")), stamp),
        Evidence("dfo_sap", "end_date", _iso(employee.get("end_date")), stamp),
    ]


def evidence(view: PersonView) -> Sequence[Evidence]:
    """DFØ's leader flag and employment dates, and every Unit4 approver role."""
    items = _employee_evidence(view.employee) if view.employee else []
    roles = sorted(view.approver_roles, key=lambda r: str(r.get("assignment_id")))
    items += [_role_evidence(role) for role in roles]
    if not roles:
        items.append(Evidence("unit4", "approver roles", "none"))
    return items


def _leaver_moment(employee: Record, grace: timedelta) -> datetime | None:
    """When a leaver's approver roles start to count: the grace after the end date."""
    end: date | None = employee.get("end_date")
    return None if end is None else start_of_day(end + timedelta(days=1)) + grace


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The next start (less the lead days) or end of the employment, end of the DFØ
    record's grace, start or end of an approver role, or end of a leaver's grace."""
    employee = view.employee
    if employee is None:
        return None
    grace = SPEC.grace(settings)
    lead = timedelta(days=SPEC.lead_days(settings))
    moments = [record_time(employee) + grace]
    if employee.get("start_date") is not None:
        moments.append(start_of_day(employee["start_date"] - lead))
    if employee.get("end_date") is not None:
        moments.append(start_of_day(employee["end_date"] + timedelta(days=1)))
    for extra in employee.get("additional_positions") or []:
        if extra.get("end_date") is not None:
            moments.append(start_of_day(extra["end_date"] + timedelta(days=1)))
    leaver = _leaver_moment(employee, grace)
    if leaver is not None:
        moments.append(leaver)
    for role in view.approver_roles:
        if role.get("valid_from") is not None:
            moments.append(start_of_day(role["valid_from"]))
        if role.get("valid_to") is not None:
            moments.append(start_of_day(role["valid_to"] + timedelta(days=1)))
    return min((m for m in moments if m > now), default=None)


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding for an active head of unit without an approver role with budget authority,
    and one per approver role a leaver still holds after the grace."""
    employee = view.employee
    if employee is None:
        return []
    today = business_date(now)
    grace = SPEC.grace(settings)
    lead = SPEC.lead_days(settings)
    findings: list[Finding] = []
    if (
        employee.get("head_of_unit")
        and active_on(employee, today, early_days=lead)
        and record_time(employee) + grace <= now
        and not any(_has_authority(r) and _valid_on(r, today) for r in view.approver_roles)
    ):
        findings.append(_missing_role(view, employee, today))
    leaver = _leaver_moment(employee, grace)
    if leaver is not None and leaver <= now and not _employed_on(employee, today):
        for role in sorted(view.approver_roles, key=lambda r: str(r.get("assignment_id"))):
            if _is_approver(role) and _valid_on(role, today):
                findings.append(_kept_role(view, employee, role, business_date(leaver)))
    return findings


def _name(view: PersonView, employee: Record) -> str:
    return view.display_name or f"ansatt {employee['employee_id']}"


def _missing_role(view: PersonView, employee: Record, today: date) -> Finding:
    name = _name(view, employee)
    unit = employee.get("org_unit_id") or "?"
    start: date | None = employee.get("start_date")
    # Only roles that have ended move the due date; one that starts or ends later does not.
    ended = [
        r["valid_to"] + timedelta(days=1)
        for r in view.approver_roles
        if _has_authority(r) and r.get("valid_to") is not None and r["valid_to"] < today
    ]
    due = max([_record_date(employee), *([start] if start else []), *ended])
    return SPEC.finding(
        view,
        due_date=due,
        title_nb=f"Leder uten godkjennerrolle i Unit4: {name}, enhet {unit}",
        title_en=f"Head of unit without an approver role in Unit4: {name}, unit {unit}",
        description_nb=(
            f"DFØ registrerer {name} (ansattnummer {employee['employee_id']}) som leder for"
            f" enhet {unit}, men Unit4 viser ingen gyldig rolle som kostnadsgodkjenner eller"
            " attestant med budsjettdisponeringsmyndighet (BDM). Lederen kan da ikke"
            " godkjenne fakturaer og innkjøp for enheten, og leverandører får ikke betalt"
            " i tide."
        ),
        description_en=(
            f"DFØ records {name} (employee number {employee['employee_id']}) as head of unit"
            f" {unit}, but Unit4 shows no valid cost approver (kostnadsgodkjenner) or"
            " attestant role with budget authority (BDM). The leader cannot approve the"
            " unit's invoices and purchases, and suppliers are not paid on time."
        ),
        suggested_fix_nb=(
            "Gi lederen rollen kostnadsgodkjenner med BDM (eller attestant med BDM) for"
            " enhetens koststeder i Unit4. Er lederflagget feil i DFØ, må HR rette det der."
        ),
        suggested_fix_en=(
            "Give the leader the cost approver role with budget authority (or attestant with"
            " budget authority) for the unit's cost centres in Unit4. If the leader flag in"
            " DFØ is wrong, HR must correct it there."
        ),
        evidence=evidence(view),
        detail="head_of_unit",
    )


def _kept_role(view: PersonView, employee: Record, role: Record, due: date) -> Finding:
    name = _name(view, employee)
    end: date = employee["end_date"]
    role_name = str(role.get("role") or "?")
    cost_centre = role.get("cost_centre")
    scope_nb = f"koststed {cost_centre}" if cost_centre else "alle koststeder"
    scope_en = f"cost centre {cost_centre}" if cost_centre else "all cost centres"
    return SPEC.finding(
        view,
        due_date=due,
        title_nb=f"Godkjenner har sluttet: {name}, {role_name} for {scope_nb}",
        title_en=f"Approver has left: {name}, {role_name} for {scope_en}",
        description_nb=(
            f"Arbeidsforholdet til {name} (ansattnummer {employee['employee_id']}) i DFØ"
            f" sluttet {end.isoformat()}, men rollen {role_name} for {scope_nb} i Unit4 er"
            f" fortsatt gyldig (til {_iso(role.get('valid_to'), 'inntil videre')}). En som"
            " har sluttet skal ikke kunne godkjenne utgifter."
        ),
        description_en=(
            f"The DFØ employment of {name} (employee number {employee['employee_id']})"
            f" ended on {end.isoformat()}, but the Unit4 role {role_name} for {scope_en} is"
            f" still valid (until {_iso(role.get('valid_to'), 'further notice')}). A person"
            " who has left must not be able to approve spending."
        ),
        suggested_fix_nb=(
            "Avslutt rollen i Unit4 per sluttdatoen, og gi den til etterfølgeren eller"
            " stedfortrederen. Fortsetter personen i en ny stilling, rett sluttdatoen i DFØ."
        ),
        suggested_fix_en=(
            "End the role in Unit4 as of the end date and give it to the successor or deputy."
            " If the person continues in a new position, correct the end date in DFØ."
        ),
        evidence=[*_employee_evidence(employee), _role_evidence(role)],
        detail=f"role:{role.get('assignment_id')}",
    )


def example() -> tuple[PersonView, datetime]:
    """Anne Dahl became head of department in November; Unit4 still has no BDM role for her."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    employee = dfo_employee(
        "890123",
        "Anne",
        "Dahl",
        datetime(2026, 11, 2, 7, 0, tzinfo=UTC),
        start_date=date(2012, 8, 1),
        end_date=None,
        head_of_unit=True,
        org_unit_id="50001430",
        cost_centre="143000",
        changed_date=date(2026, 11, 1),
        additional_positions=[],
    )
    role = {
        "institution": "uio",
        "source_system": "unit4",
        "source_id": "890123-attestant-143000",
        "source_timestamp": datetime(2026, 11, 21, 4, 0, tzinfo=UTC),
        "assignment_id": "890123-attestant-143000",
        "resource_id": "890123",
        "role": "attestant",
        "has_budget_authority": False,
        "cost_centre": "143000",
        "valid_from": date(2020, 1, 1),
        "valid_to": None,
    }
    view = PersonView.of(
        "p-anne",
        "uio",
        [(SourceKind.DFO_EMPLOYEE, employee), (SourceKind.UNIT4_APPROVER_ROLE, role)],
    )
    return view, now
