"""A fake ServiceNow speaking the Table API for incidents under
``/api/now/table/incident``: create, show, update (PATCH) and list with an encoded
``sysparm_query`` (``field=value`` joined by ``^``). Work notes and comments are
journal fields: written on update, kept as entries. Resolving (state 6) needs
``close_code`` and ``close_notes``, and On Hold (state 3) a ``hold_reason``, as the
default data policy asks. Authentication is HTTP Basic. See
:mod:`hub.tickets.fake_server` for faults and the control API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.tickets.fake_server import BasicAuthFakeServer, TicketView
from hub.tickets.servicenow import TABLE, servicenow_status

__all__ = ["FAKE_PASSWORD", "FAKE_USER", "FakeServiceNow"]

FAKE_USER = "hub.integration"
FAKE_PASSWORD = "fake-servicenow-password"  # noqa: S105 - the fake's published default
_UPDATABLE = (
    "short_description",
    "description",
    "state",
    "close_code",
    "close_notes",
    "hold_reason",
    "urgency",
    "impact",
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class _Incident:
    fields: dict[str, Any]
    journal: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)


class FakeServiceNow(BasicAuthFakeServer):
    """ServiceNow incidents in memory."""

    system = "servicenow"
    env_prefix = "SERVICENOW"

    def __init__(self, user: str = FAKE_USER, password: str = FAKE_PASSWORD) -> None:
        super().__init__(user, password)
        self.incidents: dict[str, _Incident] = {}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(TABLE, self._create),
            web.get(TABLE, self._list),
            web.get(f"{TABLE}/{{sys_id}}", self._show),
            web.patch(f"{TABLE}/{{sys_id}}", self._patch),
            web.put(f"{TABLE}/{{sys_id}}", self._patch),
        ]

    def error_body(self, message: str) -> Any:
        return {"error": {"message": message, "detail": None}, "status": "failure"}

    def _incident(self, request: web.Request) -> _Incident:
        incident = self.incidents.get(request.match_info["sys_id"])
        if incident is None:
            raise web.HTTPNotFound(
                text='{"error": {"message": "No Record found", "detail": "Record doesn\'t'
                ' exist or ACL restricts the record retrieval"}, "status": "failure"}',
                content_type="application/json",
            )
        return incident

    def _policy_problem(self, fields: dict[str, Any]) -> str | None:
        if fields.get("state") == "6" and not (
            fields.get("close_code") and fields.get("close_notes")
        ):
            return "Data Policy Exception: Resolution code and Resolution notes are mandatory"
        if fields.get("state") == "3" and not fields.get("hold_reason"):
            return "Data Policy Exception: On hold reason is mandatory"
        return None

    def _journal(self, incident: _Incident, body: dict[str, Any]) -> None:
        for kind in ("work_notes", "comments"):
            if body.get(kind):
                incident.journal.append((kind, str(body[kind])))

    async def _create(self, request: web.Request) -> web.Response:
        body = await self.body_of(request)
        group = str(body.get("assignment_group", ""))
        rejected = self.rejected_queue(group)
        if rejected is not None:
            return rejected
        sys_id = uuid.uuid4().hex
        fields = {
            "sys_id": sys_id,
            "number": f"INC{10001 + len(self.incidents):07d}",
            "state": "1",
            "short_description": str(body.get("short_description", "")),
            "description": str(body.get("description", "")),
            "correlation_id": str(body.get("correlation_id", "")),
            "correlation_display": str(body.get("correlation_display", "")),
            "urgency": str(body.get("urgency", "3")),
            "impact": str(body.get("impact", "3")),
            "assignment_group": {
                "link": f"{request.scheme}://{request.host}/api/now/table/sys_user_group/{group}",
                "value": group,
            },
            "close_code": "",
            "close_notes": "",
            "hold_reason": "",
            "work_notes": "",
            "comments": "",
            "sys_created_on": _now(),
        }
        incident = _Incident(fields)
        self._journal(incident, body)
        self.incidents[sys_id] = incident
        return web.json_response(
            {"result": self._shown(fields)},
            status=201,
            headers={"Location": f"{request.scheme}://{request.host}{TABLE}/{sys_id}"},
        )

    def _shown(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {**fields, "sys_updated_on": _now()}

    async def _list(self, request: web.Request) -> web.Response:
        wanted: list[tuple[str, str]] = []
        for clause in filter(None, request.query.get("sysparm_query", "").split("^")):
            name, sep, value = clause.partition("=")
            if not sep:
                return self.error(400, f"Invalid query: {clause}")
            wanted.append((name, value))
        limit = int(request.query.get("sysparm_limit", "10000"))
        found = [
            self._shown(i.fields)
            for i in self.incidents.values()
            if all(str(i.fields.get(n, "")) == v for n, v in wanted)
        ]
        return web.json_response({"result": found[:limit]})

    async def _show(self, request: web.Request) -> web.Response:
        return web.json_response({"result": self._shown(self._incident(request).fields)})

    async def _patch(self, request: web.Request) -> web.Response:
        incident = self._incident(request)
        body = await self.body_of(request)
        changed = {**incident.fields, **{k: str(body[k]) for k in _UPDATABLE if k in body}}
        problem = self._policy_problem(changed)
        if problem is not None:
            return self.error(403, f"Operation Failed: {problem}")
        incident.fields = changed
        self._journal(incident, body)
        return web.json_response({"result": self._shown(incident.fields)})

    def views(self) -> list[TicketView]:
        return [
            TicketView(
                id=i.fields["sys_id"],
                number=i.fields["number"],
                task_id=i.fields["correlation_id"] or None,
                queue=i.fields["assignment_group"]["value"],
                status=servicenow_status(i.fields["state"]),
                raw_status=i.fields["state"],
                subject=i.fields["short_description"],
                body=i.fields["description"],
                comments=tuple(text for _, text in i.journal),
            )
            for i in self.incidents.values()
        ]

    def resolve_by_person(self, ticket_id: str) -> None:
        incident = self.incidents[ticket_id]
        incident.fields.update(
            state="7", close_code="Closed/Resolved by Caller", close_notes="By hand"
        )
        incident.journal.append(("comments", "Closed by hand."))
