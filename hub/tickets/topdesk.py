"""TOPdesk incidents through its REST API (``/tas/api/``), as UiT may run it.

- create: ``POST /incidents`` with ``caller.dynamicName``, ``briefDescription`` (at
  most 80 characters), ``request``, ``externalNumber`` (the task id) and
  ``operatorGroup`` (the queue, by name) → ``201`` with the incident;
- find: ``GET /incidents?query=externalNumber=="task-…"`` (FIQL; ``204`` when none);
- get: ``GET /incidents/id/{id}`` → ``closed``, ``completed``, ``onHold``;
- comment: ``PATCH /incidents/id/{id}`` with ``action`` (invisible for the caller),
  which adds an entry to the progress trail;
- status: ``PATCH /incidents/id/{id}`` with ``completed``/``closed`` (resolve),
  ``onHold`` (wait), or all three false (reopen).

Authentication is HTTP Basic with an operator's login name and application password.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from hub.tickets.http import JsonHttp
from hub.tickets.system import NewTicket, RemoteTicket, TicketStatus, TicketSystemError

__all__ = ["TopdeskTickets", "topdesk_status"]

API = "/tas/api"
BRIEF_MAX = 80
_SET: dict[str, dict[str, Any]] = {
    "open": {"closed": False, "completed": False, "onHold": False},
    "waiting": {"onHold": True},
    "resolved": {"completed": True, "closed": True},
}


def topdesk_status(incident: dict[str, Any]) -> TicketStatus:
    """The hub's reading of an incident: completed or closed is resolved, on hold waits."""
    if incident.get("closed") or incident.get("completed"):
        return "resolved"
    return "waiting" if incident.get("onHold") else "open"


def _remote(incident: Any) -> RemoteTicket:
    if not isinstance(incident, dict) or "id" not in incident:
        raise TicketSystemError(f"topdesk: not an incident: {incident!r}"[:300])
    status = (incident.get("processingStatus") or {}).get("name", "")
    return RemoteTicket(
        str(incident["id"]), topdesk_status(incident), incident.get("number"), str(status)
    )


class TopdeskTickets:
    """TOPdesk incident client."""

    name = "topdesk"

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        *,
        caller: str = "University integration hub",
        timeout_s: float = 10.0,
    ) -> None:
        self.http = JsonHttp(
            "topdesk", base_url, auth=aiohttp.BasicAuth(user, password), timeout_s=timeout_s
        )
        self.caller = caller

    async def find(self, task_id: str) -> RemoteTicket | None:
        status, found, _ = await self.http.request(
            "GET", f"{API}/incidents", params={"query": f'externalNumber=="{task_id}"'}
        )
        if status == 204 or not found:
            return None
        return _remote(found[0])

    async def create(self, ticket: NewTicket) -> RemoteTicket:
        subject = ticket.subject
        brief = subject if len(subject) <= BRIEF_MAX else subject[: BRIEF_MAX - 1] + "…"
        body = {
            "caller": {"dynamicName": self.caller},
            "briefDescription": brief,
            "request": ticket.body,
            "externalNumber": ticket.task_id,
            "operatorGroup": {"name": ticket.queue},
            **(
                {"targetDate": f"{ticket.due_date.isoformat()}T16:00:00.000+0000"}
                if ticket.due_date
                else {}
            ),
        }
        _, created, _ = await self.http.request("POST", f"{API}/incidents", body=body)
        return _remote(created)

    async def get(self, ticket_id: str) -> RemoteTicket:
        _, incident, _ = await self.http.request("GET", f"{API}/incidents/id/{ticket_id}")
        return _remote(incident)

    async def comment(self, ticket_id: str, text: str) -> None:
        await self.http.request(
            "PATCH",
            f"{API}/incidents/id/{ticket_id}",
            body={"action": text, "actionInvisibleForCaller": True},
        )

    async def set_status(self, ticket_id: str, status: TicketStatus, note: str) -> None:
        await self.http.request("PATCH", f"{API}/incidents/id/{ticket_id}", body=_SET[status])

    async def close(self) -> None:
        await self.http.close()
