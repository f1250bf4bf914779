"""guest.registration_incomplete: a guest has not finished registering or verified an identity."""

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

RULE_ID = "guest.registration_incomplete"

Record = dict[str, Any]

DEFAULT_DAYS = 14
DUE_AFTER_DAYS = 7
VERIFIED = frozenset({"automatic", "manual"})

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Guest registration incomplete",
    title_nb="Gjesteregistrering ikke fullført",
    why=(
        "A guest in Greg gets no account until registration is completed and an identity"
        " (national ID, passport or Feide) is verified. Left unfinished, the guest stays"
        " without access while the hosting unit believes the invitation was enough, and"
        " IT support and the unit's administration field the complaints. Only the sponsor"
        " can follow the guest up or verify the passport manually."
    ),
    systems=("Greg",),
    severity=Severity.P3,
    owner_group="sponsor",
    deadline=(
        "Appears the parameter days (default 14) after the start date of the earliest"
        " role that has not ended, if registration is still not completed or no identity"
        " is verified. Due 7 days later. Resolves when registration is completed with a"
        " verified identity, or the guest's roles have all ended."
    ),
)


def _days(settings: RuleSettings) -> int:
    return settings.param(RULE_ID, "days", DEFAULT_DAYS)


def _verified(identity: Record) -> bool:
    return identity.get("verified") in VERIFIED and not identity.get("invalid", False)


def _missing(guest: Record) -> tuple[bool, bool]:
    """(registration not completed, no verified identity)."""
    not_completed = guest.get("registration_completed") is None
    unverified = not any(_verified(i) for i in guest.get("identities") or [])
    return not_completed, unverified


def _overdue_start(guest: Record, today: date, days: int) -> date | None:
    """The start of the earliest role, not yet ended, that began ``days`` days ago or more."""
    starts = [
        role["start_date"]
        for role in guest.get("roles") or []
        if role.get("start_date") is not None
        and role["start_date"] + timedelta(days=days) <= today
        and (role.get("end_date") is None or today <= role["end_date"])
    ]
    return min(starts, default=None)


def evidence(view: PersonView) -> Sequence[Evidence]:
    """What Greg says about registration, identities (types and verification only) and roles."""
    items: list[Evidence] = []
    for guest in sorted(view.greg_persons, key=lambda g: g["greg_id"]):
        stamp = guest["source_timestamp"]
        items.append(registration_evidence(guest))
        identities = guest.get("identities") or []
        for identity in sorted(identities, key=lambda i: str(i.get("type"))):
            state = identity.get("verified") or "unverified"
            if identity.get("invalid"):
                state += ", invalid"
            items.append(Evidence("greg", f"identity {identity.get('type')}", state, stamp))
        if not identities:
            items.append(Evidence("greg", "identities", "none", stamp))
        for role in sorted(guest.get("roles") or [], key=lambda r: r["role_id"]):
            start, end = role.get("start_date"), role.get("end_date")
            items.append(
                Evidence(
                    "greg",
                    f"role {role['role_id']}",
                    f"{role.get('type')} from {start.isoformat() if start else '?'}"
                    f" to {end.isoformat() if end else 'open'}, sponsor"
                    f" {role.get('sponsor_id') or 'none'}",
                    stamp,
                )
            )
    return items


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The day a role's start is ``days`` old, or the day after a role ends, whichever
    comes first after ``now``."""
    days = timedelta(days=_days(settings))
    moments: list[datetime] = []
    for guest in view.greg_persons:
        for role in guest.get("roles") or []:
            if role.get("start_date") is not None:
                moments.append(start_of_day(role["start_date"] + days))
            if role.get("end_date") is not None:
                moments.append(start_of_day(role["end_date"] + timedelta(days=1)))
    return min((m for m in moments if m > now), default=None)


def _finding(view: PersonView, guest: Record, start: date, days: int) -> Finding:
    not_completed, unverified = _missing(guest)
    name = view.display_name or f"gjest {guest['greg_id']}"
    name_en = view.display_name or f"guest {guest['greg_id']}"
    missing_nb = " og ".join(
        text
        for flag, text in (
            (not_completed, "registreringen er ikke fullført"),
            (unverified, "ingen identitet er verifisert"),
        )
        if flag
    )
    missing_en = " and ".join(
        text
        for flag, text in (
            (not_completed, "registration is not completed"),
            (unverified, "no identity is verified"),
        )
        if flag
    )
    short_nb = " og ".join(
        t for f, t in ((not_completed, "ikke fullført"), (unverified, "ikke verifisert")) if f
    )
    short_en = " and ".join(
        t for f, t in ((not_completed, "not completed"), (unverified, "not verified")) if f
    )
    return SPEC.finding(
        view,
        due_date=start + timedelta(days=days + DUE_AFTER_DAYS),
        title_nb=f"Gjesteregistrering {short_nb}: {name}, rolle fra {start.isoformat()}",
        title_en=f"Guest registration {short_en}: {name_en}, role from {start.isoformat()}",
        description_nb=(
            f"{name} er registrert som gjest i Greg med rolle fra {start.isoformat()}, men"
            f" {missing_nb} etter {days} dager. Gjesten får ikke brukerkonto før"
            " registreringen er fullført med en verifisert identitet."
        ),
        description_en=(
            f"{name_en} is registered as a guest in Greg with a role from"
            f" {start.isoformat()}, but {missing_en} after {days} days. The guest gets no"
            " account until registration is completed with a verified identity."
        ),
        suggested_fix_nb=(
            "Verten (sponsor) følger opp gjesten så registreringen fullføres i Greg, og"
            " verifiserer passet manuelt om gjesten ikke kan logge inn med ID-porten eller"
            " Feide. Skal gjesten ikke komme likevel, avslutt rollen i Greg."
        ),
        suggested_fix_en=(
            "The sponsor follows the guest up so that registration is completed in Greg,"
            " and verifies the passport manually if the guest cannot log in with ID-porten"
            " or Feide. If the guest is no longer coming, end the role in Greg."
        ),
        evidence=evidence(view),
        detail=f"greg:{guest['greg_id']}",
    )


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding per Greg guest whose registration or identity verification is still
    missing ``days`` days after the start of a role that has not ended."""
    today = business_date(now)
    days = _days(settings)
    findings: list[Finding] = []
    for guest in sorted(view.greg_persons, key=lambda g: g["greg_id"]):
        if not any(_missing(guest)):
            continue
        start = _overdue_start(guest, today, days)
        if start is None:
            continue
        findings.append(_finding(view, guest, start, days))
    return findings


def example() -> tuple[PersonView, datetime]:
    """Lukas Schneider's guest role began three weeks ago; he never finished registering."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    guest = greg_person(
        "5120",
        "Lukas",
        "Schneider",
        datetime(2026, 10, 14, 13, 5, tzinfo=UTC),
        birth_date=None,
        registration_completed=None,
        identities=[
            {"type": "private_mobile", "verified": None, "verified_at": None, "invalid": False}
        ],
        roles=[
            {
                "role_id": "930",
                "type": "guest-researcher",
                "start_date": date(2026, 11, 1),
                "end_date": date(2027, 1, 31),
                "sponsor_id": "233",
                "org_unit_id": "17",
                "org_unit_active": True,
            }
        ],
        consents=[],
    )
    return PersonView.of("p-lukas", "uio", [(SourceKind.GREG_PERSON, guest)]), now
