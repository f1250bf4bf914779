"""identity.collision: a national ID on two employee numbers, or a guest's passport on another."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.clock import business_date
from hub.findings import Evidence, Finding, Severity
from hub.person_view import LinkedRecord, PersonView, SourceKind
from hub.rules.examples import dfo_employee
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = [
    "RULE_ID",
    "SPEC",
    "evaluate",
    "evidence",
    "example",
    "is_collision",
    "next_check",
]

RULE_ID = "identity.collision"

Record = dict[str, Any]

_NATIONAL_KINDS = frozenset({"nin", "dnr"})
_KIND_NB = {"nin": "fødselsnummer", "dnr": "D-nummer", "passport": "passnummer"}
_KIND_EN = {"nin": "national ID", "dnr": "D-number", "passport": "passport number"}

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Identity collision",
    title_nb="Identitetskollisjon",
    why=(
        "When one national ID sits on two DFØ employee numbers, or a guest's passport"
        " matches a person with another national ID, pay, tax reporting and accounts can"
        " go to the wrong person, or the person is split and cannot log in to sign the"
        " contract. The hub will not merge such records; HR must find out who is who and"
        " correct the identity data in DFØ (or Greg), with IAM following."
    ),
    systems=("DFØ", "Greg", "IAM"),
    severity=Severity.P1,
    owner_group="hr",
    deadline=(
        "Appears at once when correlation disputes the record. Due the parameter due_days"
        " (default 3) after the date of the colliding record, or on the start date (DFØ"
        " start date; a guest's earliest role start) if that comes first and is not"
        " before the record's date. Resolves when the identity data is corrected and the"
        " records link, or stop pointing at each other."
    ),
)


def _kinds(values: Sequence[str]) -> set[str]:
    return {str(v).partition(":")[0] for v in values}


def _conflict_kinds(link: Record) -> set[str]:
    return {str(c.get("kind")) for c in link.get("conflicts") or []}


def is_collision(linked: LinkedRecord) -> bool:
    """Whether a disputed record is an identity collision this rule reports (so that
    ``identity.disputed`` can leave it alone): a DFØ employee disputed over the employee
    number, or a Greg guest disputed over a national ID while sharing a passport."""
    link = linked.link or {}
    if link.get("status") != "DISPUTED":
        return False
    kinds = _conflict_kinds(link)
    if linked.source_topic == SourceKind.DFO_EMPLOYEE:
        return "dfo" in kinds
    if linked.source_topic == SourceKind.GREG_PERSON:
        return bool(kinds & _NATIONAL_KINDS) and "passport" in _kinds(link.get("shared") or [])
    return False


def _collisions(view: PersonView) -> list[LinkedRecord]:
    return [r for r in view.disputed if is_collision(r)]


def _colliding_employees(view: PersonView) -> list[LinkedRecord]:
    """DFØ employee records with distinct employee numbers in this one person, leaving
    out those already reported as disputed; empty unless there are two or more."""
    reported = {r.ref for r in _collisions(view)}
    employees = [
        r
        for _, r in sorted(view.records.items())
        if r.source_topic == SourceKind.DFO_EMPLOYEE and r.ref not in reported
    ]
    numbers = {r.record.get("employee_id") for r in employees}
    return employees if len(numbers) > 1 else []


def _link_evidence(linked: LinkedRecord) -> list[Evidence]:
    link = linked.link or {}
    stamp = linked.source_timestamp
    items = [Evidence(linked.source_topic, "record", linked.ref, stamp)]
    items.extend(Evidence("hub", "shared identifier", s, stamp) for s in link.get("shared") or [])
    for candidate in link.get("candidates") or []:
        items.append(
            Evidence(
                "hub",
                "candidate person",
                f"{candidate['person_key']} ({candidate['anchor']})",
                stamp,
            )
        )
    for conflict in link.get("conflicts") or []:
        ours = ", ".join(conflict["ours"]) or "none"
        theirs = ", ".join(conflict["theirs"]) or "none"
        items.append(
            Evidence("hub", f"conflicting {conflict['kind']}", f"{ours} vs {theirs}", stamp)
        )
    return items


def _employee_evidence(linked: LinkedRecord) -> list[Evidence]:
    record, stamp = linked.record, linked.source_timestamp
    start, end = record.get("start_date"), record.get("end_date")
    return [
        Evidence("dfo_sap", "employee_id", record.get("employee_id"), stamp),
        Evidence("dfo_sap", "start_date", start.isoformat() if start else None, stamp),
        Evidence("dfo_sap", "end_date", end.isoformat() if end else None, stamp),
    ]


def _record_evidence(linked: LinkedRecord) -> list[Evidence]:
    items = _link_evidence(linked)
    if linked.source_topic == SourceKind.DFO_EMPLOYEE:
        items += _employee_evidence(linked)
    elif linked.source_topic == SourceKind.GREG_PERSON:
        stamp = linked.source_timestamp
        items.append(Evidence("greg", "greg_id", linked.record.get("greg_id"), stamp))
        for role in linked.record.get("roles") or []:
            start = role.get("start_date")
            items.append(
                Evidence(
                    "greg",
                    f"role {role.get('role_id')} {role.get('type')} start_date",
                    start.isoformat() if start else None,
                    stamp,
                )
            )
    return items


def evidence(view: PersonView) -> Sequence[Evidence]:
    """Each colliding record: shared identifiers, candidates, conflicts (all masked)."""
    items: list[Evidence] = []
    for linked in _collisions(view):
        items += _record_evidence(linked)
    for linked in _colliding_employees(view):
        items += [Evidence(linked.source_topic, "record", linked.ref, linked.source_timestamp)]
        items += _employee_evidence(linked)
    return items


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """Collisions change only when records change: no re-check is needed."""
    return None


def _start_of(linked: LinkedRecord) -> date | None:
    record = linked.record
    if linked.source_topic == SourceKind.GREG_PERSON:
        starts = [r["start_date"] for r in record.get("roles") or [] if r.get("start_date")]
        return min(starts, default=None)
    start: date | None = record.get("start_date")
    return start


def due_date(records: Sequence[LinkedRecord], settings: RuleSettings) -> date:
    """due_days after the newest record's date, or the earliest start date on or after
    that date if it comes sooner."""
    seen = max(business_date(r.source_timestamp) for r in records)
    due = seen + timedelta(days=settings.param(RULE_ID, "due_days", 3))
    starts = [s for s in (_start_of(r) for r in records) if s is not None and s >= seen]
    return min([due, *starts])


def _name_of(record: Record, fallback: str) -> str:
    name = " ".join(p for p in (record.get("first_name"), record.get("last_name")) if p)
    return name or fallback


def _shared_nb_en(link: Record) -> tuple[str, str]:
    kinds = sorted(_kinds(link.get("shared") or []) & set(_KIND_NB))
    nb = " og ".join(_KIND_NB[k] for k in kinds) or "identitetsnummer"
    en = " and ".join(_KIND_EN[k] for k in kinds) or "identity number"
    return nb, en


def _employee_numbers(values: Sequence[str]) -> list[str]:
    return [str(v).partition(":")[2] for v in values if str(v).startswith("dfo:")]


def _dfo_finding(view: PersonView, linked: LinkedRecord, settings: RuleSettings) -> Finding:
    link = linked.link or {}
    number = str(linked.record.get("employee_id"))
    name = _name_of(linked.record, view.display_name or f"ansatt {number}")
    others = sorted(
        {
            n
            for c in link.get("conflicts") or []
            if c.get("kind") == "dfo"
            for n in _employee_numbers(c["theirs"])
        }
    )
    other_nb = " og ".join(others) or "et annet ansattnummer"
    other_en = " and ".join(others) or "another employee number"
    shared_nb, shared_en = _shared_nb_en(link)
    return SPEC.finding(
        view,
        due_date=due_date([linked], settings),
        title_nb=f"Samme {shared_nb} på to ansattnumre: {name} ({number} og {other_nb})",
        title_en=f"One {shared_en} on two employee numbers: {name} ({number} and {other_en})",
        description_nb=(
            f"DFØ-ansatt {number} ({name}) har samme {shared_nb} som ansattnummer {other_nb}."
            " Én person skal ha ett ansattnummer. Hubben slår ikke postene sammen; lønn,"
            " innrapportering og tilganger kan havne på feil person til dette er avklart."
        ),
        description_en=(
            f"DFØ employee {number} ({name}) has the same {shared_en} as employee number"
            f" {other_en}. One person should have one employee number. The hub does not merge"
            " the records; pay, reporting and access may go to the wrong person until this"
            " is settled."
        ),
        suggested_fix_nb=(
            "Finn ut om dette er samme person. Er det det, avslutt det overflødige"
            " ansattnummeret i DFØ; er det ikke, rett identitetsnummeret som er feil i DFØ."
        ),
        suggested_fix_en=(
            "Find out whether this is the same person. If so, end the superfluous employee"
            " number in DFØ; if not, correct the wrong identity number in DFØ."
        ),
        evidence=_record_evidence(linked),
        detail=f"employee:{number}",
    )


def _guest_finding(view: PersonView, linked: LinkedRecord, settings: RuleSettings) -> Finding:
    link = linked.link or {}
    greg_id = str(linked.record.get("greg_id") or linked.record["source_id"])
    name = _name_of(linked.record, view.display_name or f"gjest {greg_id}")
    kinds = sorted(_conflict_kinds(link) & _NATIONAL_KINDS)
    kind_nb = " og ".join(_KIND_NB[k] for k in kinds)
    kind_en = " and ".join(_KIND_EN[k] for k in kinds)
    return SPEC.finding(
        view,
        due_date=due_date([linked], settings),
        title_nb=f"Gjestens pass tilhører en person med annet {kind_nb}: {name} (Greg {greg_id})",
        title_en=(
            f"Guest's passport belongs to a person with another {kind_en}: {name} (Greg {greg_id})"
        ),
        description_nb=(
            f"Gjesten {name} (Greg-id {greg_id}) har et passnummer som en annen person allerede"
            f" har, men et annet {kind_nb}. Enten er passnummeret eller {kind_nb} feil, eller"
            " så er det samme person registrert med to identiteter. Hubben slår dem ikke sammen."
        ),
        description_en=(
            f"The guest {name} (Greg id {greg_id}) has a passport number that another person"
            f" already has, but another {kind_en}. Either the passport or the {kind_en} is"
            " wrong, or one person is registered with two identities. The hub does not merge"
            " them."
        ),
        suggested_fix_nb=(
            "Sammenlign identitetsdokumentene med verten (sponsor) og HR. Rett passnummeret"
            f" eller {kind_nb} i Greg eller DFØ der det er feil."
        ),
        suggested_fix_en=(
            "Compare the identity documents with the sponsor and HR. Correct the passport"
            f" number or {kind_en} in Greg or DFØ, wherever it is wrong."
        ),
        evidence=_record_evidence(linked),
        detail=f"guest:{greg_id}",
    )


def _two_employees_finding(
    view: PersonView, employees: Sequence[LinkedRecord], settings: RuleSettings
) -> Finding:
    numbers = sorted({str(r.record.get("employee_id")) for r in employees})
    name = view.display_name or view.person_key
    listed = ", ".join(numbers)
    items: list[Evidence] = []
    for linked in employees:
        items += [Evidence(linked.source_topic, "record", linked.ref, linked.source_timestamp)]
        items += _employee_evidence(linked)
    return SPEC.finding(
        view,
        due_date=due_date(employees, settings),
        title_nb=f"{name} har flere ansattnumre i DFØ ({listed})",
        title_en=f"{name} has several employee numbers in DFØ ({listed})",
        description_nb=(
            f"{name} er knyttet til ansattnumrene {listed} i DFØ. Én person skal ha ett"
            " ansattnummer; ellers kan lønn og innrapportering bli delt eller doblet."
        ),
        description_en=(
            f"{name} is linked to the employee numbers {listed} in DFØ. One person should"
            " have one employee number; otherwise pay and reporting may be split or doubled."
        ),
        suggested_fix_nb="Avslutt det overflødige ansattnummeret i DFØ, eller rett identiteten.",
        suggested_fix_en="End the superfluous employee number in DFØ, or correct the identity.",
        evidence=items,
        detail="employees:" + "+".join(numbers),
    )


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """One finding per colliding record, and one when the person holds several employee
    numbers."""
    findings: list[Finding] = []
    for linked in _collisions(view):
        if linked.source_topic == SourceKind.DFO_EMPLOYEE:
            findings.append(_dfo_finding(view, linked, settings))
        else:
            findings.append(_guest_finding(view, linked, settings))
    employees = _colliding_employees(view)
    if employees:
        findings.append(_two_employees_finding(view, employees, settings))
    return findings


def example() -> tuple[PersonView, datetime]:
    """DFØ employee 412399 carries the national ID of employee 398765."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    employee = dfo_employee(
        "412399",
        "Ingrid",
        "Solberg",
        now - timedelta(hours=1),
        start_date=date(2026, 12, 1),
        end_date=None,
    )
    linked = LinkedRecord(
        "source.dfo.employee/412399",
        SourceKind.DFO_EMPLOYEE,
        employee,
        {
            "status": "DISPUTED",
            "anchor": "dfo:412399",
            "shared": ["nin:*********45"],
            "candidates": [{"person_key": "p-ingrid-old", "anchor": "nin:*********45"}],
            "conflicts": [{"kind": "dfo", "ours": ["dfo:412399"], "theirs": ["dfo:398765"]}],
        },
    )
    return PersonView("p-412399", "uio", records={linked.ref: linked}), now
