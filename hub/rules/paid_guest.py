"""payroll.paid_guest: a guest role overlaps an hourly contract, or a guest in SAP is paid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.errors import ConfigurationError
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.employment import is_hourly
from hub.rules.examples import dfo_employee
from hub.rules.payroll_periods import add_months, cutoff_on_or_after, nok_nb
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = [
    "RULE_ID",
    "SPEC",
    "evaluate",
    "evidence",
    "example",
    "next_check",
]

RULE_ID = "payroll.paid_guest"

Record = dict[str, Any]

GUEST_GROUP = "9"  # DFØ's employee group (MG) for guests and external persons
DEFAULT_CUTOFF_DAY = 10
DEFAULT_LOOKBACK_MONTHS = 3

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Paid guest",
    title_nb="Gjest som får lønn",
    why=(
        "A guest is by definition not paid as a guest: either the person works on an"
        " hourly or assignment contract and the guest role is wrong, or pay goes to"
        " someone DFØ registers as a guest (employee group 9). Pay may then go out without"
        " a valid contract, or a person doing paid work lacks the contract, time"
        " registration and tax reporting that go with it. HR payroll must decide which"
        " is right before the next payroll cut-off."
    ),
    systems=("Greg", "DFØ", "Payroll"),
    severity=Severity.P2,
    owner_group="hr_payroll",
    deadline=(
        "One finding per guest role that overlaps in time an hourly or assignment"
        " employment in DFØ (from when both are known, until the overlap has passed), and"
        " one per pay period with a positive payroll total for a person in DFØ's employee"
        " group 9 (periods within the parameter lookback_months, default 3, and within"
        " the employment). Both wait out the grace period after the newest source record"
        " (not again once the task is open)."
        " Due on the first payroll cut-off (parameter cutoff_day, default the 10th) on or"
        " after the overlap starts, or after the pay date. Resolves when the role or the"
        " contract changes so they no longer overlap, the employee group changes, or a"
        " correction brings the period's total to zero."
    ),
    default_grace=timedelta(minutes=60),
)


def _params(settings: RuleSettings) -> tuple[int, int, frozenset[str]]:
    cutoff = settings.param(RULE_ID, "cutoff_day", DEFAULT_CUTOFF_DAY)
    if not 1 <= cutoff <= 31:
        raise ConfigurationError(f"rule {RULE_ID}: cutoff_day must be 1 to 31, not {cutoff}")
    lookback = settings.param(RULE_ID, "lookback_months", DEFAULT_LOOKBACK_MONTHS)
    if lookback < 0:
        raise ConfigurationError(f"rule {RULE_ID}: lookback_months must be >= 0, not {lookback}")
    ignored = settings.param(RULE_ID, "ignored_role_types", "")
    return cutoff, lookback, frozenset(t.strip() for t in ignored.split(",") if t.strip())


def _period_start(period: str) -> date | None:
    try:
        year, month = period.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Overlap:
    guest: Record
    role: Record
    start: date
    end: date | None  # None: neither side has an end


@dataclass(frozen=True)
class _PaidPeriod:
    period: str
    first_day: date
    total: float
    paid_on: date
    stamp: datetime


def _overlaps(view: PersonView, ignored: frozenset[str]) -> list[_Overlap]:
    """Guest roles overlapping the person's hourly or assignment employment."""
    employee = view.employee
    if employee is None or employee.get("start_date") is None or not is_hourly(employee):
        return []
    found: list[_Overlap] = []
    for guest in sorted(view.greg_persons, key=lambda g: g["greg_id"]):
        for role in sorted(guest.get("roles") or [], key=lambda r: r["role_id"]):
            if role.get("start_date") is None or role.get("type") in ignored:
                continue
            start = max(role["start_date"], employee["start_date"])
            ends = [e for e in (role.get("end_date"), employee.get("end_date")) if e is not None]
            end = min(ends, default=None)
            if end is None or start <= end:
                found.append(_Overlap(guest, role, start, end))
    return found


def _is_guest_employee(employee: Record | None) -> bool:
    return employee is not None and (employee.get("employee_group") or "").strip() == GUEST_GROUP


def _paid_periods(view: PersonView) -> list[_PaidPeriod]:
    """Periods within the group-9 employment whose payroll results sum to more than zero."""
    employee = view.employee
    if employee is None or not _is_guest_employee(employee):
        return []
    start: date | None = employee.get("start_date")
    end: date | None = employee.get("end_date")
    by_period: dict[str, list[Record]] = {}
    for result in view.payroll_results:
        by_period.setdefault(result["period"], []).append(result)
    paid: list[_PaidPeriod] = []
    for period, results in sorted(by_period.items()):
        first_day = _period_start(period)
        if first_day is None:
            continue
        last_day = add_months(first_day, 1) - timedelta(days=1)
        if (end is not None and first_day > end) or (start is not None and last_day < start):
            continue
        total = round(sum(float(r.get("total_amount") or 0.0) for r in results), 2)
        if total <= 0:
            continue
        paid_on = max(r.get("paid_on") or business_date(r["source_timestamp"]) for r in results)
        stamp = max(r["source_timestamp"] for r in results)
        paid.append(_PaidPeriod(period, first_day, total, paid_on, stamp))
    return paid


def _group_text(employee: Record) -> str:
    """MG/MUG, e.g. ``9/95``."""
    return f"{employee.get('employee_group') or '?'}/{employee.get('employee_subgroup') or '?'}"


def evidence(view: PersonView) -> Sequence[Evidence]:
    """What DFØ says about the employment, Greg about the guest roles and, for a guest
    in DFØ, payroll about each period's total."""
    items: list[Evidence] = []
    employee = view.employee
    if employee is not None:
        stamp = employee["source_timestamp"]
        start, end = employee.get("start_date"), employee.get("end_date")
        items += [
            Evidence("dfo_sap", "employee_id", employee["employee_id"], stamp),
            Evidence(
                "dfo_sap",
                "employee_group/subgroup",
                _group_text(employee),
                stamp,
            ),
            Evidence("dfo_sap", "start_date", start.isoformat() if start else None, stamp),
            Evidence("dfo_sap", "end_date", end.isoformat() if end else "open", stamp),
        ]
    for guest in sorted(view.greg_persons, key=lambda g: g["greg_id"]):
        for role in sorted(guest.get("roles") or [], key=lambda r: r["role_id"]):
            role_start, role_end = role.get("start_date"), role.get("end_date")
            items.append(
                Evidence(
                    "greg",
                    f"role {role['role_id']}",
                    f"{role.get('type')} from {role_start.isoformat() if role_start else '?'}"
                    f" to {role_end.isoformat() if role_end else 'open'}",
                    guest["source_timestamp"],
                )
            )
    if _is_guest_employee(employee):
        by_period: dict[tuple[str, str], list[Record]] = {}
        for result in view.payroll_results:
            by_period.setdefault((result["period"], result["source_system"]), []).append(result)
        for (period, system), results in sorted(by_period.items()):
            total = round(sum(float(r.get("total_amount") or 0.0) for r in results), 2)
            items.append(
                Evidence(
                    system,
                    f"period {period} total",
                    f"{total:.2f} NOK ({', '.join(sorted(r['run_id'] for r in results))})",
                    max(r["source_timestamp"] for r in results),
                )
            )
    return items


def _grace_from(view: PersonView, *stamps: datetime) -> datetime:
    employee = view.employee
    base: list[datetime] = [employee["source_timestamp"]] if employee is not None else []
    return max([*base, *stamps])


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The end of a grace period, the day after an overlap ends, or the first day of the
    month a paid period leaves the lookback window, whichever comes first after ``now``."""
    _, lookback, ignored = _params(settings)
    grace = SPEC.grace(settings)
    moments: list[datetime] = []
    for overlap in _overlaps(view, ignored):
        moments.append(_grace_from(view, overlap.guest["source_timestamp"]) + grace)
        if overlap.end is not None:
            moments.append(start_of_day(overlap.end + timedelta(days=1)))
    for paid in _paid_periods(view):
        moments.append(_grace_from(view, paid.stamp) + grace)
        moments.append(start_of_day(add_months(paid.first_day, lookback + 1)))
    return min((m for m in moments if m > now), default=None)


def _overlap_finding(view: PersonView, overlap: _Overlap, due: date, employee: Record) -> Finding:
    name = view.display_name or f"ansatt {employee['employee_id']}"
    role = overlap.role
    kind = role.get("type")
    role_end = role.get("end_date")
    emp_end = employee.get("end_date")
    until_nb = f" til {overlap.end.isoformat()}" if overlap.end else ""
    until_en = f" to {overlap.end.isoformat()}" if overlap.end else ""
    return SPEC.finding(
        view,
        due_date=due,
        title_nb=(
            f"Gjest med timelønn/oppdrag: {name}, gjesterolle {kind} overlapper kontrakten"
            f" fra {overlap.start.isoformat()}"
        ),
        title_en=(
            f"Guest with an hourly/assignment contract: {name}, guest role {kind} overlaps"
            f" the contract from {overlap.start.isoformat()}"
        ),
        description_nb=(
            f"{name} har gjesterollen {kind} i Greg ({role['start_date'].isoformat()} til"
            f" {role_end.isoformat() if role_end else 'uten slutt'}) og samtidig et"
            f" timelønns- eller oppdragsforhold i DFØ (ansattnummer {employee['employee_id']},"
            f" {employee['start_date'].isoformat()} til"
            f" {emp_end.isoformat() if emp_end else 'uten slutt'}). De overlapper fra"
            f" {overlap.start.isoformat()}{until_nb}. En gjest skal ikke ha lønn som gjest."
        ),
        description_en=(
            f"{name} holds the guest role {kind} in Greg ({role['start_date'].isoformat()} to"
            f" {role_end.isoformat() if role_end else 'open-ended'}) and at the same time an"
            f" hourly or assignment employment in DFØ (employee number"
            f" {employee['employee_id']}, {employee['start_date'].isoformat()} to"
            f" {emp_end.isoformat() if emp_end else 'open-ended'}). They overlap from"
            f" {overlap.start.isoformat()}{until_en}. A guest must not be paid as a guest."
        ),
        suggested_fix_nb=(
            "Lønn avgjør før lønnsfristen: skal personen ha betalt for arbeidet, må"
            " kontrakten være riktig i DFØ og verten (sponsor) avslutte eller endre"
            " gjesterollen i Greg; er personen gjest, skal kontrakten avsluttes i DFØ."
        ),
        suggested_fix_en=(
            "Payroll decides before the cut-off: if the person is to be paid for the work,"
            " the contract must be right in DFØ and the sponsor should end or change the"
            " guest role in Greg; if the person is a guest, the contract is ended in DFØ."
        ),
        evidence=evidence(view),
        detail=f"role:{role['role_id']}",
    )


def _period_finding(view: PersonView, paid: _PaidPeriod, due: date, employee: Record) -> Finding:
    name = view.display_name or f"ansatt {employee['employee_id']}"
    group = _group_text(employee)
    return SPEC.finding(
        view,
        due_date=due,
        title_nb=(
            f"Gjest i SAP har fått lønn: {name}, periode {paid.period}, {nok_nb(paid.total)}"
        ),
        title_en=f"Guest in SAP was paid: {name}, period {paid.period}, NOK {paid.total:,.2f}",
        description_nb=(
            f"{name} (ansattnummer {employee['employee_id']}) er registrert i DFØ i"
            f" medarbeidergruppe {group}, som er for gjester og eksterne, men lønnsresultatet"
            f" for {paid.period} summerer til {nok_nb(paid.total)} (utbetalt"
            f" {paid.paid_on.isoformat()})."
        ),
        description_en=(
            f"{name} (employee number {employee['employee_id']}) is registered in DFØ in"
            f" employee group {group}, for guests and external persons, but the payroll"
            f" result for {paid.period} totals NOK {paid.total:,.2f} (paid"
            f" {paid.paid_on.isoformat()})."
        ),
        suggested_fix_nb=(
            "Lønn avgjør før neste lønnsfrist: skal personen ha lønn, registrer riktig"
            " medarbeidergruppe og kontrakt (timelønn eller oppdrag) i DFØ; hvis ikke,"
            " stopp utbetalingen og trekk den tilbake i neste lønnskjøring."
        ),
        suggested_fix_en=(
            "Payroll decides before the next cut-off: if the person is to be paid, register"
            " the right employee group and contract (hourly or assignment) in DFØ; if not,"
            " stop the pay and reclaim it in the next payroll run."
        ),
        evidence=evidence(view),
        detail=f"period:{paid.period}",
    )


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding per guest role overlapping an hourly/assignment employment (until the
    overlap has passed), and per recent pay period with pay to a group-9 person."""
    employee = view.employee
    if employee is None:
        return []
    cutoff_day, lookback, ignored = _params(settings)
    grace = SPEC.grace(settings)
    today = business_date(now)
    findings: list[Finding] = []
    for overlap in _overlaps(view, ignored):
        if overlap.end is not None and overlap.end < today:
            continue
        ready = _grace_from(view, overlap.guest["source_timestamp"]) + grace
        if now < ready and not SPEC.has_open_task(view, f"role:{overlap.role['role_id']}"):
            continue
        due = cutoff_on_or_after(overlap.start, cutoff_day)
        findings.append(_overlap_finding(view, overlap, due, employee))
    window_start = add_months(today.replace(day=1), -lookback)
    for paid in _paid_periods(view):
        if paid.first_day < window_start:
            continue
        ready = _grace_from(view, paid.stamp) + grace
        if now < ready and not SPEC.has_open_task(view, f"period:{paid.period}"):
            continue
        due = cutoff_on_or_after(paid.paid_on + timedelta(days=1), cutoff_day)
        findings.append(_period_finding(view, paid, due, employee))
    return findings


def example() -> tuple[PersonView, datetime]:
    """Guest researcher Bjørn Aasen got an hourly contract in DFØ that overlaps his Greg role."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    stamp = datetime(2026, 11, 18, 7, 30, tzinfo=UTC)
    employee = dfo_employee(
        "456789",
        "Bjørn",
        "Aasen",
        stamp,
        employee_group="1",
        employee_subgroup="timelønnet",
        start_date=date(2026, 11, 15),
        end_date=date(2027, 6, 30),
    )
    guest = {
        "institution": "uio",
        "source_system": "greg",
        "source_id": "3377",
        "source_timestamp": stamp,
        "greg_id": "3377",
        "first_name": "Bjørn",
        "last_name": "Aasen",
        "birth_date": date(1984, 2, 9),
        "registration_completed": datetime(2024, 8, 12, 10, 0, tzinfo=UTC),
        "identities": [],
        "roles": [
            {
                "role_id": "701",
                "type": "guest-researcher",
                "start_date": date(2024, 9, 1),
                "end_date": date(2027, 8, 31),
                "sponsor_id": "233",
                "org_unit_id": "17",
                "org_unit_active": True,
            }
        ],
        "consents": [],
    }
    records = [(SourceKind.DFO_EMPLOYEE, employee), (SourceKind.GREG_PERSON, guest)]
    return PersonView.of("p-bjorn", "uio", records), now
