"""What the fake ticket servers share: tickets in memory, authentication, injected
faults, a "person" who resolves tickets, and a control API for tests and demos.

Each fake (:mod:`hub.tickets.fake_rt`, :mod:`hub.tickets.fake_topdesk`,
:mod:`hub.tickets.fake_servicenow`) speaks its system's real paths, JSON shapes,
status codes and authentication. The control API lives under ``/_fake/``:

- ``GET /_fake/tickets``: every ticket as ``{id, number, task_id, queue, status,
  raw_status, subject, body, comments}`` (``status`` is open, waiting or resolved);
- ``POST /_fake/faults``: ``{"fail_next": N, "fail_status": 503, "slow_next": N,
  "slow_seconds": 2.0, "reject_queues": {"Queue": 400}}``;
- ``POST /_fake/tickets/{id}/resolve``: a person resolves (closes) the ticket.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from aiohttp import web

__all__ = ["BasicAuthFakeServer", "FakeTicketServer", "Faults", "TicketView"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONTROL = "/_fake"


@dataclass
class Faults:
    """Failures to inject: the next ``fail_next`` requests answer ``fail_status``; the
    next ``slow_next`` requests wait ``slow_seconds`` first; creating a ticket in a queue
    of ``reject_queues`` answers that queue's 4xx status."""

    fail_next: int = 0
    fail_status: int = 503
    slow_next: int = 0
    slow_seconds: float = 0.0
    reject_queues: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketView:
    """A fake's ticket, the same for every system (for tests and the control API)."""

    id: str
    number: str
    task_id: str | None
    queue: str
    status: str  # open, waiting or resolved
    raw_status: str
    subject: str
    body: str
    comments: tuple[str, ...]


class FakeTicketServer(abc.ABC):
    """An aiohttp server with tickets in memory. Subclasses add the system's routes."""

    system: ClassVar[str]

    def __init__(self) -> None:
        self.faults = Faults()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API request
        self._runner: web.AppRunner | None = None
        self.url = ""

    # What each system defines.
    @abc.abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The system's API routes."""

    @abc.abstractmethod
    def authorized(self, request: web.Request) -> bool:
        """Whether the request carries the right credentials."""

    @abc.abstractmethod
    def error_body(self, message: str) -> Any:
        """An error's JSON body in the system's own shape."""

    @abc.abstractmethod
    def sink_env(self) -> dict[str, str]:
        """The HUB_* settings that point the ticket sink at this fake."""

    @abc.abstractmethod
    def views(self) -> list[TicketView]:
        """Every ticket."""

    @abc.abstractmethod
    def resolve_by_person(self, ticket_id: str) -> None:
        """A person resolves (closes) the ticket in the system's own way."""

    # Shared behaviour.
    def error(self, status: int, message: str) -> web.Response:
        """An error answer in the system's own JSON shape."""
        return web.json_response(self.error_body(message), status=status)

    async def body_of(self, request: web.Request) -> dict[str, Any]:
        """The request's JSON object; anything else is answered 400."""
        try:
            parsed = await request.json()
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise web.HTTPBadRequest(
                text=json.dumps(self.error_body("JSON object expected")),
                content_type="application/json",
            )
        return parsed

    def tickets_for(self, task_id: str) -> list[TicketView]:
        return [v for v in self.views() if v.task_id == task_id]

    def rejected_queue(self, queue: str) -> web.Response | None:
        status = self.faults.reject_queues.get(queue)
        if status is None:
            return None
        return self.error(status, f"not allowed to create tickets in queue {queue!r}")

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL):
            return await handler(request)
        self.requests.append((request.method, request.path))
        if self.faults.slow_next > 0:
            self.faults.slow_next -= 1
            await asyncio.sleep(self.faults.slow_seconds)
        if self.faults.fail_next > 0:
            self.faults.fail_next -= 1
            return self.error(self.faults.fail_status, "injected failure (fake server)")
        if not self.authorized(request):
            return self.error(401, "Unauthorized")
        return await handler(request)

    async def _control_tickets(self, _request: web.Request) -> web.Response:
        return web.json_response([asdict(v) for v in self.views()])

    async def _control_faults(self, request: web.Request) -> web.Response:
        wanted = await request.json()
        self.faults = Faults(**{**asdict(self.faults), **wanted})
        return web.json_response(asdict(self.faults))

    async def _control_resolve(self, request: web.Request) -> web.Response:
        try:
            self.resolve_by_person(request.match_info["id"])
        except KeyError:
            return web.json_response({"message": "no such ticket"}, status=404)
        return web.json_response({"resolved": request.match_info["id"]})

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(
            [
                web.get(f"{CONTROL}/tickets", self._control_tickets),
                web.post(f"{CONTROL}/faults", self._control_faults),
                web.post(f"{CONTROL}/tickets/{{id}}/resolve", self._control_resolve),
                *self.routes(),
            ]
        )
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: a free port); return the base URL."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class BasicAuthFakeServer(FakeTicketServer):
    """A fake whose API takes HTTP Basic credentials (TOPdesk, ServiceNow)."""

    env_prefix: ClassVar[str]  # HUB_<prefix>_URL, _USER, _PASSWORD

    def __init__(self, user: str, password: str) -> None:
        super().__init__()
        self.user, self.password = user, password
        self._credentials = base64.b64encode(f"{user}:{password}".encode()).decode()

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Basic {self._credentials}"

    def sink_env(self) -> dict[str, str]:
        prefix = f"HUB_{self.env_prefix}"
        return {
            f"{prefix}_URL": self.url,
            f"{prefix}_USER": self.user,
            f"{prefix}_PASSWORD": self.password,
        }
