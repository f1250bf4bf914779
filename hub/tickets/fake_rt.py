"""A fake Request Tracker speaking REST2 under ``/REST/2.0/``: create, show, update
and search tickets (TicketSQL on custom fields, Queue, Status and id), and comment.
Authentication is ``Authorization: token …`` (or ``?token=``). See
:mod:`hub.tickets.fake_server` for faults and the control API."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.tickets.fake_server import FakeTicketServer, TicketView
from hub.tickets.rt import rt_status

__all__ = ["FAKE_TOKEN", "FakeRt"]

API = "/REST/2.0"
FAKE_TOKEN = "fake-rt-token"  # noqa: S105 - the fake's published default
_CLAUSE = re.compile(
    r"""^\s*'?(?P<field>CF\.\{[^}]+\}|[A-Za-z]+)'?\s*(?P<op>=|!=|>|<)\s*'?(?P<value>[^']*)'?\s*$"""
)


@dataclass
class _Ticket:
    id: int
    queue: str
    subject: str
    content: str
    status: str = "new"
    requestor: str | None = None
    due: str | None = None
    custom_fields: dict[str, list[str]] = field(default_factory=dict)
    transactions: list[dict[str, str]] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeRt(FakeTicketServer):
    """RT REST2 with tickets in memory."""

    system = "rt"

    def __init__(self, token: str = FAKE_TOKEN, task_field: str = "HubTaskId") -> None:
        super().__init__()
        self.token = token
        self.task_field = task_field
        self.tickets: dict[int, _Ticket] = {}
        self._transactions = 0

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(f"{API}/ticket", self._create),
            web.get(f"{API}/ticket/{{id:\\d+}}", self._show),
            web.put(f"{API}/ticket/{{id:\\d+}}", self._update),
            web.post(f"{API}/ticket/{{id:\\d+}}/comment", self._comment),
            web.get(f"{API}/tickets", self._search),
        ]

    def authorized(self, request: web.Request) -> bool:
        return (
            request.headers.get("Authorization") == f"token {self.token}"
            or request.query.get("token") == self.token
        )

    def sink_env(self) -> dict[str, str]:
        return {"HUB_RT_URL": self.url, "HUB_RT_TOKEN": self.token}

    def error_body(self, message: str) -> Any:
        return {"message": message}

    def _url(self, request: web.Request, *parts: object) -> str:
        return f"{request.scheme}://{request.host}{API}/" + "/".join(str(p) for p in parts)

    def _ticket(self, request: web.Request) -> _Ticket:
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            raise web.HTTPNotFound(
                text='{"message": "Resource does not exist"}', content_type="application/json"
            )
        return ticket

    def _record(self, ticket: _Ticket, kind: str, content: str) -> int:
        self._transactions += 1
        ticket.transactions.append(
            {"id": str(self._transactions), "Type": kind, "Content": content}
        )
        return self._transactions

    async def _create(self, request: web.Request) -> web.Response:
        body = await self.body_of(request)
        queue = body.get("Queue")
        if not queue:
            return self.error(400, "Could not create ticket. Queue not set")
        rejected = self.rejected_queue(str(queue))
        if rejected is not None:
            return rejected
        fields = body.get("CustomFields") or {}
        ticket = _Ticket(
            id=len(self.tickets) + 1,
            queue=str(queue),
            subject=str(body.get("Subject", "")),
            content=str(body.get("Content", "")),
            requestor=body.get("Requestor"),
            due=body.get("Due"),
            custom_fields={
                str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
                for k, v in fields.items()
            },
        )
        self.tickets[ticket.id] = ticket
        self._record(ticket, "Create", ticket.content)
        url = self._url(request, "ticket", ticket.id)
        return web.json_response(
            {"id": str(ticket.id), "type": "ticket", "_url": url},
            status=201,
            headers={"Location": url},
        )

    async def _show(self, request: web.Request) -> web.Response:
        ticket = self._ticket(request)
        return web.json_response(
            {
                "id": ticket.id,
                "Type": "ticket",
                "EffectiveId": {"id": str(ticket.id), "type": "ticket"},
                "Subject": ticket.subject,
                "Status": ticket.status,
                "Queue": {
                    "id": ticket.queue,
                    "type": "queue",
                    "_url": self._url(request, "queue", ticket.queue),
                },
                "Due": ticket.due or "1970-01-01T00:00:00Z",
                "Created": ticket.created,
                "LastUpdated": _now(),
                "CustomFields": [
                    {"id": str(i + 1), "name": name, "type": "customfield", "values": values}
                    for i, (name, values) in enumerate(sorted(ticket.custom_fields.items()))
                ],
                "_hyperlinks": [
                    {
                        "ref": "self",
                        "id": ticket.id,
                        "type": "ticket",
                        "_url": self._url(request, "ticket", ticket.id),
                    },
                    {"ref": "history", "_url": self._url(request, "ticket", ticket.id, "history")},
                    {"ref": "comment", "_url": self._url(request, "ticket", ticket.id, "comment")},
                ],
            }
        )

    async def _update(self, request: web.Request) -> web.Response:
        ticket = self._ticket(request)
        body = await self.body_of(request)
        messages = []
        status = body.get("Status")
        if status is not None and status != ticket.status:
            if str(status).lower() not in ("new", "open", "stalled", "resolved", "rejected"):
                messages.append(f"Ticket {ticket.id}: '{status}' is an invalid value for status")
            else:
                messages.append(
                    f"Ticket {ticket.id}: Status changed from '{ticket.status}' to '{status}'"
                )
                self._record(ticket, "Status", f"{ticket.status} -> {status}")
                ticket.status = str(status).lower()
        return web.json_response(messages)

    async def _comment(self, request: web.Request) -> web.Response:
        ticket = self._ticket(request)
        if request.content_type == "text/plain":
            content = await request.text()
        else:
            content = str((await self.body_of(request)).get("Content", ""))
        if not content:
            return self.error(400, "No content provided")
        txn = self._record(ticket, "Comment", content)
        return web.json_response(
            ["Comments added"],
            status=201,
            headers={"Location": self._url(request, "transaction", txn)},
        )

    def _matches(self, ticket: _Ticket, clause: str) -> bool:
        found = _CLAUSE.match(clause)
        if found is None:
            raise web.HTTPBadRequest(
                text=f'{{"message": "Invalid query: cannot parse {clause!r}"}}',
                content_type="application/json",
            )
        name, op, value = found["field"], found["op"], found["value"]
        if name.startswith("CF."):
            actual: list[str] = ticket.custom_fields.get(name[4:-1], [])
        elif name.lower() == "queue":
            actual = [ticket.queue]
        elif name.lower() == "status":
            actual = [ticket.status]
        elif name.lower() == "id":
            number = int(value) if value.isdigit() else 0
            return {
                "=": ticket.id == number,
                "!=": ticket.id != number,
                ">": ticket.id > number,
                "<": ticket.id < number,
            }[op]
        else:
            raise web.HTTPBadRequest(
                text=f'{{"message": "Invalid query: unknown field {name}"}}',
                content_type="application/json",
            )
        return (value in actual) if op == "=" else (value not in actual)

    async def _search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "")
        clauses = [c for c in re.split(r"\s+AND\s+", query, flags=re.IGNORECASE) if c.strip()]
        if not clauses:
            return self.error(400, "Query parameter required")
        found = [
            t for _, t in sorted(self.tickets.items()) if all(self._matches(t, c) for c in clauses)
        ]
        page = found[:20]
        return web.json_response(
            {
                "count": len(page),
                "page": 1,
                "pages": max(1, (len(found) + 19) // 20),
                "per_page": 20,
                "total": len(found),
                "items": [
                    {"type": "ticket", "id": str(t.id), "_url": self._url(request, "ticket", t.id)}
                    for t in page
                ],
            }
        )

    def views(self) -> list[TicketView]:
        return [
            TicketView(
                id=str(t.id),
                number=str(t.id),
                task_id=next(iter(t.custom_fields.get(self.task_field, [])), None),
                queue=t.queue,
                status=rt_status(t.status),
                raw_status=t.status,
                subject=t.subject,
                body=t.content,
                comments=tuple(x["Content"] for x in t.transactions if x["Type"] == "Comment"),
            )
            for _, t in sorted(self.tickets.items())
        ]

    def resolve_by_person(self, ticket_id: str) -> None:
        ticket = self.tickets[int(ticket_id)]
        self._record(ticket, "Status", f"{ticket.status} -> resolved (by a person)")
        ticket.status = "resolved"
