"""access.position_unclassifiable: an employment cannot be classified into an IAM affiliation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.employment import AFFILIATION_EARLY_DAYS, active_on, affiliation_of
from hub.rules.examples import dfo_employee, dfo_position
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "due_date", "evaluate", "evidence", "example", "next_check"]

RULE_ID = "access.position_unclassifiable"

Record = dict[str, Any]

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Employment that gives no affiliation",
    title_nb="Ansettelse som ikke gir tilknytning",
    why=(
        "IAM gives an employee an affiliation (ANSATT/tekadm, ANSATT/vitenskapelig,"
        " TILKNYTTET/...) from DFØ's employee group and subgroup (MG/MUG) or the main"
        " position's category. When neither matches the mapping, the person gets no"
        " affiliation, so no account or the wrong access, and the local IT and HR staff"
        " must find out why by hand."
    ),
    systems=("DFØ", "IAM"),
    severity=Severity.P2,
    owner_group="iam",
    deadline=(
        "Appears the lead days (default 14) before the start date, or at once for a running"
        " employment; when the main position has not reached the hub, only after the grace"
        " period (default 60 minutes) after DFØ's employee data. Due on the later of: the day"
        " DFØ shows the affiliation as active (start date less 6 days), and the parameter"
        " due_days (default 7) after DFØ's last change (endretDato). Resolves when the"
        " employment classifies (or is one DFØ's mapping ignores, MG/MUG 8/50), or ends."
    ),
    default_lead_days=14,
    default_grace=timedelta(minutes=60),
)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _main_position(view: PersonView, employee: Record) -> Record | None:
    main = employee.get("main_position_id")
    return next((p for p in view.positions if p.get("position_id") == main), None)


def _waiting_for_position(view: PersonView, employee: Record) -> bool:
    """Whether the main position is named but has not reached the hub (DFØ sends the
    position separately, a little after the employee)."""
    return employee.get("main_position_id") is not None and _main_position(view, employee) is None


def _grace_ends(employee: Record, settings: RuleSettings) -> datetime:
    stamp: datetime = employee["source_timestamp"]
    return stamp + SPEC.grace(settings)


def _already_reported(view: PersonView) -> bool:
    """Whether a task of this rule is open: the grace period is for new data, and must
    not make an open task flicker shut when DFØ changes something else."""
    return any(
        task.get("rule_id") == RULE_ID
        and task.get("subject", view.person_key) == view.person_key
        and task.get("state") in ("OPEN", "PREVIEW")
        for task in view.tasks.values()
    )


def _categories(position: Record) -> str:
    parts = [
        f"{c.get('category_id')} {c.get('name')}" if c.get("name") else str(c.get("category_id"))
        for c in position.get("categories") or []
    ]
    return ", ".join(parts) or "none"


def due_date(employee: Record, settings: RuleSettings) -> date:
    """The later of the start date less 6 days and DFØ's last change plus due_days."""
    start: date = employee["start_date"]
    due = start - timedelta(days=AFFILIATION_EARLY_DAYS)
    changed: date | None = employee.get("changed_date")
    if changed is not None:
        due = max(due, changed + timedelta(days=settings.param(RULE_ID, "due_days", 7)))
    return due


def evidence(view: PersonView) -> Sequence[Evidence]:
    """DFØ's employee group and subgroup, main position, and each position's categories."""
    items: list[Evidence] = []
    employee = view.employee
    if employee is not None:
        stamp = employee["source_timestamp"]
        for field in (
            "employee_id",
            "employee_group",
            "employee_subgroup",
            "main_position_id",
            "start_date",
            "end_date",
        ):
            items.append(Evidence("dfo_sap", field, _text(employee.get(field)), stamp))
        if _waiting_for_position(view, employee):
            items.append(
                Evidence(
                    "dfo_sap",
                    f"position {employee['main_position_id']}",
                    "not received",
                    stamp,
                )
            )
    for position in sorted(view.positions, key=lambda p: str(p.get("position_id"))):
        code = " ".join(str(p) for p in (position.get("position_code"), position.get("title")) if p)
        items.append(
            Evidence(
                "dfo_sap",
                f"position {position.get('position_id')} categories",
                f"{_categories(position)} ({code})" if code else _categories(position),
                position["source_timestamp"],
            )
        )
    return items


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The first of: the start of the day the employment enters the lead window, the end
    of the grace period while the main position is missing, the day after the end date."""
    employee = view.employee
    if employee is None or employee.get("start_date") is None:
        return None
    lead = timedelta(days=SPEC.lead_days(settings))
    moments = [start_of_day(employee["start_date"] - lead)]
    if _waiting_for_position(view, employee):
        moments.append(_grace_ends(employee, settings))
    if employee.get("end_date") is not None:
        moments.append(start_of_day(employee["end_date"] + timedelta(days=1)))
    return min((m for m in moments if m > now), default=None)


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding when an employment that is running, or starts within the lead days,
    matches neither an MG/MUG nor a position category of the affiliation mapping."""
    employee = view.employee
    if employee is None or employee.get("start_date") is None:
        return []
    if not active_on(employee, business_date(now), early_days=SPEC.lead_days(settings)):
        return []
    if affiliation_of(employee, view.positions) is not None:
        return []  # classified, or deliberately ignored (MG/MUG 8/50)
    if (
        _waiting_for_position(view, employee)
        and now < _grace_ends(employee, settings)
        and not _already_reported(view)
    ):
        return []  # the position may be on its way from DFØ
    name = view.display_name or f"ansatt {employee['employee_id']}"
    number = employee["employee_id"]
    start: date = employee["start_date"]
    group = f"{employee.get('employee_group') or '-'}/{employee.get('employee_subgroup') or '-'}"
    main = employee.get("main_position_id")
    position = _main_position(view, employee)
    if main is None:
        what_nb, what_en = "ingen hovedstilling", "no main position"
    elif position is None:
        what_nb = f"hovedstilling {main}, som hubben ikke har mottatt fra DFØ"
        what_en = f"main position {main}, which the hub has not received from DFØ"
    else:
        what_nb = f"hovedstilling {main} med stillingskategori {_categories(position)}"
        what_en = f"main position {main} with position category {_categories(position)}"
    return [
        SPEC.finding(
            view,
            due_date=due_date(employee, settings),
            title_nb=f"Ansettelse uten tilknytning: {name}, MG/MUG {group}",
            title_en=f"Employment without an affiliation: {name}, MG/MUG {group}",
            description_nb=(
                f"Ansettelsen til {name} (ansattnummer {number}, fra {start.isoformat()}) har"
                f" medarbeidergruppe/-undergruppe {group} og {what_nb}. Verken gruppen eller"
                " stillingskategorien gir en tilknytning i IAM (ANSATT eller TILKNYTTET), så"
                " personen får ikke konto og tilganger som ansatt."
            ),
            description_en=(
                f"The employment of {name} (employee number {number}, from"
                f" {start.isoformat()}) has employee group/subgroup {group} and {what_en}."
                " Neither the group nor the position category gives an affiliation in IAM"
                " (ANSATT or TILKNYTTET), so the person gets no account or access as staff."
            ),
            suggested_fix_nb=(
                "Sjekk medarbeidergruppe, -undergruppe og stillingskategori i DFØ. Er de feil,"
                " må HR rette dem; er de riktige, må IAM utvide klassifiseringen slik at"
                " kombinasjonen gir riktig tilknytning."
            ),
            suggested_fix_en=(
                "Check the employee group, subgroup and position category in DFØ. If they are"
                " wrong, HR must correct them; if they are right, IAM must extend its"
                " classification so the combination gives the right affiliation."
            ),
            evidence=evidence(view),
        )
    ]


def example() -> tuple[PersonView, datetime]:
    """Emil Strand starts next week in a position whose only category is unmapped."""
    now = datetime(2026, 9, 23, 11, 0, tzinfo=UTC)
    hire = dfo_employee(
        "356120",
        "Emil",
        "Strand",
        datetime(2026, 9, 21, 14, 0, tzinfo=UTC),
        employee_group="1",
        employee_subgroup="17",
        main_position_id="30098001",
        start_date=date(2026, 10, 1),
        end_date=None,
        changed_date=date(2026, 9, 21),
    )
    position = dfo_position(
        "30098001",
        datetime(2026, 9, 21, 14, 1, tzinfo=UTC),
        position_code="20001434",
        title="Rådgiver",
        org_unit_id="50001300",
        holders=[{"employee_id": "356120", "start_date": date(2026, 10, 1), "end_date": None}],
        categories=[{"category_id": "50078199", "name": "Ukjent kategori"}],
    )
    view = PersonView.of(
        "p-emil", "uio", [(SourceKind.DFO_EMPLOYEE, hire), (SourceKind.DFO_POSITION, position)]
    )
    return view, now
