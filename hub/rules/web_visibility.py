"""web.visibility_conflict: a page is shown or hidden against reservation, consent or end date."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date, start_of_day
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.employment import active_on
from hub.rules.examples import dfo_employee
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = [
    "RULE_ID",
    "SPEC",
    "active_elsewhere",
    "consent_records",
    "evaluate",
    "evidence",
    "example",
    "next_check",
]

RULE_ID = "web.visibility_conflict"

Record = dict[str, Any]

# Affiliations IAM copies from DFØ: after the employment ends they may linger until
# the next import, so they do not count as "another" affiliation.
_DFO_SOURCES = frozenset({"dfo_sap", "dfo", "sap", "dfo-sap", "sapuio"})

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Web profile visibility conflict",
    title_nb="Feil synlighet for nettprofil",
    why=(
        "Who is shown on the web was not set up right after the switch to DFØ. A person"
        " reserved from publication in DFØ (protected address, threats, personal reasons)"
        " or one who has left and has no other role is exposed when the page stays"
        " public: a privacy breach the institution answers for. Conversely, a person who"
        " has consented to publication but is hidden cannot be found by colleagues and"
        " students. One severity covers the three cases: P2, because a reserved person or"
        " a leaver shown in public is a privacy exposure."
    ),
    systems=("DFØ", "Greg", "IAM", "Web"),
    severity=Severity.P2,
    owner_group="web",
    deadline=(
        "Three cases, one finding each per page. Reserved in DFØ but shown: appears when"
        " the parameter sync_minutes (default 60) has passed since DFØ's record; due that"
        " day, or on the page record's date if later. Publish consent (Greg or IAM) but"
        " hidden while the person has an active employment or role: appears sync_minutes"
        " after the earliest consenting record, due consent_due_days (default 7) later."
        " Employment ended with no other active affiliation or role and no consent, yet"
        " shown: appears when the grace period (default 1 day) after the end date has"
        " passed, due that day. Each resolves when the page's visibility agrees."
    ),
    default_grace=timedelta(days=1),
)


def _sync(settings: RuleSettings) -> timedelta:
    return timedelta(minutes=settings.param(RULE_ID, "sync_minutes", 60))


def consent_records(view: PersonView) -> list[Record]:
    """The Greg and IAM person records that hold an explicit consent to publish."""
    found: list[Record] = []
    for greg in view.greg_persons:
        if any(c.get("type") == "publish" and c.get("choice") for c in greg.get("consents") or []):
            found.append(greg)
    found.extend(p for p in view.iam_persons if p.get("public_visibility_consent") is True)
    return found


def _covers(start: date | None, end: date | None, day: date) -> bool:
    return (start is None or start <= day) and (end is None or day <= end)


def _is_other(affiliation: Record) -> bool:
    """Whether an IAM affiliation comes from something else than the DFØ employment: a
    named source other than DFØ, or (source unknown) any affiliation but ANSATT."""
    source = (affiliation.get("source_system") or "").strip().casefold()
    if source:
        return source not in _DFO_SOURCES
    return (affiliation.get("affiliation") or "").strip().upper() not in {"", "ANSATT"}


def _other_affiliations(view: PersonView) -> list[Record]:
    """IAM affiliations (on the IAM person or an ACTIVE account) that do not come from
    DFØ (student, guest, ...)."""
    found: list[Record] = []
    active = [a for a in view.accounts.values() if a.get("status") == "ACTIVE"]
    for record in [*view.iam_persons, *active]:
        found.extend(a for a in record.get("affiliations") or [] if _is_other(a))
    return found


def active_elsewhere(view: PersonView, day: date) -> bool:
    """Whether the person has an active affiliation or role besides the DFØ employment:
    an active additional position, an active Greg role, or an IAM affiliation from a
    source other than DFØ."""
    employee = view.employee or {}
    for extra in employee.get("additional_positions") or []:
        if _covers(extra.get("start_date"), extra.get("end_date"), day):
            return True
    for greg in view.greg_persons:
        for role in greg.get("roles") or []:
            if _covers(role.get("start_date"), role.get("end_date"), day):
                return True
    return bool(_other_affiliations(view))


def _profiles(view: PersonView) -> list[Record]:
    return sorted(view.web_profiles, key=lambda p: str(p.get("profile_id") or p["source_id"]))


def _profile_id(profile: Record) -> str:
    return str(profile.get("profile_id") or profile["source_id"])


def _reserved_at(view: PersonView, settings: RuleSettings) -> datetime | None:
    """When a reservation in DFØ makes a shown page a conflict (after the sync window)."""
    employee = view.employee
    if employee is None or not employee.get("reserved_from_publication"):
        return None
    stamp: datetime = employee["source_timestamp"]
    return stamp + _sync(settings)


def _consent_at(view: PersonView, settings: RuleSettings) -> datetime | None:
    """When a consent makes a hidden page a conflict (after the sync window)."""
    records = consent_records(view)
    if not records:
        return None
    earliest: datetime = min(r["source_timestamp"] for r in records)
    return earliest + _sync(settings)


def _left_at(view: PersonView, settings: RuleSettings) -> datetime | None:
    """When an ended employment makes a shown page a conflict (after the grace)."""
    employee = view.employee
    end: date | None = employee.get("end_date") if employee else None
    if end is None:
        return None
    return start_of_day(end + timedelta(days=1)) + SPEC.grace(settings)


def _active(view: PersonView, day: date) -> bool:
    employee = view.employee
    return (employee is not None and active_on(employee, day)) or active_elsewhere(view, day)


def _moments(view: PersonView, settings: RuleSettings) -> Iterable[datetime]:
    """Every moment a date or a window passing may change the answer."""
    if not view.web_profiles:
        return
    for moment in (
        _reserved_at(view, settings),
        _consent_at(view, settings),
        _left_at(view, settings),
    ):
        if moment is not None:
            yield moment
    employee = view.employee or {}
    spans = [(employee.get("start_date"), employee.get("end_date"))]
    spans += [
        (p.get("start_date"), p.get("end_date")) for p in employee.get("additional_positions") or []
    ]
    for greg in view.greg_persons:
        spans += [(r.get("start_date"), r.get("end_date")) for r in greg.get("roles") or []]
    for start, end in spans:
        if start is not None:
            yield start_of_day(start)
        if end is not None:
            yield start_of_day(end + timedelta(days=1))


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """The next sync window or grace end, or start or end of an employment, position or
    role, after ``now``."""
    return min((m for m in _moments(view, settings) if m > now), default=None)


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def evidence(view: PersonView) -> Sequence[Evidence]:
    """DFØ's reservation and end date, consents, other roles and each page's visibility."""
    items: list[Evidence] = []
    employee = view.employee
    if employee is not None:
        stamp = employee["source_timestamp"]
        items += [
            Evidence("dfo_sap", "employee_id", employee["employee_id"], stamp),
            Evidence(
                "dfo_sap",
                "reserved_from_publication",
                str(bool(employee.get("reserved_from_publication"))),
                stamp,
            ),
            Evidence("dfo_sap", "start_date", _iso(employee.get("start_date")), stamp),
            Evidence("dfo_sap", "end_date", _iso(employee.get("end_date")), stamp),
        ]
    for greg in view.greg_persons:
        stamp = greg["source_timestamp"]
        for consent in greg.get("consents") or []:
            items.append(
                Evidence(
                    "greg", f"consent {consent.get('type')}", str(consent.get("choice")), stamp
                )
            )
        for role in greg.get("roles") or []:
            items.append(
                Evidence(
                    "greg",
                    f"role {role.get('role_id')} {role.get('type')}",
                    f"{_iso(role.get('start_date'))} to {_iso(role.get('end_date')) or 'open'}",
                    stamp,
                )
            )
    for person in view.iam_persons:
        system = person.get("source_system") or "iam"
        stamp = person["source_timestamp"]
        items.append(
            Evidence(
                system,
                "public_visibility_consent",
                str(person.get("public_visibility_consent")),
                stamp,
            )
        )
        if person.get("reserved_from_publication") is not None:
            items.append(
                Evidence(
                    system,
                    "reserved_from_publication",
                    str(person["reserved_from_publication"]),
                    stamp,
                )
            )
        for affiliation in person.get("affiliations") or []:
            items.append(
                Evidence(
                    system,
                    "affiliation",
                    f"{affiliation.get('affiliation')}/{affiliation.get('status')}"
                    f" from {affiliation.get('source_system')}",
                    stamp,
                )
            )
    for profile in _profiles(view):
        items.append(
            Evidence(
                profile.get("source_system") or "web",
                f"profile {_profile_id(profile)} visible",
                str(bool(profile.get("visible"))),
                profile["source_timestamp"],
            )
        )
    return items


def _name(view: PersonView) -> str:
    employee = view.employee
    if view.display_name:
        return view.display_name
    return f"ansatt {employee['employee_id']}" if employee else view.person_key


def _reserved_due(profile: Record, moment: datetime) -> date:
    """The later of the day the sync window after DFØ's record ends and the page's date."""
    return max(business_date(moment), business_date(profile["source_timestamp"]))


def _reserved_finding(
    view: PersonView, profile: Record, moment: datetime, items: Sequence[Evidence]
) -> Finding:
    name, page = _name(view), _profile_id(profile)
    return SPEC.finding(
        view,
        due_date=_reserved_due(profile, moment),
        title_nb=f"{name} er reservert mot publisering i DFØ, men nettsiden {page} vises",
        title_en=f"{name} is reserved from publication in DFØ, but the page {page} is shown",
        description_nb=(
            f"DFØ sier at {name} har reservert seg mot publisering (reservasjonPublisering),"
            f" men nettsiden {page} er offentlig. Personen kan ha tungtveiende grunner til å"
            " ikke vises, så siden må skjules straks."
        ),
        description_en=(
            f"DFØ says that {name} is reserved from publication (reservasjonPublisering),"
            f" but the page {page} is public. The person may have serious reasons not to be"
            " shown, so the page must be hidden at once."
        ),
        suggested_fix_nb=(
            "Skjul siden nå. Sjekk deretter at IAM leser reservasjonen fra DFØ og sender den"
            " videre, slik at siden ikke blir synlig igjen."
        ),
        suggested_fix_en=(
            "Hide the page now. Then check that IAM reads the reservation from DFØ and passes"
            " it on, so that the page does not become visible again."
        ),
        evidence=items,
        detail=f"reserved:{page}",
    )


def _consent_finding(
    view: PersonView, profile: Record, due: date, items: Sequence[Evidence]
) -> Finding:
    name, page = _name(view), _profile_id(profile)
    return SPEC.finding(
        view,
        due_date=due,
        title_nb=f"{name} har samtykket til publisering, men nettsiden {page} er skjult",
        title_en=f"{name} consented to publication, but the page {page} is hidden",
        description_nb=(
            f"{name} har et aktivt forhold til institusjonen og har uttrykkelig samtykket til"
            f" å bli vist (Greg eller IAM), men nettsiden {page} er skjult. Kolleger og"
            " studenter finner ikke personen."
        ),
        description_en=(
            f"{name} has an active relation to the institution and explicitly consented to"
            f" be shown (Greg or IAM), but the page {page} is hidden. Colleagues and students"
            " cannot find them."
        ),
        suggested_fix_nb=(
            "Sjekk at samtykket er registrert riktig og at IAM sender det til nettsiden; gjør"
            " deretter siden synlig."
        ),
        suggested_fix_en=(
            "Check that the consent is registered correctly and that IAM passes it to the web"
            " system; then make the page visible."
        ),
        evidence=items,
        detail=f"consent:{page}",
    )


def _left_finding(
    view: PersonView, profile: Record, end: date, moment: datetime, items: Sequence[Evidence]
) -> Finding:
    name, page = _name(view), _profile_id(profile)
    return SPEC.finding(
        view,
        due_date=business_date(moment),
        title_nb=f"{name} sluttet {end.isoformat()}, men nettsiden {page} vises fortsatt",
        title_en=f"{name} left on {end.isoformat()}, but the page {page} is still shown",
        description_nb=(
            f"Ansettelsen til {name} endte {end.isoformat()} ifølge DFØ, og personen har ingen"
            f" annen aktiv tilknytning eller rolle, men nettsiden {page} er fortsatt offentlig."
        ),
        description_en=(
            f"The employment of {name} ended on {end.isoformat()} according to DFØ, and they"
            f" have no other active affiliation or role, but the page {page} is still public."
        ),
        suggested_fix_nb=(
            "Skjul siden. Sjekk at IAM har avsluttet tilknytningen fra DFØ, slik at siden ikke"
            " publiseres på nytt."
        ),
        suggested_fix_en=(
            "Hide the page. Check that IAM has ended the affiliation from DFØ, so that the page"
            " is not published again."
        ),
        evidence=items,
        detail=f"left:{page}",
    )


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """Per page: reserved but shown, consent but hidden, or left but shown."""
    profiles = _profiles(view)
    if not profiles:
        return []
    today = business_date(now)
    consented = bool(consent_records(view))
    reserved_at = _reserved_at(view, settings)
    consent_at = _consent_at(view, settings)
    left_at = _left_at(view, settings)
    employee = view.employee
    items = evidence(view)
    findings: list[Finding] = []

    def passed(moment: datetime | None, detail: str) -> bool:
        """Whether the window before ``moment`` has passed, or the task is already open
        (a newer record restarting the window then does not resolve and reopen it)."""
        return moment is not None and (now >= moment or SPEC.has_open_task(view, detail))

    for profile in profiles:
        visible = bool(profile.get("visible"))
        page = _profile_id(profile)
        if visible and not consented and reserved_at and passed(reserved_at, f"reserved:{page}"):
            findings.append(_reserved_finding(view, profile, reserved_at, items))
        if (
            not visible
            and consent_at
            and passed(consent_at, f"consent:{page}")
            and _active(view, today)
        ):
            consent_due = business_date(consent_at) + timedelta(
                days=settings.param(RULE_ID, "consent_due_days", 7)
            )
            findings.append(_consent_finding(view, profile, consent_due, items))
        if (
            visible
            and reserved_at is None  # a reserved person's page is the reservation case
            and not consented
            and employee is not None
            and left_at is not None
            and now >= left_at
            and not active_elsewhere(view, today)
        ):
            findings.append(_left_finding(view, profile, employee["end_date"], left_at, items))
    return findings


def example() -> tuple[PersonView, datetime]:
    """Nora Berg is reserved from publication in DFØ, but her page is public."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    employee = dfo_employee(
        "398765",
        "Nora",
        "Berg",
        now - timedelta(days=1),
        start_date=date(2019, 1, 1),
        end_date=None,
        reserved_from_publication=True,
    )
    profile = {
        "institution": "uio",
        "source_system": "vortex",
        "source_id": "/personer/adm/norab",
        "source_timestamp": now - timedelta(hours=2),
        "profile_id": "/personer/adm/norab",
        "username": "norab",
        "published_name": "Nora Berg",
        "visible": True,
    }
    view = PersonView.of(
        "p-nora", "uio", [(SourceKind.DFO_EMPLOYEE, employee), (SourceKind.WEB_PROFILE, profile)]
    )
    return view, now
