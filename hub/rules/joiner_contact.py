"""access.joiner_without_contact: a joiner has no private mobile or e-mail for activation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.examples import dfo_employee
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "due_date", "evaluate", "evidence", "example", "next_check"]

RULE_ID = "access.joiner_without_contact"

Record = dict[str, Any]

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Joiner without private contact details",
    title_nb="Nytilsatt uten privat kontaktinformasjon",
    why=(
        "A new employee activates the university account with a code sent to the private"
        " mobile number or e-mail address registered in DFØ. Without either, the code"
        " cannot be delivered: the joiner cannot log in to sign the contract in DFØ or"
        " start work, and the service desk and the manager must verify them by hand."
    ),
    systems=("DFØ",),
    severity=Severity.P2,
    owner_group="hr",
    deadline=(
        "Appears the lead days (default 14) before the start date and lasts until the"
        " parameter days_after_start (default 14) after it, unless the employment ends first."
        " Due the parameter due_days_before_start (default 7) before the start date, so the"
        " activation code can be sent in time. Resolves when DFØ has a private mobile number"
        " or e-mail address, or (parameter ignore_if_account_active, default true) the"
        " person already has an active account and needs no activation."
    ),
    default_lead_days=14,
)


def _days_after_start(settings: RuleSettings) -> int:
    return settings.param(RULE_ID, "days_after_start", 14)


def _has_active_account(view: PersonView) -> bool:
    return any(a.get("status") == "ACTIVE" for a in view.accounts.values())


def due_date(start: date, settings: RuleSettings) -> date:
    """The start date less due_days_before_start (default 7)."""
    return start - timedelta(days=settings.param(RULE_ID, "due_days_before_start", 7))


def evidence(view: PersonView) -> Sequence[Evidence]:
    """DFØ's start date and whether a private mobile and e-mail are registered."""
    items: list[Evidence] = []
    employee = view.employee
    if employee is not None:
        stamp = employee["source_timestamp"]
        start: date | None = employee.get("start_date")
        end: date | None = employee.get("end_date")
        items += [
            Evidence("dfo_sap", "employee_id", employee["employee_id"], stamp),
            Evidence("dfo_sap", "start_date", start.isoformat() if start else None, stamp),
            Evidence("dfo_sap", "end_date", end.isoformat() if end else None, stamp),
            Evidence(
                "dfo_sap",
                "mobilPrivat",
                "set" if employee.get("has_private_mobile") else "missing",
                stamp,
            ),
            Evidence(
                "dfo_sap",
                "privatEpost",
                "set" if employee.get("has_private_email") else "missing",
                stamp,
            ),
        ]
    for account_id, account in sorted(view.accounts.items()):
        items.append(
            Evidence(
                account["source_system"],
                f"account {account_id} status",
                f"{account['username']}: {account.get('status')}",
                account["source_timestamp"],
            )
        )
    return items


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The first of: the start of the day the joiner enters the lead window, the day
    after the window closes (start + days_after_start), the day after the end date."""
    employee = view.employee
    if employee is None or employee.get("start_date") is None:
        return None
    start: date = employee["start_date"]
    moments = [
        start_of_day(start - timedelta(days=SPEC.lead_days(settings))),
        start_of_day(start + timedelta(days=_days_after_start(settings) + 1)),
    ]
    if employee.get("end_date") is not None:
        moments.append(start_of_day(employee["end_date"] + timedelta(days=1)))
    return min((m for m in moments if m > now), default=None)


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding when a joiner (starting within the lead days, or started at most
    days_after_start ago, not ended) has neither a private mobile nor a private e-mail."""
    employee = view.employee
    if employee is None:
        return []
    start: date | None = employee.get("start_date")
    end: date | None = employee.get("end_date")
    today = business_date(now)
    if start is None or (end is not None and end < today):
        return []
    if not -_days_after_start(settings) <= (start - today).days <= SPEC.lead_days(settings):
        return []
    if employee.get("has_private_mobile") or employee.get("has_private_email"):
        return []
    if settings.param(RULE_ID, "ignore_if_account_active", True) and _has_active_account(view):
        return []  # an existing account (a former student, say) needs no activation
    name = view.display_name or f"ansatt {employee['employee_id']}"
    number = employee["employee_id"]
    return [
        SPEC.finding(
            view,
            due_date=due_date(start, settings),
            title_nb=(
                f"Nytilsatt uten privat mobil eller e-post: {name} starter {start.isoformat()}"
            ),
            title_en=(
                f"Joiner without private mobile or e-mail: {name} starts {start.isoformat()}"
            ),
            description_nb=(
                f"{name} (ansattnummer {number}) starter {start.isoformat()} ifølge DFØ, men"
                " verken privat mobilnummer eller privat e-postadresse er registrert. Koden"
                " for å aktivere brukerkontoen kan da ikke sendes, og personen kommer ikke inn"
                " for å signere kontrakten eller begynne å jobbe."
            ),
            description_en=(
                f"{name} (employee number {number}) starts {start.isoformat()} according to"
                " DFØ, but neither a private mobile number nor a private e-mail address is"
                " registered. The code to activate the account cannot be sent, so the person"
                " cannot log in to sign the contract or start work."
            ),
            suggested_fix_nb=(
                "Be den nytilsatte eller lederen om privat mobilnummer eller e-postadresse, og"
                " registrer det i DFØ (mobilPrivat eller privatEpost)."
            ),
            suggested_fix_en=(
                "Ask the joiner or their manager for a private mobile number or e-mail address,"
                " and register it in DFØ (mobilPrivat or privatEpost)."
            ),
            evidence=evidence(view),
        )
    ]


def example() -> tuple[PersonView, datetime]:
    """Aksel Berg starts in ten days; DFØ has no private mobile or e-mail for him."""
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    hire = dfo_employee(
        "518840",
        "Aksel",
        "Berg",
        datetime(2026, 1, 2, 12, 0, tzinfo=UTC),
        institution="uit",
        start_date=date(2026, 1, 15),
        end_date=None,
        has_private_mobile=False,
        has_private_email=False,
    )
    return PersonView.of("p-aksel", "uit", [(SourceKind.DFO_EMPLOYEE, hire)]), now
