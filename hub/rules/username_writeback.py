"""access.username_mismatch: the username written back to DFØ differs from the IAM username."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.examples import dfo_employee
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "evaluate", "evidence", "example", "iam_usernames", "next_check"]

RULE_ID = "access.username_mismatch"

Record = dict[str, Any]

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Username in DFØ differs from IAM",
    title_nb="Brukernavn i DFØ avviker fra IAM",
    why=(
        "IAM writes the person's username back to DFØ (eksternIdent), and DFØ's services"
        " use it to know who logs in. When DFØ holds another username than IAM (an old"
        " account, another person's, a failed write-back), the person may be refused in"
        " DFØ's self-service or be shown as someone else, and central staff must untangle"
        " it by hand."
    ),
    systems=("DFØ", "IAM"),
    severity=Severity.P3,
    owner_group="iam",
    deadline=(
        "Appears when the grace period (default 24 hours) has passed since the later of"
        " DFØ's and IAM's records, so that a write-back still on its way is not reported."
        " Due the parameter due_days (default 7) after that moment. Resolves when DFØ's"
        " eksternIdent equals IAM's username (the primary username, else an active"
        " account's), or when neither system holds one."
    ),
    default_grace=timedelta(hours=24),
)


def iam_usernames(view: PersonView) -> tuple[list[Record], set[str]]:
    """The records that say what IAM's username is, and the usernames (case-folded): the
    IAM persons' primary usernames, else the usernames of ACTIVE accounts."""
    persons = [p for p in view.iam_persons if (p.get("primary_username") or "").strip()]
    if persons:
        return persons, {p["primary_username"].strip().casefold() for p in persons}
    accounts = [
        a
        for _, a in sorted(view.accounts.items())
        if a.get("status") == "ACTIVE" and (a.get("username") or "").strip()
    ]
    return accounts, {a["username"].strip().casefold() for a in accounts}


def _external(view: PersonView) -> str | None:
    employee = view.employee
    value = (employee.get("external_username") or "").strip() if employee else ""
    return value or None


def _account_usernames(view: PersonView) -> set[str]:
    """The usernames of all the person's accounts, whatever their status (case-folded)."""
    return {
        a["username"].strip().casefold()
        for a in view.accounts.values()
        if (a.get("username") or "").strip()
    }


def _ready_at(employee: Record, sources: Sequence[Record], settings: RuleSettings) -> datetime:
    """The later of DFØ's and IAM's timestamps, plus the grace period."""
    stamps: list[datetime] = [
        employee["source_timestamp"],
        *(r["source_timestamp"] for r in sources),
    ]
    return max(stamps) + SPEC.grace(settings)


def _mismatch(view: PersonView) -> tuple[Record, str | None, list[Record], set[str]] | None:
    """DFØ's record and eksternIdent, IAM's records and usernames, when they differ.

    IAM's username is the primary username, else an ACTIVE account's. They differ when
    DFØ's eksternIdent is none of those; when DFØ holds none while IAM has one (the
    write-back never came); and, when IAM has neither, when DFØ names a username that no
    account of the person has. DFØ holding none while IAM has none is no mismatch.
    """
    employee = view.employee
    if employee is None:
        return None
    external = _external(view)
    sources, names = iam_usernames(view)
    if names:
        if external is not None and external.casefold() in names:
            return None
    elif external is None or external.casefold() in _account_usernames(view):
        return None
    else:
        sources = [a for _, a in sorted(view.accounts.items())] + view.iam_persons
    return employee, external, sources, names


def evidence(view: PersonView) -> Sequence[Evidence]:
    """DFØ's eksternIdent and what IAM says the username is."""
    items: list[Evidence] = []
    employee = view.employee
    if employee is not None:
        stamp = employee["source_timestamp"]
        items.append(Evidence("dfo_sap", "employee_id", employee["employee_id"], stamp))
        items.append(Evidence("dfo_sap", "external_username", _external(view), stamp))
    for person in view.iam_persons:
        items.append(
            Evidence(
                person.get("source_system") or "iam",
                f"person {person['iam_person_id']} primary_username",
                person.get("primary_username"),
                person["source_timestamp"],
            )
        )
    for account_id, account in sorted(view.accounts.items()):
        items.append(
            Evidence(
                account.get("source_system") or "iam",
                f"account {account_id} username",
                f"{account.get('username')}: {account.get('status')}",
                account["source_timestamp"],
            )
        )
    return items


def due_date(ready: datetime, settings: RuleSettings) -> date:
    """The parameter due_days (default 7) after the grace period ends."""
    return business_date(ready) + timedelta(days=settings.param(RULE_ID, "due_days", 7))


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """When the grace period after the later record ends, if the names differ and that is
    still ahead."""
    found = _mismatch(view)
    if found is None:
        return None
    ready = _ready_at(found[0], found[2], settings)
    return ready if ready > now else None


def _texts(external: str | None, iam: str, name: str, number: str) -> dict[str, str]:
    """Description and fix, by what is missing: DFØ's username, IAM's, or neither."""
    if external is None:
        return {
            "description_nb": (
                f"DFØ har ikke noe eksternt brukernavn (eksternIdent) for {name} (ansattnummer"
                f" {number}), men brukernavnet i IAM er «{iam}». Tilbakeskrivingen fra IAM til"
                " DFØ har ikke kommet fram."
            ),
            "description_en": (
                f"DFØ holds no external username (eksternIdent) for {name} (employee number"
                f" {number}), but IAM's username is '{iam}'. The write-back from IAM to DFØ"
                " has not arrived."
            ),
            "suggested_fix_nb": (
                "Finn ut hvorfor tilbakeskrivingen til DFØ ikke har skjedd, og kjør den på nytt"
                " for personen."
            ),
            "suggested_fix_en": (
                "Find out why the write-back to DFØ did not happen, and run it again for the"
                " person."
            ),
        }
    if not iam:
        return {
            "description_nb": (
                f"DFØ har «{external}» som eksternt brukernavn (eksternIdent) for {name}"
                f" (ansattnummer {number}), men ingen av personens kontoer i IAM har det"
                " brukernavnet, og personen har ingen aktiv konto. DFØ kan peke på en annen"
                " persons konto."
            ),
            "description_en": (
                f"DFØ holds '{external}' as the external username (eksternIdent) of {name}"
                f" (employee number {number}), but none of the person's accounts in IAM has"
                " that username, and the person has no active account. DFØ may point at"
                " another person's account."
            ),
            "suggested_fix_nb": (
                "Finn ut hvem brukernavnet tilhører. Gi personen en konto i IAM og skriv"
                " brukernavnet tilbake til DFØ, eller fjern det gale brukernavnet i DFØ."
            ),
            "suggested_fix_en": (
                "Find out whose username it is. Give the person an account in IAM and write"
                " its username back to DFØ, or remove the wrong username from DFØ."
            ),
        }
    return {
        "description_nb": (
            f"DFØ har «{external}» som eksternt brukernavn (eksternIdent) for {name}"
            f" (ansattnummer {number}), men brukernavnet i IAM er «{iam}». Personen kan bli"
            " avvist eller vist som en annen i DFØs tjenester."
        ),
        "description_en": (
            f"DFØ holds '{external}' as the external username (eksternIdent) of {name}"
            f" (employee number {number}), but IAM's username is '{iam}'. The person may be"
            " refused, or shown as someone else, in DFØ's services."
        ),
        "suggested_fix_nb": (
            "Sjekk hvilket brukernavn som er riktig, og skriv IAMs brukernavn tilbake til"
            " DFØ på nytt. Se etter feil i tilbakeskrivingen hvis den har feilet."
        ),
        "suggested_fix_en": (
            "Check which username is right and write IAM's username back to DFØ again."
            " If the write-back failed, look for the error there."
        ),
    }


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding when DFØ's eksternIdent and IAM's username differ after the grace period."""
    found = _mismatch(view)
    if found is None:
        return []
    employee, external, sources, names = found
    ready = _ready_at(employee, sources, settings)
    if now < ready and not SPEC.has_open_task(view):
        return []  # within the grace, unless already reported: a newer record keeps it
    iam = ", ".join(sorted(names))
    number = str(employee["employee_id"])
    name = view.display_name or f"ansatt {number}"
    shown_nb = f"{external or 'ingen'} ≠ {iam or 'ingen'}"
    shown_en = f"{external or 'none'} ≠ {iam or 'none'}"
    return [
        SPEC.finding(
            view,
            due_date=due_date(ready, settings),
            title_nb=f"Brukernavn i DFØ avviker fra IAM: {name} ({shown_nb})",
            title_en=f"Username in DFØ differs from IAM: {name} ({shown_en})",
            evidence=evidence(view),
            **_texts(external, iam, name, number),
        )
    ]


def example() -> tuple[PersonView, datetime]:
    """DFØ still holds Per Olsen's old username after IAM gave him a new one."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    employee = dfo_employee(
        "356789",
        "Per",
        "Olsen",
        now - timedelta(days=3),
        external_username="pero",
    )
    person = {
        "institution": "uio",
        "source_system": "cerebrum",
        "source_id": "41234",
        "source_timestamp": now - timedelta(days=2),
        "iam_person_id": "41234",
        "first_name": "Per",
        "last_name": "Olsen",
        "usernames": ["pero", "perol"],
        "primary_username": "perol",
    }
    view = PersonView.of(
        "p-per", "uio", [(SourceKind.DFO_EMPLOYEE, employee), (SourceKind.IAM_PERSON, person)]
    )
    return view, now
