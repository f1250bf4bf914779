"""access.hourly_without_feide_account: an hourly worker on a running contract lacks Feide."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.employment import is_hourly
from hub.rules.examples import dfo_employee
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "due_date", "evaluate", "evidence", "example", "next_check"]

RULE_ID = "access.hourly_without_feide_account"

Record = dict[str, Any]

# Days IAM gets to provide an account when DFØ registered the contract too late for
# the start date (hourly contracts are often registered after the work began).
LATE_DAYS_PARAM = "late_registration_days"
DEFAULT_LATE_DAYS = 2

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Hourly or assignment worker without a Feide login",
    title_nb="Timelønnet eller oppdragstaker uten Feide-innlogging",
    why=(
        "Hourly paid staff and assignment takers sign their contracts and register their"
        " hours in DFØ's self-service, which they reach only by logging in with Feide."
        " Without an active account with a Feide identity they cannot sign or claim"
        " hours, so they are paid late or not at all; the seed report names hourly and"
        " assignment contracts among the worst failures after the switch to DFØ."
    ),
    systems=("DFØ", "IAM"),
    severity=Severity.P1,
    owner_group="iam",
    deadline=(
        "Appears the lead days (default 7) before the contract starts, or while it runs,"
        " once the grace period (default 60 minutes) after DFØ's record has passed, so"
        " that IAM has time to act on the same change. Due on the start date; when DFØ"
        " registered the contract (endretDato, else the fetch date) later than"
        " late_registration_days (default 2) before the start, due that many days after"
        " the registration. Resolves when IAM shows an ACTIVE account with a Feide name"
        " (eduPersonPrincipalName), or the contract ends."
    ),
    default_lead_days=7,
    default_grace=timedelta(minutes=60),
)


def _feide_accounts(view: PersonView) -> list[Record]:
    """Accounts that let the person log in through Feide: ACTIVE with a principal name."""
    return [
        account
        for account in view.accounts.values()
        if account.get("status") == "ACTIVE" and account.get("feide_principal_name")
    ]


def _registered_on(employee: Record) -> date:
    """The day DFØ registered the employee record as it is: endretDato, else fetch date."""
    changed: date | None = employee.get("changed_date")
    return changed if changed is not None else business_date(employee["source_timestamp"])


def due_date(employee: Record, settings: RuleSettings) -> date:
    """The start date, or ``late_registration_days`` after DFØ's registration if later."""
    start: date = employee["start_date"]
    late = settings.param(RULE_ID, LATE_DAYS_PARAM, DEFAULT_LATE_DAYS)
    return max(start, _registered_on(employee) + timedelta(days=late))


def _grace_ends(employee: Record, settings: RuleSettings) -> datetime:
    stamp: datetime = employee["source_timestamp"]
    return stamp + SPEC.grace(settings)


def evidence(view: PersonView) -> Sequence[Evidence]:
    """What DFØ says about the contract, and what IAM says about each account."""
    items: list[Evidence] = []
    employee = view.employee
    if employee is not None:
        stamp = employee["source_timestamp"]
        items.append(Evidence("dfo_sap", "employee_id", employee["employee_id"], stamp))
        for field in ("employee_group", "employee_subgroup"):
            items.append(Evidence("dfo_sap", field, employee.get(field), stamp))
        for field in ("start_date", "end_date"):
            day: date | None = employee.get(field)
            items.append(Evidence("dfo_sap", field, day.isoformat() if day else None, stamp))
    for account_id, account in sorted(view.accounts.items()):
        feide = account.get("feide_principal_name") or "none"
        items.append(
            Evidence(
                account["source_system"],
                f"account {account_id}",
                f"{account['username']}: {account.get('status')}, feide {feide}",
                account["source_timestamp"],
            )
        )
    if not view.accounts:
        items.append(Evidence("iam", "accounts", "none"))
    return items


def _applies(employee: Record, today: date, settings: RuleSettings) -> bool:
    """An hourly contract that runs today or starts within the lead days."""
    start: date | None = employee.get("start_date")
    end: date | None = employee.get("end_date")
    if start is None or not is_hourly(employee):
        return False
    if end is not None and end < today:
        return False
    return (start - today).days <= SPEC.lead_days(settings)


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The first of: the day the lead window opens (start less the lead days), the end
    of the grace period after DFØ's record, the day after the contract ends."""
    employee = view.employee
    if employee is None or employee.get("start_date") is None or not is_hourly(employee):
        return None
    lead = timedelta(days=SPEC.lead_days(settings))
    moments = [start_of_day(employee["start_date"] - lead), _grace_ends(employee, settings)]
    if employee.get("end_date") is not None:
        moments.append(start_of_day(employee["end_date"] + timedelta(days=1)))
    return min((m for m in moments if m > now), default=None)


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding when an hourly contract runs or starts within the lead days and no
    ACTIVE account has a Feide name."""
    employee = view.employee
    if employee is None:
        return []
    today = business_date(now)
    if not _applies(employee, today, settings) or _feide_accounts(view):
        return []
    if now < _grace_ends(employee, settings) and not SPEC.has_open_task(view):
        return []  # IAM may still be acting on the same DFØ change
    start: date = employee["start_date"]
    name = view.display_name or f"ansatt {employee['employee_id']}"
    number = employee["employee_id"]
    subgroup = employee.get("employee_subgroup")
    if start > today:
        when_nb, when_en = f"starter {start.isoformat()}", f"starts {start.isoformat()}"
    else:
        when_nb, when_en = f"startet {start.isoformat()}", f"started {start.isoformat()}"
    inactive = sorted(a["username"] for a in view.accounts.values())
    has_nb = (
        f"Kontoene ({', '.join(inactive)}) er ikke aktive eller mangler Feide-navn."
        if inactive
        else "Personen har ingen konto i IAM."
    )
    has_en = (
        f"The accounts ({', '.join(inactive)}) are not active or lack a Feide name."
        if inactive
        else "The person has no account in IAM."
    )
    return [
        SPEC.finding(
            view,
            due_date=due_date(employee, settings),
            title_nb=f"Timelønnet uten Feide-innlogging: {name}, kontrakt {when_nb}",
            title_en=f"Hourly worker without a Feide login: {name}, contract {when_en}",
            description_nb=(
                f"{name} (ansattnummer {number}) har en timelønns- eller oppdragskontrakt"
                f" i DFØ (medarbeiderundergruppe {subgroup}) som {when_nb}, men ingen aktiv"
                f" konto med Feide-identitet. {has_nb} Uten Feide kan personen ikke logge inn"
                " i DFØs selvbetjening for å signere kontrakten eller registrere timer, og"
                " får ikke lønn i tide."
            ),
            description_en=(
                f"{name} (employee number {number}) has an hourly or assignment contract in"
                f" DFØ (employee subgroup {subgroup}) that {when_en}, but no active account"
                f" with a Feide identity. {has_en} Without Feide they cannot log in to DFØ's"
                " self-service to sign the contract or register hours, and are not paid on"
                " time."
            ),
            suggested_fix_nb=(
                "Sjekk at personen er importert fra DFØ til IAM, og opprett eller aktiver en"
                " konto med Feide-identitet (eduPersonPrincipalName). Er en gammel konto"
                " sperret etter forrige kontrakt, aktiver den igjen."
            ),
            suggested_fix_en=(
                "Check that the person was imported from DFØ into IAM, and create or enable"
                " an account with a Feide identity (eduPersonPrincipalName). If an old"
                " account was disabled after the previous contract, enable it again."
            ),
            evidence=evidence(view),
        )
    ]


def example() -> tuple[PersonView, datetime]:
    """Jonas Haugen grades exams from Monday; his account from last term is disabled."""
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    worker = dfo_employee(
        "512345",
        "Jonas",
        "Haugen",
        datetime(2026, 11, 20, 7, 30, tzinfo=UTC),
        employee_group="1",
        employee_subgroup="timelønnet",
        start_date=date(2026, 11, 30),
        end_date=date(2026, 12, 31),
        changed_date=date(2026, 11, 20),
    )
    account = {
        "institution": "uio",
        "source_system": "cerebrum",
        "source_id": "acc-77120",
        "source_timestamp": datetime(2026, 6, 30, 22, 0, tzinfo=UTC),
        "iam_person_id": "cer-40112",
        "username": "jonasha",
        "feide_principal_name": "jonasha@uio.no",
        "status": "DISABLED",
    }
    view = PersonView.of(
        "p-jonas", "uio", [(SourceKind.DFO_EMPLOYEE, worker), (SourceKind.IAM_ACCOUNT, account)]
    )
    return view, now
