"""A task as a person reads it in a ticket: who is affected, what is wrong in which
system, what to do, by when, and on what evidence. Pure functions of the task.

Tickets name a person by display name and the hub's pseudonymous person key, never by
national ID or passport number: tasks carry masked evidence, and every text made here
goes through :func:`hub.privacy.redact_national_ids` besides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from hub.privacy import redact_national_ids

__all__ = [
    "TicketText",
    "exception_comment",
    "readback_comment",
    "reopened_comment",
    "resolved_comment",
    "resumed_comment",
    "ticket_text",
    "updated_comment",
]

Record = dict[str, Any]

SEVERITY_MEANING = {
    "P1": "blocks the right pay to the right person at the right time",
    "P2": "significant extra work for administrative staff",
    "P3": "frustration, or significant extra work centrally",
}

SYSTEM_NAMES = {
    "dfo_sap": "DFØ SAP HR",
    "dfo_sap_payroll": "DFØ payroll",
    "payroll": "payroll",
    "cerebrum": "IAM (Cerebrum)",
    "felles_iam": "IAM (Felles IAM)",
    "iam": "IAM",
    "greg": "Greg",
    "orgreg": "OrgReg",
    "unit4": "Unit4 ERP",
    "unit4_payroll_postings": "Unit4 payroll postings",
    "web": "the web person pages",
    "vortex": "the web person pages (Vortex)",
    "hub": "the hub",
}

FOOTER = (
    "The hub resolves this ticket itself once the data shows the fix; resolving it by"
    " hand while the data still shows the problem reopens it."
)


@dataclass(frozen=True)
class TicketText:
    """A ticket's subject and body."""

    subject: str
    body: str


def _system(name: str) -> str:
    return SYSTEM_NAMES.get(name, name)


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _evidence_lines(evidence: Sequence[Record]) -> list[str]:
    if not evidence:
        return ["- (none recorded)"]
    return [
        f"- {_system(e['system'])}, {e['field']}: {'(empty)' if e['value'] is None else e['value']}"
        + (f" (as of {_when(e['source_timestamp'])})" if e.get("source_timestamp") else "")
        for e in evidence
    ]


def _systems(evidence: Sequence[Record]) -> str:
    names = list(dict.fromkeys(_system(e["system"]) for e in evidence if e["system"] != "hub"))
    return ", ".join(names) if names else "-"


def _person(task: Record) -> str:
    key = task.get("person_key") or task["subject"]
    name = task.get("display_name")
    return f"{name} (hub person key {key})" if name else f"hub person key {key}"


def _due(task: Record) -> str:
    due: date | None = task.get("due_date")
    if due is None:
        return "no deadline"
    return due.isoformat() + (" (overdue, escalated)" if task.get("escalated") else "")


def _clean(text: str) -> str:
    return redact_national_ids(text)


def ticket_text(task: Record) -> TicketText:
    """The subject and body of the ticket filed for ``task``."""
    subject = f"[{task['severity']}] {task['title_en']}"
    lines = [
        task["description_en"],
        "",
        f"Who:         {_person(task)}",
        f"Systems:     {_systems(task['evidence'])}",
        f"Rule:        {task['rule_id']}",
        f"Severity:    {task['severity']}: {SEVERITY_MEANING.get(task['severity'], '')}",
        f"Due:         {_due(task)}",
        f"What to do:  {task['suggested_fix_en']}",
        "",
        "Evidence (what each system said):",
        *_evidence_lines(task["evidence"]),
        "",
        "På norsk:",
        task["title_nb"],
        task["description_nb"],
        f"Hva må gjøres: {task['suggested_fix_nb']}",
        "",
        f"Hub task {task['task_id']} (revision {task['revision']}, opened"
        f" {_when(task['opened_at'])}, institution {task['institution']}).",
        FOOTER,
    ]
    return TicketText(_clean(subject), _clean("\n".join(lines)))


def _note(head: str, evidence: Sequence[Record], title: str = "Evidence:") -> str:
    return _clean("\n".join([head, "", title, *_evidence_lines(evidence)]))


def _ref(task: Record) -> str:
    return f"task {task['task_id']}, revision {task['revision']}"


def resolved_comment(task: Record) -> str:
    """The comment when the data shows the fix; the ticket is resolved with it."""
    return _note(
        "Resolved by the hub: the data no longer shows the problem"
        f" ({_ref(task)}, {_when(task.get('resolved_at'))}).",
        task["resolution_evidence"],
        "Evidence of the fix:",
    )


def reopened_comment(task: Record) -> str:
    """The comment when a resolved task's finding comes back."""
    return _note(
        f"Reopened by the hub: the problem is back ({_ref(task)}). Due {_due(task)}.",
        task["evidence"],
    )


def updated_comment(task: Record) -> str:
    """The comment when an open task changes: new evidence, or past its due date."""
    head = (
        f"Past its due date ({task['due_date'].isoformat()}) and still open: escalated"
        if task.get("escalated") and task.get("due_date")
        else "The evidence changed; the problem is still there"
    )
    return _note(f"{head} ({_ref(task)}).", task["evidence"])


def exception_comment(task: Record) -> str:
    """The comment when an exception is accepted; the ticket waits with it."""
    exception = task.get("exception") or {}
    expires = exception.get("expires_at")
    lines = [
        f"An exception was accepted for this task ({_ref(task)}): the mismatch is known"
        " and allowed, so the ticket waits.",
        f"Reason:      {exception.get('reason', '-')}",
        f"Accepted by: {exception.get('accepted_by', '-')}"
        f" on {_when(exception.get('accepted_at'))}",
        f"Expires:     {_when(expires) if expires else 'when withdrawn'}",
        "When the exception expires or is withdrawn, the hub looks again and reopens"
        " this ticket if the problem is still there; if the data shows the fix first,"
        " it resolves it.",
    ]
    return _clean("\n".join(lines))


def resumed_comment(task: Record) -> str:
    """The comment when an exception expires or is withdrawn and the problem remains."""
    return _note(
        "The exception has expired or been withdrawn, and the problem is still there"
        f" ({_ref(task)}). Due {_due(task)}.",
        task["evidence"],
    )


def readback_comment(task: Record) -> str:
    """The comment on a ticket a person resolved while the data still shows the problem."""
    return _note(
        "This ticket was resolved, but the data still shows the problem, so the hub"
        f" reopens it ({_ref(task)}). The task stays open until the systems show the"
        " fix; if the mismatch is known and allowed, accept an exception instead"
        " (hub tasks suppress).",
        task["evidence"],
    )
