"""What to do with a task's ticket: a pure decision from the task, what the hub last
delivered to the ticket (the remembered :class:`Synced`), and the ticket's state as its
system reports it.

- An OPEN task without a ticket gets one. A task that is not open gets none: there is
  nothing for a person to do.
- What changed since the last delivery becomes a comment: resolved (with the evidence
  of the fix), reopened, updated or escalated, exception accepted, exception over.
- The ticket's status follows the task: OPEN → open, SUPPRESSED → waiting,
  RESOLVED → resolved. A ticket a person resolved while the task is still OPEN gets a
  comment saying the data still shows the problem, and is reopened. A ticket a person
  parks (waiting) stays parked; a ticket a person closes under an exception stays closed.
- PREVIEW (and anything but OPEN, RESOLVED, SUPPRESSED) never reaches a ticket system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.rules.settings import RuleSettings
from hub.tickets import render
from hub.tickets.system import NewTicket, RemoteTicket, TicketRejectedError, TicketStatus

__all__ = [
    "DELIVERED_STATES",
    "Action",
    "Comment",
    "Create",
    "Route",
    "SetStatus",
    "Synced",
    "desired_status",
    "plan_delivery",
    "route_for",
]

Record = dict[str, Any]
DELIVERED_STATES = ("OPEN", "RESOLVED", "SUPPRESSED")
_STATUS_OF: dict[str, TicketStatus] = {
    "OPEN": "open",
    "SUPPRESSED": "waiting",
    "RESOLVED": "resolved",
}


@dataclass(frozen=True)
class Synced:
    """What the hub last delivered to a ticket: the task's revision and state."""

    revision: int
    state: str


@dataclass(frozen=True)
class Route:
    """Which system and queue a task's ticket goes to."""

    system: str
    queue: str


@dataclass(frozen=True)
class Create:
    ticket: NewTicket


@dataclass(frozen=True)
class Comment:
    text: str


@dataclass(frozen=True)
class SetStatus:
    status: TicketStatus
    note: str


Action = Create | Comment | SetStatus


def desired_status(state: str) -> TicketStatus | None:
    """The ticket status a task state asks for (None: no ticket business)."""
    return _STATUS_OF.get(state)


def route_for(task: Record, settings: RuleSettings) -> Route:
    """The ticket system of the task's institution (``settings`` are that institution's),
    and the queue of the task's owner group.

    The task's own ``queue`` (set from ``queues`` when it opened) wins; without one,
    today's ``queues`` is asked. No queue at all is a rejection naming the setting.
    """
    institution = task["institution"]
    queue = task.get("queue") or settings.queue_for(task["owner_group"])
    if not queue:
        raise TicketRejectedError(
            f"no ticket queue for owner group {task['owner_group']!r} at {institution};"
            f" set institutions.{institution}.queues.{task['owner_group']} (or"
            f" defaults.queues) in the institutions file",
            status=422,
        )
    return Route(system=settings.ticket_system or "servicenow", queue=queue)


def _comment_for(task: Record, previous: str) -> Callable[[Record], str] | None:
    """The comment for the change from ``previous`` state to the task's state."""
    state = task["state"]
    if state == "RESOLVED":
        return render.resolved_comment if previous != "RESOLVED" else None
    if state == "SUPPRESSED":
        return render.exception_comment if previous != "SUPPRESSED" else None
    if previous == "RESOLVED":
        return render.reopened_comment
    if previous == "SUPPRESSED":
        return render.resumed_comment
    return render.updated_comment


def plan_delivery(
    task: Record, synced: Synced | None, remote: RemoteTicket | None, queue: str
) -> list[Action]:
    """The actions that bring the ticket in line with ``task``.

    ``synced`` is None when the hub remembers no delivery; ``remote`` is None when the
    system has no ticket for the task.
    """
    want = desired_status(task["state"])
    if want is None:
        return []
    if remote is None:
        if want != "open":
            return []
        text = render.ticket_text(task)
        return [
            Create(
                NewTicket(
                    task_id=task["task_id"],
                    queue=queue,
                    subject=text.subject,
                    body=text.body,
                    severity=task["severity"],
                    due_date=task.get("due_date"),
                )
            )
        ]
    if synced is None:  # a ticket found, not remembered: it was filed as the task opened
        previous, changed = "OPEN", task["state"] != "OPEN"
    else:
        previous, changed = synced.state, task["revision"] > synced.revision
    comment = _comment_for(task, previous) if changed else None
    if want == "open" and remote.status == "resolved" and previous == "OPEN":
        comment = render.readback_comment  # a person resolved it; the data disagrees
    actions: list[Action] = [] if comment is None else [Comment(comment(task))]
    if want == "resolved" and remote.status != "resolved":
        actions.append(SetStatus("resolved", render.resolved_comment(task)))
    elif want == "waiting" and remote.status == "open":
        actions.append(SetStatus("waiting", ""))
    elif want == "open" and (
        remote.status == "resolved" or (remote.status == "waiting" and previous == "SUPPRESSED")
    ):
        actions.append(SetStatus("open", ""))
    return actions
