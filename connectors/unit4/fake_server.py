"""A fake Unit4 ERPx ObjectAPI for tests and the demo: resources and approver roles.

It answers as the ObjectAPI does (see docs/sources/unit4.md for what is inferred):

* ``GET /v1/objects/resources`` and ``GET /v1/objects/approver-roles`` with the
  query parameters ``companyId`` (required), ``filter``, ``orderBy``, ``limit`` and
  ``offset``. The answer is a JSON list of Enterprise Documents, each with
  ``lastUpdated {updatedAt, updatedBy}``; paging ends with a page shorter than
  ``limit``. ``select`` is accepted and ignored (whole documents come back).
* ``Authorization: Bearer <token>``; without the right token: 401 with
  ``WWW-Authenticate: Bearer``.
* Errors are problem documents (``{"type", "title", "status", "detail"}``): 400 for
  an unreadable filter or paging value, 404 for an unknown path.

:class:`Unit4Store` is the in-memory data; tests change it (``put_resource``,
``put_approver_role``, ``delete_…``) and each change stamps ``lastUpdated`` from the
store's clock, so cursor polls see it. :func:`make_app` takes extra middlewares
(the SDK's fault injection) and :func:`serve` runs the app on a local port.

:class:`Unit4Source` and :func:`unit4_source` at the end drive it for the conformance
kit (:mod:`connectors.testing.conformance`).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from connectors import fake_http
from connectors.testing.faults import FaultPlan
from connectors.unit4.odata import QueryError, matches, order, parse_filter, parse_order
from connectors.unit4.polling import APPROVER_ROLES, RESOURCES, Endpoint, format_timestamp

__all__ = [
    "COMPANY",
    "DEFAULT_TOKEN",
    "Unit4Source",
    "Unit4Store",
    "make_app",
    "sample_approver_role",
    "sample_resource",
    "serve",
    "unit4_source",
]

DEFAULT_TOKEN = "unit4-test-token"  # noqa: S105 - a fake server's fake token
COMPANY = "UH"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
Document = dict[str, Any]


@dataclass
class Unit4Store:
    """Unit4's documents by company, endpoint and key; each change stamps ``lastUpdated``."""

    clock: Callable[[], datetime] = fake_http.wall_clock
    updated_by: str = "HUBTEST"
    documents: dict[str, dict[str, Document]] = field(default_factory=dict)

    def _put(self, endpoint: Endpoint, document: Mapping[str, Any]) -> Document:
        stored = copy.deepcopy(dict(document))
        stored["lastUpdated"] = {
            "updatedAt": format_timestamp(self.clock()),
            "updatedBy": self.updated_by,
        }
        key = str(stored[endpoint.key])
        self.documents.setdefault(endpoint.documents, {})[key] = stored
        return copy.deepcopy(stored)

    def put_resource(self, document: Mapping[str, Any]) -> Document:
        """Add or replace a resource (by ``resourceId``); returns it as stored."""
        return self._put(RESOURCES, document)

    def put_approver_role(self, document: Mapping[str, Any]) -> Document:
        """Add or replace an approver role (by ``assignmentId``); returns it as stored."""
        return self._put(APPROVER_ROLES, document)

    def delete_resource(self, resource_id: str) -> None:
        """Remove a resource (Unit4 closes rather than deletes; tests may do both)."""
        self.documents.get(RESOURCES.documents, {}).pop(resource_id, None)

    def delete_approver_role(self, assignment_id: str) -> None:
        """Remove an approver role assignment."""
        self.documents.get(APPROVER_ROLES.documents, {}).pop(assignment_id, None)

    def all(self, endpoint: Endpoint) -> list[Document]:
        """Every stored document of an endpoint, as stored."""
        return [copy.deepcopy(d) for d in self.documents.get(endpoint.documents, {}).values()]


def _problem(status: int, title: str, detail: str) -> web.Response:
    body = {"type": f"https://httpstatuses.io/{status}", "title": title, "status": status}
    return web.json_response({**body, "detail": detail}, status=status)


def _bad_request(detail: str) -> web.Response:
    return _problem(400, "Bad Request", detail)


def _paging(request: web.Request) -> tuple[int, int]:
    limit = request.query.get("limit", str(DEFAULT_LIMIT))
    offset = request.query.get("offset", "0")
    if not limit.isdigit() or not offset.isdigit() or not 0 < int(limit) <= MAX_LIMIT:
        raise QueryError(f"limit must be 1 to {MAX_LIMIT} and offset a whole number")
    return int(limit), int(offset)


def _select(documents: Iterable[Document], request: web.Request) -> list[Document]:
    selected = list(documents)
    if request.query.get("filter"):
        expression = parse_filter(request.query["filter"])
        selected = [d for d in selected if matches(expression, d)]
    if request.query.get("orderBy"):
        selected = [dict(d) for d in order(selected, parse_order(request.query["orderBy"]))]
    return selected


def _list_handler(store: Unit4Store, endpoint: Endpoint) -> fake_http.Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        company = request.query.get("companyId", "").strip()
        if not company:
            return _bad_request("The companyId query parameter is required.")
        try:
            limit, offset = _paging(request)
            documents = [d for d in store.all(endpoint) if d.get("companyId") == company]
            page = _select(documents, request)[offset : offset + limit]
        except QueryError as problem:
            return _bad_request(str(problem))
        return web.json_response(page, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    return handle


def _unauthorized() -> web.Response:
    response = _problem(401, "Unauthorized", "A valid bearer token is required.")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


@web.middleware
async def _not_found(request: web.Request, handler: fake_http.Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return _problem(404, "Not Found", f"No endpoint at {request.path}.")
    except web.HTTPMethodNotAllowed:
        return _problem(405, "Method Not Allowed", f"{request.method} is not allowed here.")


def make_app(
    store: Unit4Store,
    *,
    token: str = DEFAULT_TOKEN,
    middlewares: Iterable[fake_http.Middleware] = (),
) -> web.Application:
    """The fake ObjectAPI over ``store``; ``middlewares`` run first (fault injection)."""
    routes = [web.get(e.path, _list_handler(store, e)) for e in (RESOURCES, APPROVER_ROLES)]
    own = [_not_found, fake_http.bearer_token(token, _unauthorized)]
    return fake_http.application(middlewares, *own, routes=routes)


async def serve(
    store: Unit4Store, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> fake_http.RunningServer:
    """Run the fake on ``host:port`` (0: any free port); ``await server.close()`` stops it.

    ``server.make_url("/v1/objects/resources")`` is the resources endpoint.
    """
    return await fake_http.serve_app(make_app(store, **options), host, port)


# -- the conformance kit's view of the fake (connectors.testing.conformance) -------------


def sample_resource(number: int, **fields: Any) -> Document:
    """A resource document as the ObjectAPI gives it (zero-padded id, 2099-12-31)."""
    document: Document = {
        "companyId": COMPANY,
        "resourceId": f"{number:08d}",
        "name": f"Nordmann, Kari{number % 97}",
        "status": "N",
        "dateFrom": "2020-01-01",
        "dateTo": "2099-12-31",
        "userId": f"KN{number}",
        "relations": [
            {"attributeId": "C1", "attributeValue": "123400", "dateFrom": "2020-01-01"},
            {"attributeId": "ORGID", "attributeValue": "50001234", "dateFrom": "2020-01-01"},
        ],
        "contactPoints": [{"contactPointType": "1", "eMail": f"kn{number}@example.org"}],
    }
    return document | fields


def sample_approver_role(number: int, **fields: Any) -> Document:
    """An approver-role assignment document."""
    document: Document = {
        "companyId": COMPANY,
        "assignmentId": f"AR-{number:06d}",
        "resourceId": f"{number:08d}",
        "roleId": "KOSTNADSGODKJENNER",
        "budgetAuthority": True,
        "costCentre": "123400",
        "dateFrom": "2020-01-01",
        "dateTo": "2099-12-31",
    }
    return document | fields


@dataclass
class Unit4Source:
    """Drives a running fake for one Unit4 connector (``endpoint``): each ``add`` is a
    change the next cursor poll sees; ``faults`` is the server's fault plan."""

    store: Unit4Store
    endpoint: Endpoint
    faults: FaultPlan
    settings: Mapping[str, object]
    next_number: int = 200_000
    stored_ids: dict[str, str] = field(default_factory=dict)  # record key -> document id

    def put(self, document: Document) -> str:
        """Store a document (a change, stamped now); return its record key."""
        if self.endpoint == RESOURCES:
            self.store.put_resource(document)
            key = str(document["resourceId"]).lstrip("0") or "0"
        else:
            self.store.put_approver_role(document)
            key = str(document["assignmentId"])
        self.stored_ids[key] = str(document[self.endpoint.key])
        return key

    def sample(self, **fields: Any) -> Document:
        """A new document for this endpoint."""
        self.next_number += 1
        make = sample_resource if self.endpoint == RESOURCES else sample_approver_role
        return make(self.next_number, **fields)

    async def add(self, count: int) -> list[str]:
        return [self.put(self.sample()) for _ in range(count)]

    async def add_malformed(self) -> str:
        return self.put(self.sample(dateTo="2026-13-45"))

    async def remove_silently(self, key: str) -> None:
        stored = self.stored_ids[key]
        if self.endpoint == RESOURCES:
            self.store.delete_resource(stored)
        else:
            self.store.delete_approver_role(stored)


@contextlib.asynccontextmanager
async def unit4_source(
    endpoint: Endpoint, institution: str = "uio", **settings: object
) -> AsyncIterator[Unit4Source]:
    """A running fake ObjectAPI with fault injection, and the settings to reach it."""
    store, faults = Unit4Store(), FaultPlan()
    server = await serve(store, middlewares=[faults.middleware])
    options = {
        "base_url": server.url,
        "token": DEFAULT_TOKEN,
        "company_id": COMPANY,
        "institution": institution,
        "page_size": 2,
        **settings,
    }
    try:
        yield Unit4Source(store, endpoint, faults, options)
    finally:
        await server.close()
