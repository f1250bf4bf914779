"""access.leaver_still_active: a leaver's IAM account is still active with no other reason."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.employment import AFFILIATION_EARLY_DAYS, active_on
from hub.rules.examples import dfo_employee, iam_account
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "due_date", "evaluate", "evidence", "example", "next_check"]

RULE_ID = "access.leaver_still_active"

Record = dict[str, Any]

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Leaver with an active account",
    title_nb="Sluttet, men kontoen er fortsatt aktiv",
    why=(
        "When an employment ends in DFØ, IAM should close the account unless the person has"
        " another reason for access (another affiliation, a guest role in Greg, another"
        " employment). An account left open gives a former employee access to e-mail,"
        " files and systems holding personal data: a security and privacy exposure for the"
        " institution and the people whose data they can still reach."
    ),
    systems=("DFØ", "Greg", "IAM"),
    severity=Severity.P2,
    owner_group="iam",
    deadline=(
        "Appears when the grace period (default 1 day) after the DFØ end date has passed:"
        " at midnight after end date + grace. Due on the last day of the grace period (end"
        " date + grace), so it is overdue from the start: the account should already be"
        " closed. Resolves when no account is active, or the person gets another reason for"
        " access (an affiliation, an active Greg role, another employment)."
    ),
    default_grace=timedelta(days=1),
)

# Where IAM's ANSATT affiliations come from when they are DFØ's; an affiliation of
# another kind or source is the person's other reason for access.
DEFAULT_DFO_AFFILIATION_SOURCES = "DFO_SAP,DFO,SAP"


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _grace_ends(end: date, settings: RuleSettings) -> datetime:
    """The employment ends at midnight after its end date; the grace period runs from then."""
    return start_of_day(end + timedelta(days=1)) + SPEC.grace(settings)


def due_date(end: date, settings: RuleSettings) -> date:
    """The last day of the grace period: end date + grace (the end date itself without one)."""
    return business_date(_grace_ends(end, settings) - timedelta(microseconds=1))


def _active_accounts(view: PersonView) -> list[Record]:
    return [a for _, a in sorted(view.accounts.items()) if a.get("status") == "ACTIVE"]


def _affiliations(view: PersonView) -> Iterator[tuple[str, str, Record, datetime]]:
    """Every IAM affiliation as (system, where, affiliation, source timestamp)."""
    for person in view.iam_persons:
        system = person.get("source_system") or "iam"
        for affiliation in person.get("affiliations") or []:
            where = f"person {person['source_id']}"
            yield system, where, affiliation, person["source_timestamp"]
    for account_id, account in sorted(view.accounts.items()):
        for affiliation in account.get("affiliations") or []:
            where = f"account {account_id}"
            yield account["source_system"], where, affiliation, account["source_timestamp"]


def _is_dfo_employment(affiliation: Record, settings: RuleSettings) -> bool:
    """An ANSATT affiliation from DFØ (or of unknown source: only DFØ gives ANSATT)."""
    if (affiliation.get("affiliation") or "").upper() != "ANSATT":
        return False
    sources = settings.param(RULE_ID, "dfo_affiliation_sources", DEFAULT_DFO_AFFILIATION_SOURCES)
    source = (affiliation.get("source_system") or "").strip().upper()
    return not source or source in {s.strip().upper() for s in sources.split(",")}


def _affiliation_name(affiliation: Record) -> str:
    """``ANSATT/tekadm``, ``TILKNYTTET/emeritus``, ..."""
    return "/".join(p for p in (affiliation.get("affiliation"), affiliation.get("status")) if p)


def _greg_roles(view: PersonView) -> list[Record]:
    return [role for person in view.greg_persons for role in person.get("roles") or []]


def _role_active(role: Record, today: date) -> bool:
    start: date | None = role.get("start_date")
    end: date | None = role.get("end_date")
    return (start is None or start <= today) and (end is None or today <= end)


def _other_employments(view: PersonView, employee: Record) -> list[tuple[str, Record]]:
    """The person's other DFØ employments (other undisputed employee records) and the
    employee's additional positions, each as (label, record with start/end dates)."""
    others: list[tuple[str, Record]] = [
        (f"employee {linked.record['employee_id']}", linked.record)
        for _, linked in sorted(view.records.items())
        if linked.source_topic == SourceKind.DFO_EMPLOYEE
        and linked.record is not employee
        and (linked.link or {}).get("status") != "DISPUTED"
    ]
    others += [
        (f"position {position['position_id']}", position)
        for position in employee.get("additional_positions") or []
    ]
    return others


def _active_employments(view: PersonView, employee: Record, today: date) -> list[str]:
    """Other employments active today, or from DFØ's 6 days before they start."""
    return [
        label
        for label, record in _other_employments(view, employee)
        if active_on(record, today, early_days=AFFILIATION_EARLY_DAYS)
    ]


def _other_reasons(
    view: PersonView, employee: Record, today: date, settings: RuleSettings
) -> list[str]:
    """Why the person may keep access: other affiliations, active Greg roles, other
    employments (empty when there is no reason)."""
    reasons = sorted(
        {
            f"affiliation {_affiliation_name(a)}"
            for _, _, a, _ in _affiliations(view)
            if not _is_dfo_employment(a, settings)
        }
    )
    reasons += [
        f"greg role {role.get('type')}" for role in _greg_roles(view) if _role_active(role, today)
    ]
    reasons += _active_employments(view, employee, today)
    return reasons


def evidence(view: PersonView) -> Sequence[Evidence]:
    """DFØ's end date and other employments, IAM's accounts and affiliations, Greg's roles."""
    items: list[Evidence] = []
    employee = view.employee
    if employee is not None:
        stamp = employee["source_timestamp"]
        for field in ("employee_id", "start_date", "end_date", "end_reason"):
            items.append(Evidence("dfo_sap", field, _text(employee.get(field)), stamp))
        for label, record in _other_employments(view, employee):
            period = f"{_text(record.get('start_date'))}..{_text(record.get('end_date')) or ''}"
            items.append(Evidence("dfo_sap", label, period, record.get("source_timestamp", stamp)))
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
    for system, where, affiliation, stamp in _affiliations(view):
        value = "/".join(
            p for p in (affiliation.get("affiliation"), affiliation.get("status")) if p
        )
        source = affiliation.get("source_system") or "unknown source"
        items.append(Evidence(system, f"{where} affiliation", f"{value} ({source})", stamp))
    for person in view.greg_persons:
        for role in person.get("roles") or []:
            period = f"{_text(role.get('start_date'))}..{_text(role.get('end_date')) or ''}"
            items.append(
                Evidence(
                    "greg",
                    f"role {role.get('role_id')}",
                    f"{role.get('type')} {period}",
                    person["source_timestamp"],
                )
            )
    return items


def _date_moments(view: PersonView, employee: Record) -> list[datetime]:
    """When another reason for access begins or ends."""
    moments: list[datetime] = []
    for role in _greg_roles(view):
        if role.get("start_date") is not None:
            moments.append(start_of_day(role["start_date"]))
        if role.get("end_date") is not None:
            moments.append(start_of_day(role["end_date"] + timedelta(days=1)))
    for _, record in _other_employments(view, employee):
        if record.get("start_date") is not None:
            early = timedelta(days=AFFILIATION_EARLY_DAYS)
            moments.append(start_of_day(record["start_date"] - early))
        if record.get("end_date") is not None:
            moments.append(start_of_day(record["end_date"] + timedelta(days=1)))
    return moments


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The end of the grace period after the end date, or the moment another reason for
    access (a Greg role, another employment) begins or ends, whichever comes first."""
    employee = view.employee
    if employee is None or employee.get("end_date") is None:
        return None
    moments = [_grace_ends(employee["end_date"], settings), *_date_moments(view, employee)]
    return min((m for m in moments if m > now), default=None)


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding when the DFØ employment ended (grace included), an account is still
    active, and nothing else gives the person a reason for access."""
    employee = view.employee
    if employee is None:
        return []
    end: date | None = employee.get("end_date")
    if end is None or now < _grace_ends(end, settings):
        return []
    active = _active_accounts(view)
    if not active:
        return []
    if _other_reasons(view, employee, business_date(now), settings):
        return []
    name = view.display_name or f"ansatt {employee['employee_id']}"
    number = employee["employee_id"]
    usernames = ", ".join(a["username"] for a in active)
    return [
        SPEC.finding(
            view,
            due_date=due_date(end, settings),
            title_nb=f"Sluttet, men kontoen er aktiv: {name}, sluttdato {end.isoformat()}",
            title_en=f"Leaver with an active account: {name}, left {end.isoformat()}",
            description_nb=(
                f"Ansettelsen til {name} (ansattnummer {number}) sluttet {end.isoformat()}"
                f" ifølge DFØ, men kontoen {usernames} er fortsatt aktiv i IAM. Personen har"
                " ingen annen tilknytning, ingen aktiv gjesterolle i Greg og ingen annen aktiv"
                " ansettelse, og skal derfor ikke lenger ha tilgang."
            ),
            description_en=(
                f"The employment of {name} (employee number {number}) ended"
                f" {end.isoformat()} according to DFØ, but the account {usernames} is still"
                " active in IAM. The person has no other affiliation, no active guest role in"
                " Greg and no other active employment, so should no longer have access."
            ),
            suggested_fix_nb=(
                "Sjekk hvorfor IAM ikke har stengt kontoen (feilet import fra DFØ, manuell"
                " unntaksregel). Steng kontoen, eller registrer grunnlaget for fortsatt tilgang:"
                " en gjesterolle i Greg eller en tilknytning i IAM. Er sluttdatoen feil, må HR"
                " rette den i DFØ."
            ),
            suggested_fix_en=(
                "Find out why IAM did not close the account (a failed import from DFØ, a manual"
                " exception). Close it, or register the reason for continued access: a guest"
                " role in Greg or an affiliation in IAM. If the end date is wrong, HR must"
                " correct it in DFØ."
            ),
            evidence=evidence(view),
        )
    ]


def example() -> tuple[PersonView, datetime]:
    """Nora Lie left at the end of June; her account is still active in July."""
    now = datetime(2026, 7, 6, 8, 0, tzinfo=UTC)
    leaver = dfo_employee(
        "287711",
        "Nora",
        "Lie",
        datetime(2026, 6, 20, 9, 0, tzinfo=UTC),
        start_date=date(2022, 8, 1),
        end_date=date(2026, 6, 30),
        end_reason="10",
        additional_positions=[],
    )
    account = iam_account(
        "70144",
        "40021",
        datetime(2026, 7, 5, 2, 0, tzinfo=UTC),
        username="noral",
        feide_principal_name="noral@uio.no",
        status="ACTIVE",
        affiliations=[
            {
                "affiliation": "ANSATT",
                "status": "tekadm",
                "org_unit_id": "50001300",
                "source_system": "DFO_SAP",
            }
        ],
        external_ids=[{"id_type": "DFO_PID", "value": "287711"}],
    )
    view = PersonView.of(
        "p-nora", "uio", [(SourceKind.DFO_EMPLOYEE, leaver), (SourceKind.IAM_ACCOUNT, account)]
    )
    return view, now
