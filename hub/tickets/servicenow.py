"""ServiceNow incidents through the Table API (``/api/now/table/incident``).

- create: ``POST /api/now/table/incident`` with ``short_description``,
  ``description``, ``assignment_group`` (the queue, by name), ``correlation_id`` (the
  task id), ``urgency``/``impact`` from the severity → ``201`` with ``{"result": …}``;
- find: ``GET …/incident?sysparm_query=correlation_id=task-…&sysparm_limit=1``;
- get: ``GET …/incident/{sys_id}`` → ``state``;
- comment: ``PATCH …/incident/{sys_id}`` with ``work_notes`` (internal);
- status: ``PATCH`` with ``state`` 2 In Progress (reopen), 3 On Hold with
  ``hold_reason`` 4 (Awaiting Change: the exception), 6 Resolved with ``close_code``
  and ``close_notes``. States 6 Resolved, 7 Closed and 8 Canceled count as resolved.

Authentication is HTTP Basic with an integration user.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from hub.tickets.http import JsonHttp
from hub.tickets.system import NewTicket, RemoteTicket, TicketStatus, TicketSystemError

__all__ = ["ServiceNowTickets", "servicenow_status"]

TABLE = "/api/now/table/incident"
_URGENCY = {"P1": "1", "P2": "2", "P3": "3"}


def servicenow_status(state: str) -> TicketStatus:
    """The hub's reading of an incident state code."""
    if state in ("6", "7", "8"):
        return "resolved"
    return "waiting" if state == "3" else "open"


def _remote(result: Any) -> RemoteTicket:
    if not isinstance(result, dict) or "sys_id" not in result:
        raise TicketSystemError(f"servicenow: not an incident: {result!r}"[:300])
    state = str(result.get("state", ""))
    return RemoteTicket(
        str(result["sys_id"]), servicenow_status(state), result.get("number"), state
    )


def _set(status: TicketStatus, note: str) -> dict[str, str]:
    if status == "resolved":
        return {"state": "6", "close_code": "Solved (Permanently)", "close_notes": note}
    if status == "waiting":
        return {"state": "3", "hold_reason": "4"}
    return {"state": "2"}


class ServiceNowTickets:
    """ServiceNow Table API client for incidents."""

    name = "servicenow"

    def __init__(self, base_url: str, user: str, password: str, *, timeout_s: float = 10.0) -> None:
        self.http = JsonHttp(
            "servicenow",
            base_url,
            auth=aiohttp.BasicAuth(user, password),
            timeout_s=timeout_s,
        )

    async def find(self, task_id: str) -> RemoteTicket | None:
        _, found, _ = await self.http.request(
            "GET",
            TABLE,
            params={"sysparm_query": f"correlation_id={task_id}", "sysparm_limit": "1"},
        )
        results = (found or {}).get("result") or []
        return _remote(results[0]) if results else None

    async def create(self, ticket: NewTicket) -> RemoteTicket:
        urgency = _URGENCY.get(ticket.severity, "3")
        body = {
            "short_description": ticket.subject[:160],
            "description": ticket.body,
            "assignment_group": ticket.queue,
            "correlation_id": ticket.task_id,
            "correlation_display": "university-integration-hub",
            "urgency": urgency,
            "impact": urgency,
        }
        _, created, _ = await self.http.request(
            "POST", TABLE, params={"sysparm_input_display_value": "true"}, body=body
        )
        return _remote((created or {}).get("result"))

    async def get(self, ticket_id: str) -> RemoteTicket:
        _, found, _ = await self.http.request("GET", f"{TABLE}/{ticket_id}")
        return _remote((found or {}).get("result"))

    async def comment(self, ticket_id: str, text: str) -> None:
        await self.http.request("PATCH", f"{TABLE}/{ticket_id}", body={"work_notes": text})

    async def set_status(self, ticket_id: str, status: TicketStatus, note: str) -> None:
        await self.http.request("PATCH", f"{TABLE}/{ticket_id}", body=_set(status, note))

    async def close(self) -> None:
        await self.http.close()
