"""web.profile_stale: a web profile shows another name, title, unit or phone than HR."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date
from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView, SourceKind
from hub.rules.examples import dfo_employee
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = [
    "RULE_ID",
    "SPEC",
    "Difference",
    "differences",
    "evaluate",
    "evidence",
    "example",
    "next_check",
    "phone_digits",
]

RULE_ID = "web.profile_stale"

Record = dict[str, Any]

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Web profile differs from HR",
    title_nb="Nettprofil avviker fra HR",
    why=(
        "Person pages show name, title, unit and phone from HR by way of IAM. After the"
        " switch to DFØ, old data in IT systems overwrote new data, so pages showed"
        " wrong titles, units and numbers: colleagues, students and the public reach the"
        " wrong place, and the person must chase it centrally. Errors must be fixed at"
        " the source, so the finding says whether IAM let old data win (a stale"
        " overwrite) or the page was changed in the web system."
    ),
    systems=("DFØ", "IAM", "Web"),
    severity=Severity.P3,
    owner_group="web",
    deadline=(
        "Appears once the grace period (default 60 minutes) has passed since the DFØ"
        " record's timestamp, so that a page a few minutes behind HR is not reported."
        " Due the parameter due_days (default 14) after that moment. Resolves when the"
        " page shows HR's values (or is hidden). Owned by IAM when the page's data was"
        " taken before HR's (stale overwrite: a precedence problem), else by the web"
        " editors."
    ),
    default_grace=timedelta(minutes=60),
)

_FIELD_NAMES_NB = {"name": "navn", "title": "tittel", "unit": "enhet", "phone": "telefon"}
_FIELD_NAMES_EN = {"name": "name", "title": "title", "unit": "unit", "phone": "phone"}


@dataclass(frozen=True)
class Difference:
    """One field where the page and HR disagree (``hr`` as HR has it, ``web`` as shown)."""

    field: str
    hr: str
    web: str | None


def _text(value: object) -> str | None:
    """A text with its whitespace collapsed; None when empty."""
    if value is None:
        return None
    collapsed = " ".join(str(value).split())
    return collapsed or None


def _same_text(hr: str, web: str | None) -> bool:
    return web is not None and hr.casefold() == web.casefold()


def phone_digits(value: object) -> str | None:
    """A phone number's digits, without Norway's country code (+47 / 0047)."""
    if value is None:
        return None
    digits = "".join(c for c in str(value) if c.isdigit())
    if digits.startswith("0047") and len(digits) == 12:
        digits = digits[4:]
    elif digits.startswith("47") and len(digits) == 10:
        digits = digits[2:]
    return digits or None


def _hr_name(employee: Record) -> str | None:
    return _text(" ".join(p for p in (employee.get("first_name"), employee.get("last_name")) if p))


def differences(employee: Record, profile: Record) -> list[Difference]:
    """The fields HR has a value for that the page shows otherwise (or not at all)."""
    found: list[Difference] = []
    for field, hr, web in (
        ("name", _hr_name(employee), _text(profile.get("published_name"))),
        ("title", _text(employee.get("title")), _text(profile.get("title"))),
    ):
        if hr is not None and not _same_text(hr, web):
            found.append(Difference(field, hr, web))
    hr_unit = _text(employee.get("org_unit_id"))
    web_unit = _text(profile.get("org_unit_id"))
    if hr_unit is not None and hr_unit != web_unit:
        found.append(Difference("unit", hr_unit, web_unit))
    hr_phones = [
        _text(employee.get(key))
        for key in ("work_phone", "service_phone")
        if phone_digits(employee.get(key))
    ]
    hr_digits = {phone_digits(employee.get(key)) for key in ("work_phone", "service_phone")}
    hr_digits.discard(None)
    web_phone = _text(profile.get("phone"))
    if hr_digits and phone_digits(web_phone) not in hr_digits:
        found.append(Difference("phone", " / ".join(p for p in hr_phones if p), web_phone))
    return found


def _is_stale(employee: Record, profile: Record) -> bool:
    """Whether the page's data was taken before HR's record (a stale overwrite)."""
    taken: datetime | None = profile.get("data_taken_at")
    stamp: datetime = employee["source_timestamp"]
    return taken is not None and taken < stamp


def _shown(profiles: Sequence[Record], settings: RuleSettings) -> list[Record]:
    include_hidden = settings.param(RULE_ID, "include_hidden", False)
    return sorted(
        (p for p in profiles if include_hidden or p.get("visible")),
        key=lambda p: str(p.get("profile_id") or p["source_id"]),
    )


def _employee_evidence(employee: Record) -> list[Evidence]:
    stamp = employee["source_timestamp"]
    return [
        Evidence("dfo_sap", "employee_id", employee["employee_id"], stamp),
        Evidence("dfo_sap", "name", _hr_name(employee), stamp),
        Evidence("dfo_sap", "title", _text(employee.get("title")), stamp),
        Evidence("dfo_sap", "org_unit_id", _text(employee.get("org_unit_id")), stamp),
        Evidence("dfo_sap", "work_phone", _text(employee.get("work_phone")), stamp),
        Evidence("dfo_sap", "service_phone", _text(employee.get("service_phone")), stamp),
    ]


def _profile_evidence(profile: Record, employee: Record | None) -> list[Evidence]:
    system = profile.get("source_system") or "web"
    stamp = profile["source_timestamp"]
    profile_id = profile.get("profile_id") or profile["source_id"]
    taken: datetime | None = profile.get("data_taken_at")
    items = [
        Evidence(
            system, f"profile {profile_id} published_name", profile.get("published_name"), stamp
        ),
        Evidence(system, f"profile {profile_id} title", profile.get("title"), stamp),
        Evidence(system, f"profile {profile_id} org_unit_id", profile.get("org_unit_id"), stamp),
        Evidence(system, f"profile {profile_id} phone", profile.get("phone"), stamp),
        Evidence(system, f"profile {profile_id} visible", str(bool(profile.get("visible"))), stamp),
        Evidence(
            system,
            f"profile {profile_id} data_taken_at",
            taken.isoformat() if taken else None,
            stamp,
        ),
        Evidence(system, f"profile {profile_id} data_source", profile.get("data_source"), stamp),
    ]
    if employee is not None and _is_stale(employee, profile) and taken is not None:
        items.append(
            Evidence(
                "hub",
                f"profile {profile_id} stale overwrite",
                f"data taken {taken.isoformat()}, before HR's record of"
                f" {employee['source_timestamp'].isoformat()}",
                stamp,
            )
        )
    return items


def evidence(view: PersonView) -> Sequence[Evidence]:
    """What DFØ says about name, title, unit and phone, and what each page shows."""
    employee = view.employee
    items = _employee_evidence(employee) if employee is not None else []
    for profile in sorted(view.web_profiles, key=lambda p: str(p["source_id"])):
        items.extend(_profile_evidence(profile, employee))
    if not view.web_profiles:
        items.append(Evidence("web", "profiles", "none"))
    return items


def _ready_at(employee: Record, settings: RuleSettings) -> datetime:
    stamp: datetime = employee["source_timestamp"]
    return stamp + SPEC.grace(settings)


def due_date(employee: Record, settings: RuleSettings) -> date:
    """The parameter due_days (default 14) after the grace period ends."""
    return business_date(_ready_at(employee, settings)) + timedelta(
        days=settings.param(RULE_ID, "due_days", 14)
    )


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """When the grace period after DFØ's timestamp ends, if that is still ahead."""
    employee = view.employee
    if employee is None or not view.web_profiles:
        return None
    ready = _ready_at(employee, settings)
    return ready if ready > now else None


def _describe(diffs: Sequence[Difference], lang: str) -> str:
    names = _FIELD_NAMES_NB if lang == "nb" else _FIELD_NAMES_EN
    if lang == "nb":
        parts = [
            f"{names[d.field]}: HR «{d.hr}», nettsiden «{d.web or 'ingenting'}»" for d in diffs
        ]
    else:
        parts = [f"{names[d.field]}: HR '{d.hr}', the page '{d.web or 'nothing'}'" for d in diffs]
    return "; ".join(parts)


def _finding(
    view: PersonView, employee: Record, profile: Record, diffs: Sequence[Difference], due: date
) -> Finding:
    name = view.display_name or f"ansatt {employee['employee_id']}"
    profile_id = str(profile.get("profile_id") or profile["source_id"])
    fields_nb = ", ".join(_FIELD_NAMES_NB[d.field] for d in diffs)
    fields_en = ", ".join(_FIELD_NAMES_EN[d.field] for d in diffs)
    stale = _is_stale(employee, profile)
    if stale:
        cause_nb = (
            " Sidens data ble hentet før HRs post: eldre data har overskrevet nyere"
            " (stale overwrite). IAM må sørge for at HR-data har forrang."
        )
        cause_en = (
            " The page's data was taken before HR's record: old data overwrote new"
            " (stale overwrite). IAM must make HR's data take precedence."
        )
        fix_nb = (
            "Sjekk i IAM hvilken kilde som har forrang for navn, tittel, enhet og telefon, og"
            " send HRs verdier til nettsiden på nytt. Ikke rett i publiseringsløsningen."
        )
        fix_en = (
            "Check in IAM which source takes precedence for name, title, unit and phone, and"
            " send HR's values to the page again. Do not correct it in the CMS."
        )
    else:
        cause_nb = (
            " Sidens data er ikke eldre enn HRs post, så avviket kommer trolig fra en endring"
            " i publiseringsløsningen."
        )
        cause_en = (
            " The page's data is not older than HR's record, so the difference probably"
            " comes from a change made in the web system."
        )
        fix_nb = (
            "Fjern manuelle overstyringer på siden slik at den viser HRs verdier. Er HR-dataene"
            " feil, må de rettes i DFØ."
        )
        fix_en = (
            "Remove manual overrides on the page so that it shows HR's values. If HR's data"
            " is wrong, correct it in DFØ."
        )
    finding = SPEC.finding(
        view,
        due_date=due,
        title_nb=f"Nettprofilen til {name} avviker fra HR ({fields_nb})",
        title_en=f"Web profile of {name} differs from HR ({fields_en})",
        description_nb=(
            f"Nettsiden {profile_id} for {name} (ansattnummer {employee['employee_id']}) viser"
            f" noe annet enn DFØ: {_describe(diffs, 'nb')}.{cause_nb}"
        ),
        description_en=(
            f"The page {profile_id} for {name} (employee number {employee['employee_id']})"
            f" shows other values than DFØ: {_describe(diffs, 'en')}.{cause_en}"
        ),
        suggested_fix_nb=fix_nb,
        suggested_fix_en=fix_en,
        evidence=_employee_evidence(employee) + _profile_evidence(profile, employee),
        detail=f"profile:{profile_id}",
    )
    return dataclasses.replace(finding, owner_group="iam") if stale else finding


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """One finding per shown page that differs from HR once the grace period has passed
    (or while its task is open: a newer DFØ record does not resolve and reopen it)."""
    employee = view.employee
    if employee is None:
        return []
    waiting = now < _ready_at(employee, settings)
    due = due_date(employee, settings)
    findings: list[Finding] = []
    for profile in _shown(view.web_profiles, settings):
        detail = f"profile:{profile.get('profile_id') or profile['source_id']}"
        if waiting and not SPEC.has_open_task(view, detail):
            continue
        diffs = differences(employee, profile)
        if diffs:
            findings.append(_finding(view, employee, profile, diffs, due))
    return findings


def example() -> tuple[PersonView, datetime]:
    """Ola Hansen became professor; his page still shows the title taken before."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    hr_stamp = now - timedelta(days=2)
    employee = dfo_employee(
        "412345",
        "Ola",
        "Hansen",
        hr_stamp,
        title="Professor",
        org_unit_id="50001234",
        work_phone="+47 22 85 50 50",
    )
    profile = {
        "institution": "uio",
        "source_system": "vortex",
        "source_id": "/personer/adm/olah",
        "source_timestamp": now - timedelta(hours=3),
        "profile_id": "/personer/adm/olah",
        "username": "olah",
        "published_name": "Ola Hansen",
        "title": "Førsteamanuensis",
        "org_unit_id": "50001234",
        "phone": "22855050",
        "visible": True,
        "data_taken_at": hr_stamp - timedelta(days=30),
        "data_source": "iam",
    }
    view = PersonView.of(
        "p-ola", "uio", [(SourceKind.DFO_EMPLOYEE, employee), (SourceKind.WEB_PROFILE, profile)]
    )
    return view, now
