"""The one small interface every ticket system client speaks, and its errors.

A client turns these calls into its system's REST API (RT REST2, TOPdesk, ServiceNow's
Table API). Statuses are reduced to three, the ones the hub acts on:

- ``open``: someone should work on it (RT new/open, TOPdesk not closed, ServiceNow
  New/In Progress);
- ``waiting``: parked (RT stalled, TOPdesk on hold, ServiceNow On Hold);
- ``resolved``: done (RT resolved/rejected/deleted, TOPdesk completed or closed,
  ServiceNow Resolved/Closed/Canceled).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from hub.errors import HubError

__all__ = [
    "NewTicket",
    "RemoteTicket",
    "TicketRejectedError",
    "TicketStatus",
    "TicketSystem",
    "TicketSystemError",
    "TicketSystemUnavailableError",
]

TicketStatus = Literal["open", "waiting", "resolved"]


class TicketSystemError(HubError):
    """A ticket system could not do what the hub asked."""


class TicketSystemUnavailableError(TicketSystemError):
    """A 5xx answer, a refused connection or a timeout: worth trying again."""


class TicketRejectedError(TicketSystemError):
    """A 4xx answer: the system refuses this request, and will refuse it again."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RemoteTicket:
    """A ticket as its system reports it."""

    ticket_id: str
    status: TicketStatus
    number: str | None = None  # the number people see, where it is not the id
    raw_status: str = ""


@dataclass(frozen=True)
class NewTicket:
    """What the hub files for a task: where, and the text a person reads."""

    task_id: str
    queue: str
    subject: str
    body: str
    severity: str
    due_date: date | None


class TicketSystem(Protocol):
    """A ticket system client. Every method raises TicketSystemUnavailableError or
    TicketRejectedError on failure."""

    name: str

    async def find(self, task_id: str) -> RemoteTicket | None:
        """The ticket that carries ``task_id``, if there is one."""

    async def create(self, ticket: NewTicket) -> RemoteTicket:
        """File a new ticket."""

    async def get(self, ticket_id: str) -> RemoteTicket:
        """The ticket's current state."""

    async def comment(self, ticket_id: str, text: str) -> None:
        """Add an internal comment (a work note)."""

    async def set_status(self, ticket_id: str, status: TicketStatus, note: str) -> None:
        """Move the ticket to ``status``; ``note`` is the resolution text where the
        system asks for one."""

    async def close(self) -> None:
        """Release connections."""
