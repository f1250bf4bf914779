"""payroll.pay_without_contract: pay in a period with no DFØ employment active in it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.employment import employed_in
from hub.rules.examples import dfo_employee
from hub.rules.payroll_periods import (
    add_months,
    by_period,
    day_param,
    next_cutoff,
    nok_en,
    nok_nb,
    period_label,
)
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = [
    "RULE_ID",
    "SPEC",
    "employment_evidence",
    "evaluate",
    "evidence",
    "example",
    "next_check",
    "payroll_evidence",
    "span_text",
]

Record = dict[str, Any]

RULE_ID = "payroll.pay_without_contract"

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Pay without an employment",
    title_nb="Lønn uten arbeidsforhold",
    why=(
        "DFØ paid a person for a pay period in which DFØ's own HR data shows no employment"
        " or contract: the pay is either wrong and must be reclaimed, or the contract was"
        " never registered, so that tax, pension and reporting to the authorities"
        " (a-meldingen) rest on nothing. Hourly and assignment workers are hit most often."
    ),
    systems=("DFØ payroll", "DFØ SAP HR"),
    severity=Severity.P1,
    owner_group="hr_payroll",
    deadline=(
        "Appears once a payroll result with a positive amount has been known for the grace"
        " period (a day by default, so that a contract registered at the same time can"
        " arrive). When every paying line is hourly, an employment in the `late_pay_periods`"
        " (default 1) periods before also counts, as approved hours are paid at the next"
        " payroll. Due at the next payroll cut-off (day `cutoff_day` of the month, default"
        " the 10th) after the earliest payment date in the period, or after the period's"
        " last day when no payment date is given, so that it is corrected in the next run."
        " Resolves when DFØ shows an employment active in the period, or corrections bring"
        " the period's net pay to zero."
    ),
    default_grace=timedelta(hours=24),
)

# --- employment ---


def employment_evidence(view: PersonView) -> list[Evidence]:
    """What DFØ says about the person's employment: dates, subgroup, additional positions."""
    employee = view.employee
    if employee is None:
        return [Evidence("dfo_sap", "employee", "none")]
    stamp = employee["source_timestamp"]

    def iso(day: date | None) -> str:
        return day.isoformat() if day else "none"

    items = [
        Evidence("dfo_sap", "employee_id", employee.get("employee_id"), stamp),
        Evidence("dfo_sap", "start_date", iso(employee.get("start_date")), stamp),
        Evidence("dfo_sap", "end_date", iso(employee.get("end_date")), stamp),
        Evidence("dfo_sap", "employee_subgroup", employee.get("employee_subgroup"), stamp),
    ]
    for extra in employee.get("additional_positions") or []:
        items.append(
            Evidence(
                "dfo_sap",
                f"additional position {extra.get('position_id')}",
                f"start {iso(extra.get('start_date'))}, end {iso(extra.get('end_date'))}",
                stamp,
            )
        )
    return items


def payroll_evidence(results: Iterable[Record]) -> list[Evidence]:
    """Each payroll result: its period, run, payment date and total."""
    return [
        Evidence(
            "payroll",
            f"period {result.get('period')} run {result.get('run_id')} ({result.get('run_type')})",
            f"total_amount {float(result.get('total_amount') or 0.0):.2f};"
            f" paid_on {result['paid_on'].isoformat() if result.get('paid_on') else 'none'}",
            result["source_timestamp"],
        )
        for result in sorted(
            results, key=lambda r: (str(r.get("period")), r["source_timestamp"], r["source_id"])
        )
    ]


# --- the rule ---


def _positive(results: Iterable[Record]) -> list[Record]:
    return [r for r in results if float(r.get("total_amount") or 0.0) > 0]


def _only_hourly(results: Iterable[Record]) -> bool:
    """Whether every paying line of the results pays hourly or assignment work."""
    paying = [
        line
        for result in results
        for line in result.get("lines") or []
        if float(line.get("amount") or 0.0) > 0
    ]
    return bool(paying) and all(line.get("hourly") for line in paying)


def evidence(view: PersonView) -> Sequence[Evidence]:
    """DFØ's employment dates and every payroll result the person has."""
    return [*employment_evidence(view), *payroll_evidence(view.payroll_results)]


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The moment a positive payroll result's grace period ends (only grace waits here:
    pay periods and employment dates in the past do not change with time)."""
    grace = SPEC.grace(settings)
    moments = [r["source_timestamp"] + grace for r in _positive(view.payroll_results)]
    return min((m for m in moments if m > now), default=None)


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding per pay period with positive net pay but no DFØ employment active in it."""
    grace = SPEC.grace(settings)
    cutoff_day = day_param(settings, RULE_ID, "cutoff_day", 10)
    late_periods = settings.param(RULE_ID, "late_pay_periods", 1)
    employee = view.employee
    findings: list[Finding] = []
    for (first, last), results in sorted(by_period(view.payroll_results).items()):
        positive = _positive(results)
        net = sum(float(r.get("total_amount") or 0.0) for r in results)
        if net <= 0 or not any(r["source_timestamp"] + grace <= now for r in positive):
            continue
        # Approved hours are paid at the next payroll: hourly pay may trail the contract.
        since = add_months(first, -max(late_periods, 0)) if _only_hourly(results) else first
        if employee is not None and employed_in(employee, since, last):
            continue
        findings.append(
            _finding(
                view,
                bounds=(first, last),
                results=results,
                positive=positive,
                net=net,
                cutoff_day=cutoff_day,
            )
        )
    return findings


def _finding(
    view: PersonView,
    *,
    bounds: tuple[date, date],
    results: list[Record],
    positive: list[Record],
    net: float,
    cutoff_day: int,
) -> Finding:
    employee = view.employee
    employee_id = employee["employee_id"] if employee else positive[0].get("employee_id")
    name = view.display_name or f"ansatt {employee_id}"
    period = period_label(bounds[0])
    paid_on = [r["paid_on"] for r in positive if r.get("paid_on") is not None]
    due = next_cutoff(min(paid_on) if paid_on else bounds[1], cutoff_day)
    if employee is None:
        dfo_nb = "DFØ har ingen ansattpost for personen"
        dfo_en = "DFØ has no employee record for the person"
    else:
        dfo_nb = (
            "DFØ viser ingen arbeidsforhold eller tilleggsstillinger som er aktive i perioden"
            f" (ansatt {span_text(employee, 'nb')})"
        )
        dfo_en = (
            "DFØ shows no employment or additional position active in the period (employed"
            f" {span_text(employee, 'en')})"
        )
    return SPEC.finding(
        view,
        due_date=due,
        title_nb=f"Lønn uten arbeidsforhold: {name}, periode {period}",
        title_en=f"Pay without an employment: {name}, period {period}",
        description_nb=(
            f"{name} (ansattnummer {employee_id}) har fått utbetalt {nok_nb(net)} netto for"
            f" lønnsperioden {period}, men {dfo_nb}."
        ),
        description_en=(
            f"{name} (employee number {employee_id}) was paid {nok_en(net)} net for the pay"
            f" period {period}, but {dfo_en}."
        ),
        suggested_fix_nb=(
            "Sjekk kontrakten. Mangler den i DFØ, registrer arbeidsforholdet med riktige"
            " datoer. Var utbetalingen feil, stopp videre lønn og krev den tilbake i neste"
            " lønnskjøring."
        ),
        suggested_fix_en=(
            "Check the contract. If it is missing in DFØ, register the employment with the"
            " right dates. If the payment was wrong, stop further pay and reclaim it in the"
            " next payroll run."
        ),
        evidence=[*employment_evidence(view), *payroll_evidence(results)],
        detail=f"period:{period}",
    )


def span_text(employee: Record, language: str) -> str:
    """The employment's dates in words: ``fra 2026-01-01 til 2026-08-31``."""
    start: date | None = employee.get("start_date")
    end: date | None = employee.get("end_date")
    if language == "nb":
        return (
            f"fra {start.isoformat() if start else 'ukjent dato'}"
            f" til {end.isoformat() if end else 'inntil videre'}"
        )
    return f"from {start.isoformat() if start else 'an unknown date'} to {end or 'further notice'}"


def example() -> tuple[PersonView, datetime]:
    """Ola Hansen's employment ended in August; October's run still paid his salary."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    employee = dfo_employee(
        "456789",
        "Ola",
        "Hansen",
        datetime(2026, 9, 2, 7, 0, tzinfo=UTC),
        employee_group="1",
        employee_subgroup="17",
        start_date=date(2019, 3, 1),
        end_date=date(2026, 8, 31),
        additional_positions=[],
    )
    result = {
        "institution": "uio",
        "source_system": "dfo_sap_payroll",
        "source_id": "456789/2026-10/2026-10-R1",
        "source_timestamp": datetime(2026, 10, 9, 16, 0, tzinfo=UTC),
        "employee_id": "456789",
        "period": "2026-10",
        "run_id": "2026-10-R1",
        "run_type": "regular",
        "paid_on": date(2026, 10, 12),
        "lines": [
            {
                "wage_type": "1010",
                "description": "Fastlønn",
                "amount": 38250.0,
                "hours": None,
                "rate": None,
                "position_id": "30098765",
                "cost_centre": "143000",
                "org_unit_id": "50001430",
                "hourly": False,
            }
        ],
        "total_amount": 38250.0,
    }
    view = PersonView.of(
        "p-ola", "uio", [(SourceKind.DFO_EMPLOYEE, employee), (SourceKind.PAYROLL_RESULT, result)]
    )
    return view, now
