"""The task lifecycle, as a pure function of a person's tasks and the rules' findings.

- A new finding opens a task; its id comes from (institution, rule, subject), so a
  replay or a crash converges on the same task instead of a second one.
- The same finding again changes nothing, unless its evidence changed (then the
  revision grows).
- When a rule no longer finds the mismatch, the task resolves, recording the
  evidence that showed the fix. If the finding comes back, the same task reopens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from hub.clock import business_date, start_of_day
from hub.findings import Evidence, Finding
from hub.person_view import PersonView

__all__ = [
    "Transition",
    "active_exception",
    "adopt_tasks",
    "follow_up",
    "follow_up_moments",
    "preview_of",
    "reconcile",
    "task_id_for",
]

Record = dict[str, Any]
TransitionKind = Literal["opened", "updated", "resolved", "reopened", "suppressed", "escalated"]


def task_id_for(institution: str, rule_id: str, subject: str) -> str:
    """The task's id: the same institution, rule and subject always give the same id."""
    digest = hashlib.sha256(f"{institution}|{rule_id}|{subject}".encode()).hexdigest()
    return f"task-{digest[:24]}"


@dataclass(frozen=True)
class Transition:
    """One change of one task; ``task`` is the task's new state (a CorrectionTask record)."""

    kind: TransitionKind
    task: Record


def _evidence_signature(evidence: Sequence[Record]) -> tuple[tuple[Any, ...], ...]:
    """Evidence as compared for changes: what systems say, not when they said it."""
    return tuple((e["system"], e["field"], e["value"]) for e in evidence)


def _content(finding: Finding) -> Record:
    return {
        "severity": finding.severity.value,
        "owner_group": finding.owner_group,
        "display_name": finding.display_name,
        "title_nb": finding.title_nb,
        "title_en": finding.title_en,
        "description_nb": finding.description_nb,
        "description_en": finding.description_en,
        "suggested_fix_nb": finding.suggested_fix_nb,
        "suggested_fix_en": finding.suggested_fix_en,
        "evidence": [e.as_record() for e in finding.evidence],
        "due_date": finding.due_date,
    }


def _changed(task: Record, content: Record) -> bool:
    for key, value in content.items():
        if key == "evidence":
            if _evidence_signature(task["evidence"]) != _evidence_signature(value):
                return True
        elif task.get(key) != value:
            return True
    return False


def reconcile(
    *,
    institution: str,
    person_key: str,
    tasks: Mapping[str, Record],
    findings: Sequence[Finding],
    evaluated_rules: Mapping[str, Sequence[Evidence]],
    now: datetime,
    queue_for: Callable[[str], str | None] = lambda _owner: None,
) -> list[Transition]:
    """The transitions that bring ``tasks`` in line with ``findings``.

    ``evaluated_rules`` maps each rule that was evaluated to the evidence it saw;
    open tasks of those rules without a finding resolve with that evidence.
    """
    transitions: list[Transition] = []
    found: set[str] = set()
    # A task that came with a merge keeps its id; it is found by rule and subject.
    by_subject = {(t["rule_id"], t["subject"]): t for _, t in sorted(tasks.items())}
    for finding in findings:
        current = tasks.get(task_id_for(institution, finding.rule_id, finding.subject))
        if current is None:
            current = by_subject.get((finding.rule_id, finding.subject))
        task_id = (
            current["task_id"]
            if current is not None
            else task_id_for(institution, finding.rule_id, finding.subject)
        )
        found.add(task_id)
        content = _content(finding)
        if current is None:
            task = {
                "task_id": task_id,
                "rule_id": finding.rule_id,
                "state": "OPEN",
                "queue": queue_for(finding.owner_group),
                "institution": institution,
                "subject": finding.subject,
                "person_key": person_key,
                "resolution_evidence": [],
                "opened_at": now,
                "updated_at": now,
                "resolved_at": None,
                "revision": 1,
                "escalated": False,
                "exception": None,
                **content,
            }
            transitions.append(Transition("opened", task))
        elif current["state"] == "RESOLVED":
            task = {
                **current,
                **content,
                "state": "OPEN",
                "escalated": False,
                "resolved_at": None,
                "resolution_evidence": [],
                "updated_at": now,
                "revision": current["revision"] + 1,
            }
            transitions.append(Transition("reopened", task))
        elif _changed(current, content):
            task = {**current, **content, "updated_at": now, "revision": current["revision"] + 1}
            transitions.append(Transition("updated", task))
    for task_id, current in sorted(tasks.items()):
        if (
            task_id not in found
            and current["state"] in ("OPEN", "SUPPRESSED")
            and current["rule_id"] in evaluated_rules
        ):
            seen = evaluated_rules[current["rule_id"]]
            task = {
                **current,
                "state": "RESOLVED",
                "resolved_at": now,
                "updated_at": now,
                "resolution_evidence": [e.as_record() for e in seen],
                "revision": current["revision"] + 1,
                "exception": None,
                "escalated": False,
            }
            transitions.append(Transition("resolved", task))
    return transitions


def active_exception(exception: Record | None, now: datetime) -> bool:
    """Whether an accepted exception still holds at ``now``."""
    return exception is not None and (
        exception.get("expires_at") is None or exception["expires_at"] > now
    )


def follow_up(
    tasks: Mapping[str, Record], exceptions: Mapping[str, Record], now: datetime
) -> list[Transition]:
    """Exceptions and deadlines, after the findings have had their say.

    - An open task under an accepted, unexpired exception is SUPPRESSED (the exception
      goes with it); when the exception expires or is withdrawn, it is reopened.
    - An open task past its due date is escalated, once.
    """
    transitions: list[Transition] = []
    today = business_date(now)
    for task_id, task in sorted(tasks.items()):
        exception = exceptions.get(task_id)
        held = active_exception(exception, now)
        if task["state"] == "OPEN" and held:
            transitions.append(
                Transition("suppressed", _bump(task, now, state="SUPPRESSED", exception=exception))
            )
        elif task["state"] == "SUPPRESSED" and not held:
            transitions.append(
                Transition("reopened", _bump(task, now, state="OPEN", exception=None))
            )
        elif (
            task["state"] == "OPEN"
            and not task.get("escalated")
            and task.get("due_date") is not None
            and task["due_date"] < today
        ):
            transitions.append(Transition("escalated", _bump(task, now, escalated=True)))
    return transitions


def follow_up_moments(
    tasks: Mapping[str, Record], exceptions: Mapping[str, Record], now: datetime
) -> list[datetime]:
    """When ``follow_up`` may next have something to say: the day after a due date,
    an exception's expiry."""
    moments = [
        start_of_day(t["due_date"] + timedelta(days=1))
        for t in tasks.values()
        if t["state"] == "OPEN" and not t.get("escalated") and t.get("due_date") is not None
    ]
    moments += [e["expires_at"] for e in exceptions.values() if e.get("expires_at") is not None]
    return [m for m in moments if m > now]


def _bump(task: Record, now: datetime, **changes: Any) -> Record:
    return {**task, **changes, "updated_at": now, "revision": task["revision"] + 1}


def adopt_tasks(
    view: PersonView, adopted: Sequence[Record], now: datetime
) -> tuple[PersonView, list[Transition]]:
    """Take over the open tasks of a person merged into ``view``'s person.

    Each task keeps its id and moves to this person (its subject follows). Where this
    person already has a task for the same rule and subject, the adopted one resolves
    as a duplicate, naming the task that continues.
    """
    tasks = dict(view.tasks)
    transitions: list[Transition] = []
    for task in adopted:
        old_key = task["person_key"]
        subject = task["subject"].replace(old_key, view.person_key) if old_key else task["subject"]
        existing = next(
            (
                t
                for t in tasks.values()
                if t["rule_id"] == task["rule_id"] and t["subject"] == subject
            ),
            None,
        )
        if existing is not None and existing["task_id"] != task["task_id"]:
            note = Evidence("hub", "merged into task", existing["task_id"], now)
            resolved = {
                **task,
                "state": "RESOLVED",
                "resolved_at": now,
                "updated_at": now,
                "resolution_evidence": [note.as_record()],
                "revision": task["revision"] + 1,
            }
            transitions.append(Transition("resolved", resolved))
            continue
        moved = {
            **task,
            "subject": subject,
            "person_key": view.person_key,
            "updated_at": now,
            "revision": task["revision"] + 1,
        }
        tasks[moved["task_id"]] = moved
        transitions.append(Transition("updated", moved))
    return replace(view, tasks=tasks), transitions


def preview_of(
    finding: Finding,
    institution: str,
    person_key: str,
    now: datetime,
    queue_for: Callable[[str], str | None],
) -> Record:
    """The task a finding of a rule in preview would open (state PREVIEW): it goes to
    ``hub.rule-preview`` so its effect can be seen before the rule goes live."""
    return {
        "task_id": task_id_for(institution, finding.rule_id, finding.subject),
        "rule_id": finding.rule_id,
        "state": "PREVIEW",
        "queue": queue_for(finding.owner_group),
        "institution": institution,
        "subject": finding.subject,
        "person_key": person_key,
        "resolution_evidence": [],
        "opened_at": now,
        "updated_at": now,
        "resolved_at": None,
        "revision": 0,
        "escalated": False,
        "exception": None,
        **_content(finding),
    }
