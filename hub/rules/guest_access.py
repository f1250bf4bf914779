"""guest.access_missing_or_short: an active guest role has no account, or one expiring too soon."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.examples import greg_person
from hub.rules.guests import registration_evidence
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "evaluate", "evidence", "example", "next_check"]

RULE_ID = "guest.access_missing_or_short"

Record = dict[str, Any]

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Guest without access, or access ending before the stay",
    title_nb="Gjest uten tilgang, eller tilgang som slutter før oppholdet",
    why=(
        "A guest researcher, emeritus or external partner registered in Greg needs a"
        " university account for the whole stay. Without one they cannot use the"
        " network, e-mail or systems the hosting unit invited them for; if the account"
        " expires before the role ends they lose access halfway, and the unit's"
        " administration must chase IAM and the sponsor. The seed report names broken"
        " guest access its third failure."
    ),
    systems=("Greg", "IAM"),
    severity=Severity.P2,
    owner_group="iam",
    deadline=(
        "One finding per guest role. Appears when the role is active (the guest has"
        " completed registration, has a birth date and the role runs today) and the"
        " grace period for IAM provisioning has passed since the role became active or"
        " the Greg record arrived. Due on the day the role became active when there is"
        " no usable account, or on the account's expiry date when it expires before"
        " the role ends. Resolves when IAM shows an active account lasting to the role's"
        " end date, or the role ends. Once its task is open, a newer Greg version does not"
        " hold it back again."
    ),
    default_grace=timedelta(minutes=60),
)


def _role_active(role: Record, day: date) -> bool:
    """Whether the role runs on ``day`` (from start to end date, both inclusive)."""
    start: date | None = role.get("start_date")
    end: date | None = role.get("end_date")
    return start is not None and start <= day and (end is None or day <= end)


def _guest_ready(guest: Record) -> bool:
    """Registration completed and birth date set: Greg's conditions for an active guest."""
    return guest.get("registration_completed") is not None and guest.get("birth_date") is not None


def _usable(account: Record, day: date) -> bool:
    """An ACTIVE account that has not expired by ``day`` (it works through expires_on)."""
    expires: date | None = account.get("expires_on")
    return account.get("status") == "ACTIVE" and (expires is None or day <= expires)


def _activated_at(guest: Record, role: Record) -> datetime:
    """When the role made the guest active: its start day, or registration if later."""
    moment = start_of_day(role["start_date"])
    completed: datetime | None = guest.get("registration_completed")
    return max(moment, completed) if completed is not None else moment


def _grace_from(guest: Record, role: Record) -> datetime:
    """The moment IAM's grace for provisioning starts: activation or the record's arrival."""
    arrived: datetime = guest["source_timestamp"]
    return max(_activated_at(guest, role), arrived)


def evidence(view: PersonView) -> Sequence[Evidence]:
    """What Greg says about registration and roles, and what IAM says about accounts."""
    items: list[Evidence] = []
    for guest in sorted(view.greg_persons, key=lambda g: g["greg_id"]):
        stamp = guest["source_timestamp"]
        items.append(registration_evidence(guest))
        items.append(
            Evidence(
                "greg",
                "date_of_birth",
                "set" if guest.get("birth_date") is not None else "missing",
                stamp,
            )
        )
        for role in sorted(guest.get("roles") or [], key=lambda r: r["role_id"]):
            start, end = role.get("start_date"), role.get("end_date")
            items.append(
                Evidence(
                    "greg",
                    f"role {role['role_id']}",
                    f"{role.get('type')} from {start.isoformat() if start else '?'}"
                    f" to {end.isoformat() if end else 'open'}",
                    stamp,
                )
            )
    for account_id, account in sorted(view.accounts.items()):
        expires = account.get("expires_on")
        items.append(
            Evidence(
                account["source_system"],
                f"account {account_id}",
                f"{account['username']}: {account.get('status')}, expires"
                f" {expires.isoformat() if expires else 'never'}",
                account["source_timestamp"],
            )
        )
    if not view.accounts:
        items.append(Evidence("iam", "accounts", "none"))
    return items


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The next role start, day after a role's end, end of a grace period, or day after
    an account's expiry, whichever comes first after ``now``."""
    grace = SPEC.grace(settings)
    moments: list[datetime] = []
    for guest in view.greg_persons:
        for role in guest.get("roles") or []:
            if role.get("start_date") is None:
                continue
            moments.append(start_of_day(role["start_date"]))
            moments.append(_grace_from(guest, role) + grace)
            if role.get("end_date") is not None:
                moments.append(start_of_day(role["end_date"] + timedelta(days=1)))
    for account in view.accounts.values():
        if account.get("expires_on") is not None:
            moments.append(start_of_day(account["expires_on"] + timedelta(days=1)))
    return min((m for m in moments if m > now), default=None)


def _latest_expiry(accounts: Sequence[Record]) -> date | None:
    """The latest expiry among the accounts; None when one of them never expires."""
    dates: list[date | None] = [a.get("expires_on") for a in accounts]
    if any(d is None for d in dates):
        return None
    return max(d for d in dates if d is not None)


def _finding(
    view: PersonView,
    guest: Record,
    role: Record,
    expiry: date | None,
) -> Finding:
    """The finding for one role: no usable account (``expiry`` None), or an account
    expiring on ``expiry``, before the role ends."""
    name = view.display_name or f"gjest {guest['greg_id']}"
    name_en = view.display_name or f"guest {guest['greg_id']}"
    role_id = role["role_id"]
    kind = role.get("type")
    start: date = role["start_date"]
    end: date | None = role.get("end_date")
    until = end.isoformat() if end else ""
    period_nb = f"{start.isoformat()} til {until}" if end else f"fra {start.isoformat()}"
    period_en = f"{start.isoformat()} to {until}" if end else f"from {start.isoformat()}"
    if expiry is None:
        due = business_date(_activated_at(guest, role))
        title_nb = f"Gjest uten brukerkonto: {name}, rolle {kind} fra {start.isoformat()}"
        title_en = f"Guest without an account: {name_en}, role {kind} from {start.isoformat()}"
        what_nb = "har ingen aktiv, gyldig brukerkonto i IAM"
        what_en = "has no active, unexpired account in IAM"
        fix_nb = (
            "IAM: sjekk at gjesten er importert fra Greg og opprett kontoen med utløpsdato"
            " tidligst rollens sluttdato. Mangler gjesten verifisert identitet (pass eller"
            " fødselsnummer) eller er rollen feil registrert, må verten (sponsor) rette det"
            " i Greg først."
        )
        fix_en = (
            "IAM: check that the guest was imported from Greg and create the account,"
            " expiring no earlier than the role's end date. If the guest lacks a verified"
            " identity (passport or national ID) or the role is registered wrongly, the"
            " sponsor must correct it in Greg first."
        )
    else:
        due = expiry
        title_nb = (
            f"Gjestekonto utløper før rollen slutter: {name}, konto {expiry.isoformat()},"
            f" rolle til {until}"
        )
        title_en = (
            f"Guest account expires before the role ends: {name_en}, account"
            f" {expiry.isoformat()}, role until {until}"
        )
        what_nb = (
            f"har en brukerkonto som utløper {expiry.isoformat()}, før rollen slutter, og"
            " mister dermed tilgangen midt i oppholdet"
        )
        what_en = (
            f"has an account that expires {expiry.isoformat()}, before the role ends, and"
            " so loses access halfway through the stay"
        )
        fix_nb = (
            "IAM: forleng kontoens utløpsdato til rollens sluttdato (sjekk at importen fra"
            " Greg har fått med seg rollens sluttdato). Er rollens sluttdato feil, må verten"
            " (sponsor) rette den i Greg."
        )
        fix_en = (
            "IAM: extend the account's expiry to the role's end date (check that the import"
            " from Greg picked up the role's end date). If the role's end date is wrong, the"
            " sponsor must correct it in Greg."
        )
    return SPEC.finding(
        view,
        due_date=due,
        title_nb=title_nb,
        title_en=title_en,
        description_nb=(
            f"{name} er registrert i Greg som gjest med rollen {kind} ({period_nb}) og har"
            f" fullført registreringen, men {what_nb}."
        ),
        description_en=(
            f"{name_en} is registered in Greg as a guest with the role {kind} ({period_en})"
            f" and has completed registration, but {what_en}."
        ),
        suggested_fix_nb=fix_nb,
        suggested_fix_en=fix_en,
        evidence=evidence(view),
        detail=f"role:{role_id}",
    )


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding per active guest role without a usable account lasting to its end."""
    today = business_date(now)
    grace = SPEC.grace(settings)
    usable = [a for _, a in sorted(view.accounts.items()) if _usable(a, today)]
    expiry = _latest_expiry(usable) if usable else None
    findings: list[Finding] = []
    for guest in sorted(view.greg_persons, key=lambda g: g["greg_id"]):
        if not _guest_ready(guest):
            continue
        for role in sorted(guest.get("roles") or [], key=lambda r: r["role_id"]):
            if not _role_active(role, today):
                continue
            end: date | None = role.get("end_date")
            missing = not usable
            if not missing and (expiry is None or end is None or expiry >= end):
                continue
            if now < _grace_from(guest, role) + grace and not SPEC.has_open_task(
                view, f"role:{role['role_id']}"
            ):
                continue  # IAM may still be provisioning: re-checked when grace ends
            findings.append(_finding(view, guest, role, None if missing else expiry))
    return findings


def example() -> tuple[PersonView, datetime]:
    """Ingrid Haugland, guest researcher from 1 November, still has no account."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    guest = greg_person(
        "4711",
        "Ingrid",
        "Haugland",
        datetime(2026, 10, 20, 9, 12, tzinfo=UTC),
        birth_date=date(1961, 3, 14),
        registration_completed=datetime(2026, 10, 20, 9, 12, tzinfo=UTC),
        identities=[
            {"type": "passport_number", "verified": "manual", "verified_at": None, "invalid": False}
        ],
        roles=[
            {
                "role_id": "812",
                "type": "guest-researcher",
                "start_date": date(2026, 11, 1),
                "end_date": date(2027, 4, 30),
                "sponsor_id": "233",
                "org_unit_id": "17",
                "org_unit_active": True,
            }
        ],
        consents=[],
    )
    return PersonView.of("p-ingrid", "uio", [(SourceKind.GREG_PERSON, guest)]), now
