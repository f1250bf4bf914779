"""identity.disputed: a source record may belong to a person, but their identifiers disagree."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from hub.clock import business_date
from hub.findings import Evidence, Finding, Severity
from hub.person_view import LinkedRecord, PersonView, SourceKind
from hub.rules.identity_collision import is_collision
from hub.rules.settings import RuleSettings
from hub.rules.spec import RuleSpec

__all__ = ["RULE_ID", "SPEC", "evaluate", "evidence", "example", "next_check"]

RULE_ID = "identity.disputed"

SPEC = RuleSpec(
    rule_id=RULE_ID,
    title_en="Disputed identity",
    title_nb="Uavklart identitet",
    why=(
        "Correlation never merges records whose exclusive identifiers disagree (two"
        " national IDs, two employee numbers). A wrong merge would send tasks about the"
        " wrong person; a missed one gives false alarms. Someone must decide which"
        " identifier is wrong and correct it at its source; the records then link (or"
        " stop pointing at each other) by themselves. One finding per person, listing"
        " each disputed record, the candidate persons and the conflicting identifiers,"
        " with identity numbers masked."
    ),
    systems=("DFØ", "IAM", "Greg", "Unit4"),
    severity=Severity.P2,
    owner_group="identity",
    deadline="Due on the person's start date if it is still ahead; otherwise no date.",
)


def _disputes(view: PersonView) -> list[LinkedRecord]:
    """Disputed records that are not identity collisions (those are HR's: identity.collision)."""
    return [r for r in view.disputed if not is_collision(r)]


def evidence(view: PersonView) -> Sequence[Evidence]:
    """Each disputed record with its candidates and conflicts (masked)."""
    items: list[Evidence] = []
    for linked in _disputes(view):
        link = linked.link or {}
        stamp = linked.source_timestamp
        items.append(Evidence(linked.source_topic, "record", linked.ref, stamp))
        for candidate in link.get("candidates", []):
            items.append(
                Evidence(
                    "hub",
                    "candidate person",
                    f"{candidate['person_key']} ({candidate['anchor']})",
                    stamp,
                )
            )
        for conflict in link.get("conflicts", []):
            ours = ", ".join(conflict["ours"]) or "none"
            theirs = ", ".join(conflict["theirs"]) or "none"
            items.append(
                Evidence("hub", f"conflicting {conflict['kind']}", f"{ours} vs {theirs}", stamp)
            )
    return items


def next_check(view: PersonView, now: datetime, settings: RuleSettings) -> datetime | None:
    """Disputes change only when records change: no re-check is needed."""
    return None


def evaluate(view: PersonView, now: datetime, settings: RuleSettings) -> Sequence[Finding]:
    """A finding when any of the person's records is disputed."""
    disputed = _disputes(view)
    if not disputed:
        return []
    today = business_date(now)
    employee = view.employee
    start = employee.get("start_date") if employee else None
    due = start if start is not None and start >= today else None
    sources = ", ".join(sorted({r.source_topic.removeprefix("source.") for r in disputed}))
    name = view.display_name or view.person_key
    return [
        SPEC.finding(
            view,
            due_date=due,
            title_nb=f"Uavklart identitet: {name} ({sources})",
            title_en=f"Disputed identity: {name} ({sources})",
            description_nb=(
                f"{len(disputed)} kildepost(er) peker på samme person som {name}, men har"
                " motstridende identifikatorer (f.eks. to ulike fødselsnumre eller"
                " ansattnumre). Hubben slår dem ikke sammen før noen har avklart hvem som"
                " er hvem."
            ),
            description_en=(
                f"{len(disputed)} source record(s) point at the same person as {name} but"
                " carry contradicting identifiers (two national IDs or employee numbers,"
                " say). The hub will not merge them until someone decides who is who."
            ),
            suggested_fix_nb=(
                "Sammenlign postene i bevisene. Rett den gale identifikatoren i kildesystemet"
                " (DFØ, IAM eller Greg); da kobles postene riktig av seg selv."
            ),
            suggested_fix_en=(
                "Compare the records in the evidence. Correct the wrong identifier in its"
                " source system (DFØ, IAM or Greg); the records then link by themselves."
            ),
            evidence=evidence(view),
        )
    ]


def example() -> tuple[PersonView, datetime]:
    """An IAM person points at employee 7 but carries another national ID."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    iam_person = {
        "institution": "uio",
        "source_id": "9002",
        "iam_person_id": "9002",
        "source_timestamp": now,
    }
    disputed = LinkedRecord(
        "source.iam.person/9002",
        SourceKind.IAM_PERSON,
        iam_person,
        {
            "status": "DISPUTED",
            "anchor": "nin:*********54",
            "shared": ["dfo:7"],
            "candidates": [{"person_key": "p-kari", "anchor": "nin:*********45"}],
            "conflicts": [
                {"kind": "nin", "ours": ["nin:*********54"], "theirs": ["nin:*********45"]}
            ],
        },
    )
    view = PersonView("p-9002", "uio", records={disputed.ref: disputed})
    return view, now
