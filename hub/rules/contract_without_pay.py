"""payroll.contract_without_pay: an hourly contract active in a closed pay period, but no pay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.errors import ConfigurationError
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.employment import employed_in, is_hourly, record_time
from hub.rules.examples import dfo_employee
from hub.rules.pay_without_contract import employment_evidence, payroll_evidence, span_text
from hub.rules.payroll_periods import (
    add_months,
    day_param,
    month_day,
    next_cutoff,
    period_bounds,
    period_label,
)
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "closed_periods", "evaluate", "evidence", "example", "next_check"]

Record = dict[str, Any]

RULE_ID = "payroll.contract_without_pay"

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Hourly contract without pay",
    title_nb="Timelønnskontrakt uten utbetaling",
    why=(
        "Hourly and assignment workers (timelønn, oppdrag) are paid only when their hours"
        " are registered and approved in DFØ, which needs a working login and a signed"
        " contract. When a closed pay period shows an active contract but no payment, the"
        " person has most likely worked without being paid: the seed report's fourth"
        " failure, and a breach of 'right pay to the right person at the right time'."
    ),
    systems=("DFØ SAP HR", "DFØ payroll"),
    severity=Severity.P1,
    owner_group="hr_payroll",
    deadline=(
        "A pay period YYYY-MM closes after day `close_day` (default 20) of the following"
        " month, plus the grace period (none by default); from then the finding appears"
        " if DFØ shows the hourly contract active on some day of the period and no payroll"
        " result exists for it. Only the last `periods` (default 3) closed periods are"
        " checked. A contract DFØ changed less than `settle_hours` (default 24) ago waits"
        " that long: DFØ HR and DFØ payroll are separate feeds the hub reads in no fixed"
        " order (at go-live, after an outage), so the period's payroll result may still be"
        " on its way. Due at the next payroll cut-off (day `cutoff_day`, default the 10th)"
        " after the close. Resolves when a payroll result for the period arrives, the"
        " contract's dates are corrected, or the period leaves the checked window."
    ),
)


def _settings(settings: RuleSettings) -> tuple[int, int, int]:
    close_day = day_param(settings, RULE_ID, "close_day", 20)
    cutoff_day = day_param(settings, RULE_ID, "cutoff_day", 10)
    periods = settings.param(RULE_ID, "periods", 3)
    if periods < 0:
        raise ConfigurationError(f"rule {RULE_ID}: parameter 'periods' must not be negative")
    return close_day, cutoff_day, periods


def _settled_at(employee: Record, settings: RuleSettings) -> datetime:
    """When DFØ's contract record has been known long enough for the payroll feed to
    have caught up with it."""
    hours = settings.param(RULE_ID, "settle_hours", 24)
    if hours < 0:
        raise ConfigurationError(f"rule {RULE_ID}: parameter 'settle_hours' must not be negative")
    return record_time(employee) + timedelta(hours=hours)


def close_date(first: date, close_day: int) -> date:
    """The last day before pay period ``first`` (its first day) counts as closed."""
    return month_day(add_months(first, 1), close_day)


def _closes_at(first: date, close_day: int, grace: timedelta) -> datetime:
    return start_of_day(close_date(first, close_day) + timedelta(days=1)) + grace


def closed_periods(
    now: datetime, close_day: int, count: int, grace: timedelta = timedelta(0)
) -> list[date]:
    """The first days of the last ``count`` pay periods closed at ``now``, newest first."""
    latest = add_months(business_date(now).replace(day=1), -1)
    while _closes_at(latest, close_day, grace) > now:
        latest = add_months(latest, -1)
    return [add_months(latest, -back) for back in range(count)]


def _paid_periods(view: PersonView) -> set[date]:
    return {
        bounds[0]
        for result in view.payroll_results
        if (bounds := period_bounds(result.get("period"))) is not None
    }


def evidence(view: PersonView) -> Sequence[Evidence]:
    """DFØ's contract (subgroup, dates, additional positions) and every payroll result."""
    items = [*employment_evidence(view), *payroll_evidence(view.payroll_results)]
    if not view.payroll_results:
        items.append(Evidence("payroll", "payroll results", "none"))
    return items


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The next pay period close (plus grace) or the moment DFØ's contract record has
    settled, while the hourly contract can still matter:
    not when the person is not hourly paid, or the contract ended before every period
    that is or will be checked."""
    employee = view.employee
    if employee is None or not is_hourly(employee) or employee.get("start_date") is None:
        return None
    close_day, _, count = _settings(settings)
    grace = SPEC.grace(settings)
    window = closed_periods(now, close_day, count, grace)
    if not window:
        return None
    oldest = window[-1]
    end: date | None = employee.get("end_date")
    extras = [e.get("end_date") for e in employee.get("additional_positions") or []]
    ends = [end, *extras]
    if None not in ends and max(d for d in ends if d is not None) < oldest:
        return None
    month = add_months(business_date(now).replace(day=1), -2)
    moments = [_closes_at(add_months(month, step), close_day, grace) for step in range(4)]
    moments.append(_settled_at(employee, settings))
    return min((m for m in moments if m > now), default=None)


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding per recent closed pay period in which DFØ shows the person's hourly or
    assignment contract active but no payroll result exists."""
    employee = view.employee
    if employee is None or not is_hourly(employee):
        return []
    close_day, cutoff_day, count = _settings(settings)
    settled = now >= _settled_at(employee, settings)  # if not, re-checked then
    paid = _paid_periods(view)
    findings: list[Finding] = []
    for first in sorted(closed_periods(now, close_day, count, SPEC.grace(settings))):
        bounds = period_bounds(period_label(first))
        if bounds is None or first in paid or not employed_in(employee, *bounds):
            continue
        if not settled and not SPEC.has_open_task(view, f"period:{period_label(first)}"):
            continue  # an open task is not resolved by a newer version of the contract
        closed = close_date(first, close_day)
        findings.append(
            _finding(view, employee, period_label(first), closed, next_cutoff(closed, cutoff_day))
        )
    return findings


def _finding(view: PersonView, employee: Record, period: str, closed: date, due: date) -> Finding:
    employee_id = employee["employee_id"]
    name = view.display_name or f"ansatt {employee_id}"
    return SPEC.finding(
        view,
        due_date=due,
        title_nb=f"Timelønnskontrakt uten utbetaling: {name}, periode {period}",
        title_en=f"Hourly contract without pay: {name}, period {period}",
        description_nb=(
            f"{name} (ansattnummer {employee_id}) har en timelønns- eller oppdragskontrakt i"
            f" DFØ ({span_text(employee, 'nb')}) som var aktiv i lønnsperioden {period}, men"
            f" det finnes ingen lønnsutbetaling for perioden, som ble lukket etter"
            f" {closed.isoformat()}. Personen kan ha arbeidet uten å få lønn."
        ),
        description_en=(
            f"{name} (employee number {employee_id}) has an hourly or assignment contract in"
            f" DFØ ({span_text(employee, 'en')}) that was active in the pay period {period},"
            f" but there is no payroll result for the period, which closed after"
            f" {closed.isoformat()}. The person may have worked without pay."
        ),
        suggested_fix_nb=(
            "Undersøk med personen og lederen om det ble arbeidet i perioden. Er timene"
            " ikke registrert eller godkjent (f.eks. fordi personen ikke kommer inn i DFØ),"
            " få dem registrert og godkjent før neste lønnsfrist. Ble det ikke arbeidet,"
            " sjekk at kontraktens datoer er riktige."
        ),
        suggested_fix_en=(
            "Ask the person and their manager whether work was done in the period. If the"
            " hours were not registered or approved (for instance because the person cannot"
            " log in to DFØ), have them registered and approved before the next payroll"
            " cut-off. If no work was done, check that the contract's dates are right."
        ),
        evidence=[
            *employment_evidence(view),
            Evidence("payroll", f"payroll results for {period}", "none"),
        ],
        detail=f"period:{period}",
    )


def example() -> tuple[PersonView, datetime]:
    """Nora Berg's teaching assistant contract ran all autumn; nothing was paid for September."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    employee = dfo_employee(
        "567890",
        "Nora",
        "Berg",
        datetime(2026, 8, 3, 7, 0, tzinfo=UTC),
        employee_group="1",
        employee_subgroup="timelønnet",
        start_date=date(2026, 8, 15),
        end_date=date(2026, 12, 31),
        additional_positions=[],
    )

    def paid(period: str, amount: float, paid_on: date) -> Record:
        return {
            "institution": "uio",
            "source_system": "dfo_sap_payroll",
            "source_id": f"567890/{period}/{period}-R1",
            "source_timestamp": datetime.combine(paid_on, datetime.min.time(), tzinfo=UTC),
            "employee_id": "567890",
            "period": period,
            "run_id": f"{period}-R1",
            "run_type": "regular",
            "paid_on": paid_on,
            "lines": [
                {
                    "wage_type": "1402",
                    "description": "Timelønn",
                    "amount": amount,
                    "hours": amount / 290.0,
                    "rate": 290.0,
                    "position_id": "30098765",
                    "cost_centre": "143000",
                    "org_unit_id": "50001430",
                    "hourly": True,
                }
            ],
            "total_amount": amount,
        }

    view = PersonView.of(
        "p-nora",
        "uio",
        [
            (SourceKind.DFO_EMPLOYEE, employee),
            (SourceKind.PAYROLL_RESULT, paid("2026-08", 4350.0, date(2026, 9, 12))),
            (SourceKind.PAYROLL_RESULT, paid("2026-10", 5800.0, date(2026, 11, 12))),
        ],
    )
    return view, now
