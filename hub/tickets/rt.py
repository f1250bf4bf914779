"""Request Tracker through its REST2 API (``/REST/2.0/``), as UiO runs it.

- create: ``POST /ticket`` with ``Queue``, ``Subject``, ``Content``, ``ContentType``,
  ``CustomFields`` (the task id goes in the custom field ``HUB_RT_TASK_FIELD``) →
  ``201`` with ``{"id", "type", "_url"}``;
- find: ``GET /tickets?query=CF.{HubTaskId} = 'task-…'`` (TicketSQL);
- get: ``GET /ticket/{id}`` → ``Status``;
- comment: ``POST /ticket/{id}/comment`` with ``Content`` and ``ContentType``;
- status: ``PUT /ticket/{id}`` with ``Status`` (``open``, ``stalled``, ``resolved``).

Authentication is ``Authorization: token …`` (RT::Authen::Token).
"""

from __future__ import annotations

from hub.tickets.http import JsonHttp
from hub.tickets.system import NewTicket, RemoteTicket, TicketStatus, TicketSystemError

__all__ = ["RT_STATUS", "RtTickets", "rt_status"]

API = "/REST/2.0"
# RT's statuses (the default lifecycle) and what the hub makes of them.
RT_STATUS: dict[str, TicketStatus] = {
    "new": "open",
    "open": "open",
    "stalled": "waiting",
    "resolved": "resolved",
    "rejected": "resolved",
    "deleted": "resolved",
}
_SET = {"open": "open", "waiting": "stalled", "resolved": "resolved"}


def rt_status(raw: str) -> TicketStatus:
    """The hub's reading of an RT status; an unknown (custom) status counts as open."""
    return RT_STATUS.get(raw.lower(), "open")


class RtTickets:
    """RT REST2 client."""

    name = "rt"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        task_field: str = "HubTaskId",
        requestor: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.http = JsonHttp(
            "rt", base_url, headers={"Authorization": f"token {token}"}, timeout_s=timeout_s
        )
        self.task_field = task_field
        self.requestor = requestor

    async def find(self, task_id: str) -> RemoteTicket | None:
        query = f"CF.{{{self.task_field}}} = '{task_id}'"
        _, found, _ = await self.http.request(
            "GET", f"{API}/tickets", params={"query": query, "orderby": "id", "order": "ASC"}
        )
        items = (found or {}).get("items") or []
        if not items:
            return None
        return await self.get(str(items[0]["id"]))

    async def create(self, ticket: NewTicket) -> RemoteTicket:
        body = {
            "Queue": ticket.queue,
            "Subject": ticket.subject,
            "Content": ticket.body,
            "ContentType": "text/plain",
            "CustomFields": {self.task_field: ticket.task_id},
            **({"Requestor": self.requestor} if self.requestor else {}),
            **({"Due": ticket.due_date.isoformat()} if ticket.due_date else {}),
        }
        _, created, _ = await self.http.request("POST", f"{API}/ticket", body=body)
        if not isinstance(created, dict) or "id" not in created:
            raise TicketSystemError(f"rt POST {API}/ticket: no ticket id in {created!r}")
        return RemoteTicket(str(created["id"]), "open", raw_status="new")

    async def get(self, ticket_id: str) -> RemoteTicket:
        _, ticket, _ = await self.http.request("GET", f"{API}/ticket/{ticket_id}")
        raw = str((ticket or {}).get("Status", ""))
        return RemoteTicket(ticket_id, rt_status(raw), raw_status=raw)

    async def comment(self, ticket_id: str, text: str) -> None:
        await self.http.request(
            "POST",
            f"{API}/ticket/{ticket_id}/comment",
            body={"Content": text, "ContentType": "text/plain"},
        )

    async def set_status(self, ticket_id: str, status: TicketStatus, note: str) -> None:
        await self.http.request("PUT", f"{API}/ticket/{ticket_id}", body={"Status": _SET[status]})

    async def close(self) -> None:
        await self.http.close()
