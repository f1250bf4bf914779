"""A fake TOPdesk speaking the incident API under ``/tas/api/``: create, show and
update (PATCH) incidents, list them with a FIQL ``query`` (``==`` joined by ``;``;
``204 No Content`` when nothing matches), and read their actions (the progress
trail). Authentication is HTTP Basic with an operator's application password. See
:mod:`hub.tickets.fake_server` for faults and the control API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.tickets.fake_server import BasicAuthFakeServer, TicketView
from hub.tickets.topdesk import BRIEF_MAX, topdesk_status

__all__ = ["FAKE_PASSWORD", "FAKE_USER", "FakeTopdesk"]

API = "/tas/api"
FAKE_USER = "hub-operator"
FAKE_PASSWORD = "fake-topdesk-application-password"  # noqa: S105 - the fake's published default
_UPDATABLE = ("briefDescription", "request", "closed", "completed", "onHold", "externalNumber")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class _Incident:
    fields: dict[str, Any]
    actions: list[dict[str, Any]] = field(default_factory=list)


class FakeTopdesk(BasicAuthFakeServer):
    """TOPdesk incidents in memory."""

    system = "topdesk"
    env_prefix = "TOPDESK"

    def __init__(self, user: str = FAKE_USER, password: str = FAKE_PASSWORD) -> None:
        super().__init__(user, password)
        self.incidents: dict[str, _Incident] = {}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(f"{API}/incidents", self._create),
            web.get(f"{API}/incidents", self._list),
            web.get(f"{API}/incidents/id/{{id}}", self._show),
            web.patch(f"{API}/incidents/id/{{id}}", self._patch),
            web.get(f"{API}/incidents/id/{{id}}/actions", self._actions),
        ]

    def error_body(self, message: str) -> Any:
        return [{"message": message}]

    def _incident(self, request: web.Request) -> _Incident:
        incident = self.incidents.get(request.match_info["id"])
        if incident is None:
            raise web.HTTPNotFound(
                text='[{"message": "No incident found with this id"}]',
                content_type="application/json",
            )
        return incident

    def _status_name(self, fields: dict[str, Any]) -> dict[str, str]:
        name = (
            "Closed"
            if fields["closed"]
            else "Completed"
            if fields["completed"]
            else "Waiting for user"
            if fields["onHold"]
            else "Logged"
        )
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "name": name}

    def _add_action(self, incident: _Incident, text: str, invisible: bool, by: str) -> None:
        incident.actions.insert(
            0,
            {
                "id": str(uuid.uuid4()),
                "memoText": text.replace("\n", "<br>"),
                "plainText": text,
                "entryDate": _now(),
                "invisibleForCaller": invisible,
                "operator": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, by)), "name": by},
                "person": None,
            },
        )

    async def _create(self, request: web.Request) -> web.Response:
        body = await self.body_of(request)
        caller = body.get("caller") or {}
        if not (caller.get("dynamicName") or body.get("callerLookup")):
            return self.error(400, "caller.dynamicName or callerLookup is required")
        brief = str(body.get("briefDescription", ""))
        if len(brief) > BRIEF_MAX:
            return self.error(400, f"briefDescription is longer than {BRIEF_MAX} characters")
        group = (body.get("operatorGroup") or {}).get("name", "")
        rejected = self.rejected_queue(group)
        if rejected is not None:
            return rejected
        number = f"I {datetime.now(UTC):%y%m} {len(self.incidents) + 1:03d}"
        incident_id = str(uuid.uuid4())
        fields = {
            "id": incident_id,
            "number": number,
            "status": "secondLine",
            "briefDescription": brief,
            "request": str(body.get("request", "")),
            "externalNumber": str(body.get("externalNumber", "")),
            "caller": {"id": None, "dynamicName": caller.get("dynamicName")},
            "operatorGroup": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, group)), "name": group},
            "targetDate": body.get("targetDate"),
            "closed": False,
            "completed": False,
            "onHold": False,
            "callDate": _now(),
            "creationDate": _now(),
            "requests": f"{API}/incidents/id/{incident_id}/requests",
            "action": f"{API}/incidents/id/{incident_id}/actions",
        }
        self.incidents[incident_id] = _Incident(fields)
        return web.json_response(self._shown(fields), status=201)

    def _shown(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            **fields,
            "processingStatus": self._status_name(fields),
            "modificationDate": _now(),
        }

    async def _list(self, request: web.Request) -> web.Response:
        wanted: list[tuple[str, str]] = []
        for clause in filter(None, request.query.get("query", "").split(";")):
            name, sep, value = clause.partition("==")
            if not sep:
                return self.error(400, f"cannot parse the query {clause!r}")
            wanted.append((name.strip(), value.strip().strip('"')))
        found = [
            self._shown(i.fields)
            for i in self.incidents.values()
            if all(str(i.fields.get(n)).lower() == v.lower() for n, v in wanted)
        ]
        if not found:
            return web.Response(status=204)
        return web.json_response(found)

    async def _show(self, request: web.Request) -> web.Response:
        return web.json_response(self._shown(self._incident(request).fields))

    async def _patch(self, request: web.Request) -> web.Response:
        incident = self._incident(request)
        body = await self.body_of(request)
        if "action" in body:
            self._add_action(
                incident, str(body["action"]), bool(body.get("actionInvisibleForCaller")), "hub"
            )
        for name in _UPDATABLE:
            if name in body:
                incident.fields[name] = body[name]
        return web.json_response(self._shown(incident.fields))

    async def _actions(self, request: web.Request) -> web.Response:
        actions = self._incident(request).actions
        return web.json_response(actions) if actions else web.Response(status=204)

    def views(self) -> list[TicketView]:
        return [
            TicketView(
                id=i.fields["id"],
                number=i.fields["number"],
                task_id=i.fields["externalNumber"] or None,
                queue=i.fields["operatorGroup"]["name"],
                status=topdesk_status(i.fields),
                raw_status=self._status_name(i.fields)["name"],
                subject=i.fields["briefDescription"],
                body=i.fields["request"],
                comments=tuple(a["plainText"] for a in reversed(i.actions)),
            )
            for i in self.incidents.values()
        ]

    def resolve_by_person(self, ticket_id: str) -> None:
        incident = self.incidents[ticket_id]
        self._add_action(incident, "Closed by hand.", invisible=False, by="a person")
        incident.fields.update(completed=True, closed=True)
