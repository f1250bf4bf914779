"""Plumbing the fake source servers share: serving an app locally, API keys, notifications.

Each source package has a ``fake_server`` module: an in-memory store that tests
change, and ``make_app(store)`` that serves it with the source's real paths and
JSON. This module holds what they have in common:

* :func:`serve_app` runs an :class:`aiohttp.web.Application` on a local port
  (port 0 picks a free one) and hands back its base URL;
* :func:`require_api_key` is a middleware that refuses requests without one of
  the store's API keys, answering as the source's gateway does;
* :class:`Notification` and :class:`Outbox`: the change messages a store
  produces (routing key, body bytes, content type), in order, for the SDK to
  publish to RabbitMQ.

Fault injection is not here: ``make_app`` takes extra ``middlewares``, which run
before the source's own, so the SDK's fault-injection middleware wraps a fake
without changing it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = [
    "GRAVITEE_KEY_HEADER",
    "Handler",
    "Middleware",
    "Notification",
    "Outbox",
    "RunningServer",
    "application",
    "bearer_token",
    "gravitee_refusal",
    "require_api_key",
    "serve_app",
    "wall_clock",
]

GRAVITEE_KEY_HEADER = "X-Gravitee-Api-Key"


@dataclass(frozen=True)
class Notification:
    """One change message as the source would publish it to its message broker."""

    routing_key: str
    body: bytes
    content_type: str = "application/json"


@dataclass
class Outbox:
    """The notifications a store has produced, oldest first, until they are taken."""

    waiting: list[Notification] = field(default_factory=list)

    def put(self, notification: Notification) -> None:
        """Queue one notification."""
        self.waiting.append(notification)

    def take(self) -> list[Notification]:
        """All queued notifications, oldest first; the outbox is empty afterwards."""
        taken, self.waiting = self.waiting, []
        return taken


def gravitee_refusal(_presented: str | None) -> web.Response:
    """How an API gateway (Gravitee, in front of UiO's and Sikt's APIs) refuses a
    request without a valid API key: 401 with its own JSON body. Inferred from
    Gravitee's documented default; the source's API never sees the request."""
    return web.json_response({"message": "Unauthorized", "http_status_code": 401}, status=401)


def require_api_key(
    header: str,
    keys: Collection[str],
    refuse: Callable[[str | None], web.Response] = gravitee_refusal,
) -> Middleware:
    """A middleware that lets a request through only with one of ``keys`` in ``header``.

    ``keys`` is read on every request, so a test can add or revoke a key on a
    running server. ``refuse`` builds the answer from the key presented (None
    when the header is missing).
    """

    @web.middleware
    async def check_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        presented = request.headers.get(header)
        if presented is None or presented not in keys:
            return refuse(presented)
        return await handler(request)

    return check_api_key


class RunningServer:
    """A fake server listening on a local port; close it, or use it with ``async with``."""

    def __init__(self, runner: web.AppRunner, url: str) -> None:
        self.runner = runner
        self.url = url

    def make_url(self, path: str) -> str:
        """The address of ``path`` on this server."""
        return f"{self.url}/{path.lstrip('/')}"

    async def close(self) -> None:
        """Stop listening and clean up the application."""
        await self.runner.cleanup()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def serve_app(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve ``app`` on ``host:port`` (port 0: a free port) until the result is closed."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return RunningServer(runner, f"http://{shown}:{bound_port}")


def application(
    middlewares: Iterable[Middleware], *own: Middleware, routes: Iterable[web.RouteDef] = ()
) -> web.Application:
    """An application whose ``middlewares`` (fault injection, say) run before its ``own``."""
    app = web.Application(middlewares=[*middlewares, *own])
    app.add_routes(routes)
    return app


def bearer_token(token: str, refuse: Callable[[], web.StreamResponse]) -> Middleware:
    """A middleware that answers ``refuse()`` unless ``Authorization: Bearer <token>``."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return refuse()
        return await handler(request)

    return check


def wall_clock() -> datetime:
    """Now, in UTC: the default clock of the fakes' stores."""
    return datetime.now(UTC)
