"""A fake person-page export (Vortex style) for tests and the demo.

It answers as the inferred profile export does (see docs/sources/web.md):

* ``GET /api/profiles{uri}`` gives one page's document; 404 with
  ``{"status", "error", "message"}`` when there is no page at ``uri``.
* ``GET /api/profiles?limit=&offset=`` lists every page (``{"profiles", "total",
  "limit", "offset"}``): the full listing for reconciliation.
* ``GET /api/profiles/changes?since=&limit=`` lists what changed after the change
  ``since``, oldest first, each page once at its latest change, with the ``next``
  cursor and whether there is ``more``.
* ``Authorization: Bearer <token>``; without it, 401.

:class:`WebStore` holds the pages; ``put`` and ``delete`` stamp ``lastModified``
from the store's clock and record a change, so polls see them. :func:`make_app`
takes extra middlewares (the SDK's fault injection) and :func:`serve` runs the app
on a local port. With ``collapse=False`` the change listing keeps every change (a page
changed twice is listed twice), as a log-based export would.

:class:`WebSource` and :func:`web_source` at the end drive it for the conformance kit
(:mod:`connectors.testing.conformance`).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from connectors import fake_http
from connectors.testing.faults import FaultPlan
from connectors.web.polling import CHANGES_PATH, PROFILES_PATH

__all__ = [
    "DEFAULT_TOKEN",
    "WebSource",
    "WebStore",
    "make_app",
    "sample_page",
    "serve",
    "web_source",
]

DEFAULT_TOKEN = "web-test-token"  # noqa: S105 - a fake server's fake token
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
Document = dict[str, Any]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class _Change:
    sequence: int
    uri: str
    kind: str
    at: str


@dataclass
class WebStore:
    """Person pages by uri, and the latest change of each."""

    clock: Callable[[], datetime] = fake_http.wall_clock
    pages: dict[str, Document] = field(default_factory=dict)
    changes: dict[str, _Change] = field(default_factory=dict)
    sequence: int = 0
    collapse: bool = True

    def _record(self, uri: str, kind: str) -> str:
        self.sequence += 1
        at = _stamp(self.clock())
        entry = uri if self.collapse else f"{uri}#{self.sequence}"
        self.changes[entry] = _Change(self.sequence, uri, kind, at)
        return at

    def put(self, document: Mapping[str, Any]) -> Document:
        """Add or replace a page (by ``uri``); returns it as stored."""
        stored = copy.deepcopy(dict(document))
        stored["lastModified"] = self._record(str(stored["uri"]), "modified")
        self.pages[str(stored["uri"])] = stored
        return copy.deepcopy(stored)

    def delete(self, uri: str) -> None:
        """Remove a page; the change listing reports it deleted."""
        if self.pages.pop(uri, None) is not None:
            self._record(uri, "deleted")


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"status": status, "error": error, "message": message}, status=status)


def _number(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query.get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise web.HTTPBadRequest(reason=f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _handlers(store: WebStore) -> list[web.RouteDef]:
    async def listing(request: web.Request) -> web.Response:
        limit = _number(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        offset = _number(request, "offset", 0, low=0, high=10**9)
        uris = sorted(store.pages)[offset : offset + limit]
        body = {"profiles": [store.pages[uri] for uri in uris], "total": len(store.pages)}
        return web.json_response(body | {"limit": limit, "offset": offset})

    async def changes(request: web.Request) -> web.Response:
        limit = _number(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        since = _number(request, "since", 0, low=0, high=10**18)
        after = sorted((c for c in store.changes.values() if c.sequence > since), key=_order)
        page = after[:limit]
        entries = [
            {"sequence": c.sequence, "uri": c.uri, "change": c.kind, "at": c.at} for c in page
        ]
        next_since = page[-1].sequence if page else (since or None)
        body = {"changes": entries, "next": None if next_since is None else str(next_since)}
        return web.json_response(body | {"more": len(after) > limit})

    async def one(request: web.Request) -> web.Response:
        uri = "/" + request.match_info["uri"]
        page = store.pages.get(uri)
        if page is None:
            return _error(404, "Not Found", f"No person page at {uri}")
        return web.json_response(page)

    return [
        web.get(PROFILES_PATH, listing),
        web.get(CHANGES_PATH, changes),
        web.get(PROFILES_PATH + "/{uri:.+}", one),
    ]


def _order(change: _Change) -> int:
    return change.sequence


def _unauthorized() -> web.Response:
    return _error(401, "Unauthorized", "A valid bearer token is required")


@web.middleware
async def _errors(request: web.Request, handler: fake_http.Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPBadRequest as problem:
        return _error(400, "Bad Request", problem.reason)
    except web.HTTPNotFound:
        return _error(404, "Not Found", f"Nothing at {request.path}")


def make_app(
    store: WebStore, *, token: str = DEFAULT_TOKEN, middlewares: Iterable[fake_http.Middleware] = ()
) -> web.Application:
    """The fake export over ``store``; ``middlewares`` run first (fault injection)."""
    own = [fake_http.bearer_token(token, _unauthorized), _errors]
    return fake_http.application(middlewares, *own, routes=_handlers(store))


async def serve(
    store: WebStore, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> fake_http.RunningServer:
    """Run the fake on ``host:port`` (0: any free port); ``await server.close()`` stops it."""
    return await fake_http.serve_app(make_app(store, **options), host, port)


# -- the conformance kit's view of the fake (connectors.testing.conformance) -------------


def sample_page(number: int, **fields: Any) -> Document:
    """A person page as the export gives it, with its data taken from IAM."""
    page: Document = {
        "uri": f"/personer/adm/person{number:04d}",
        "resourcetype": "person",
        "published": True,
        "properties": {
            "getExternalPersonInfo": True,
            "externalPersonInfoFetched": "2026-10-01T02:00:00Z",
            "username": f"user{number}",
            "firstName": "Kari",
            "surname": f"Nordmann{number}",
            "position": "Rådgiver",
            "unit": {"id": "50001300", "name": "Institutt for informatikk"},
            "email": f"user{number}@example.org",
        },
    }
    return page | fields


@dataclass
class WebSource:
    """Drives a running fake export: each ``add`` is a change the next poll lists;
    ``faults`` is the server's fault plan."""

    store: WebStore
    faults: FaultPlan
    settings: Mapping[str, object]
    pages: int = 0

    def sample(self, **fields: Any) -> Document:
        """A new page."""
        self.pages += 1
        return sample_page(self.pages, **fields)

    async def add(self, count: int) -> list[str]:
        return [str(self.store.put(self.sample())["uri"]) for _ in range(count)]

    async def add_malformed(self) -> str:
        return str(self.store.put(self.sample(published="perhaps"))["uri"])

    async def remove_silently(self, key: str) -> None:
        self.store.pages.pop(key)


@contextlib.asynccontextmanager
async def web_source(institution: str = "uio", **settings: object) -> AsyncIterator[WebSource]:
    """A running fake export with fault injection, and the settings to reach it."""
    store, faults = WebStore(), FaultPlan()
    server = await serve(store, middlewares=[faults.middleware])
    options = {
        "base_url": server.url,
        "token": DEFAULT_TOKEN,
        "institution": institution,
        "page_size": 2,
        **settings,
    }
    try:
        yield WebSource(store, faults, options)
    finally:
        await server.close()
