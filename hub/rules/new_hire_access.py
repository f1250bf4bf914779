"""access.new_hire_without_account: a new hire has no active IAM account before the start date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.employment import is_hourly, record_time
from hub.rules.examples import dfo_employee
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "due_date", "evaluate", "evidence", "example", "next_check"]

Record = dict[str, Any]

RULE_ID = "access.new_hire_without_account"

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="New hire without an account",
    title_nb="Nytilsatt uten brukerkonto",
    why=(
        "Without a university account a new employee cannot log in to DFØ's self-service"
        " (through Feide) to sign the contract, and so cannot get paid, nor use the IT"
        " services the job needs. The seed report names this its first and worst failure."
    ),
    systems=("DFØ", "IAM"),
    severity=Severity.P1,
    owner_group="iam",
    deadline=(
        "Hourly and assignment staff are left to access.hourly_without_feide_account."
        " Appears the lead days before the start date (or at once, if later). Due halfway"
        " from then to the start date, so that the account is ready in time to sign the"
        " contract before the first day; for a hire registered late, two days after DFØ"
        " registered it. Resolves when IAM shows an active account, or"
        " the employment ends."
    ),
    default_lead_days=14,
)


def _active_accounts(view: PersonView) -> list[str]:
    return sorted(
        account["username"]
        for account in view.accounts.values()
        if account.get("status") == "ACTIVE"
    )


def evidence(view: PersonView) -> Sequence[Evidence]:
    """What DFØ and IAM say about the person's start date and accounts."""
    items: list[Evidence] = []
    if view.employee is not None:
        employee = view.employee
        stamp = employee["source_timestamp"]
        items.append(Evidence("dfo_sap", "employee_id", employee["employee_id"], stamp))
        start = employee.get("start_date")
        items.append(Evidence("dfo_sap", "start_date", start.isoformat() if start else None, stamp))
    for account_id, account in sorted(view.accounts.items()):
        items.append(
            Evidence(
                account["source_system"],
                f"account {account_id} status",
                f"{account['username']}: {account.get('status')}",
                account["source_timestamp"],
            )
        )
    if not view.accounts:
        items.append(Evidence("iam", "accounts", "none"))
    return items


def due_date(employee: Record, settings: RuleSettings) -> date:
    """Halfway from the day the finding appears (start less the lead days) to the start;
    for a hire HR registered late, ``late_registration_days`` (2) after DFØ registered
    it, so a task is not overdue the moment it opens."""
    start: date = employee["start_date"]
    halfway = start - timedelta(days=SPEC.lead_days(settings) // 2)
    grace = settings.param(RULE_ID, "late_registration_days", 2)
    registered = business_date(record_time(employee)) + timedelta(days=grace)
    return max(halfway, registered)


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The start of the day the finding may appear (start date less the lead days),
    or of the day after the employment ends, whichever comes first after ``now``."""
    employee = view.employee
    if employee is None or employee.get("start_date") is None:
        return None
    lead = timedelta(days=SPEC.lead_days(settings))
    moments = [start_of_day(employee["start_date"] - lead)]
    if employee.get("end_date") is not None:
        moments.append(start_of_day(employee["end_date"] + timedelta(days=1)))
    upcoming = [m for m in moments if m > now]
    return min(upcoming, default=None)


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding when a hire starting within the lead days has no active account."""
    employee = view.employee
    if employee is None:
        return []
    start: date | None = employee.get("start_date")
    end: date | None = employee.get("end_date")
    today = business_date(now)
    if start is None or (end is not None and end < today):
        return []
    if (start - today).days > SPEC.lead_days(settings):
        return []  # not yet: re-checked at start - lead days
    if _active_accounts(view):
        return []
    if is_hourly(employee):
        return []  # access.hourly_without_feide_account reports hourly staff (P1 as well)
    name = view.display_name or f"ansatt {employee['employee_id']}"
    return [
        SPEC.finding(
            view,
            due_date=due_date(employee, settings),
            title_nb=f"Nytilsatt uten brukerkonto: {name} starter {start.isoformat()}",
            title_en=f"New hire without an account: {name} starts {start.isoformat()}",
            description_nb=(
                f"{name} (ansattnummer {employee['employee_id']}) starter {start.isoformat()}"
                " ifølge DFØ, men har ingen aktiv brukerkonto i IAM. Uten konto kan personen"
                " ikke logge inn i DFØ for å signere kontrakten, og får ikke tilgang til"
                " IT-tjenester."
            ),
            description_en=(
                f"{name} (employee number {employee['employee_id']}) starts"
                f" {start.isoformat()} according to DFØ, but has no active account in IAM."
                " Without one they cannot log in to DFØ to sign the contract, nor use IT"
                " services."
            ),
            suggested_fix_nb=(
                "Sjekk at personen er importert fra DFØ til IAM og opprett kontoen. Mangler"
                " fødselsnummer eller passnummer i DFØ, må HR registrere det først."
            ),
            suggested_fix_en=(
                "Check that the person was imported from DFØ into IAM and create the account."
                " If DFØ lacks a national ID or passport number, HR must register it first."
            ),
            evidence=evidence(view),
        )
    ]


def example() -> tuple[PersonView, datetime]:
    """Kari Nordmann starts in a week; IAM has no account for her."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    hire = dfo_employee(
        "345678", "Kari", "Nordmann", now, start_date=date(2026, 11, 29), end_date=None
    )
    return PersonView.of("p-kari", "uio", [(SourceKind.DFO_EMPLOYEE, hire)]), now
