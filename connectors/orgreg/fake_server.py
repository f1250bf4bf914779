"""A fake OrgReg v3 API for tests and the demo.

It answers as OrgReg does behind its API gateway (see docs/sources/orgreg.md):

* ``GET /v3/ou`` lists every unit (a JSON list, no paging): the full listing the
  hub reloads its reference data from.
* ``GET /v3/ou/{ouId}`` gives one unit; ``GET /v3/ou/search/legacy_stedkode/{code}``
  the units with that ``sapuio/legacy_stedkode`` key; ``GET /v3/version`` the version.
* Every answer from OrgReg itself carries the header ``X-OrgReg-Response-For``: a 404
  with it means "no such unit", a 404 without it came from the gateway (an unknown
  API), and clients must tell the two apart.
* The gateway checks ``X-Gravitee-Api-Key`` and answers 401 with its own body
  (``{"message", "http_status_code"}``) and without OrgReg's header.

:class:`OrgRegStore` holds the units; tests add, change and remove them.
:func:`make_app` takes extra middlewares (the SDK's fault injection) and
:func:`serve` runs the app on a local port.

:class:`OrgRegSource` and :func:`orgreg_source` at the end drive it for the conformance
kit (:mod:`connectors.testing.conformance`).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors import fake_http
from connectors.testing.faults import FaultPlan

__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_API_KEY",
    "RESPONSE_HEADER",
    "OrgRegSource",
    "OrgRegStore",
    "make_app",
    "orgreg_source",
    "sample_unit",
    "serve",
]

API_KEY_HEADER = "X-Gravitee-Api-Key"
RESPONSE_HEADER = "X-OrgReg-Response-For"
DEFAULT_API_KEY = "orgreg-test-key"
VERSION = "3.4.0"
API_PREFIX = "/v3/"
Unit = dict[str, Any]


@dataclass
class OrgRegStore:
    """OrgReg's units by ouId."""

    units: dict[int, Unit] = field(default_factory=dict)

    def put(self, unit: Mapping[str, Any]) -> None:
        """Add or replace a unit (by its ``ouId``)."""
        stored = copy.deepcopy(dict(unit))
        self.units[int(stored["ouId"])] = stored

    def delete(self, ou_id: int) -> None:
        """Remove a unit (OrgReg closes units with validTo; tests may also delete)."""
        self.units.pop(ou_id, None)

    def listing(self) -> list[Unit]:
        """Every unit, by ouId."""
        return [copy.deepcopy(self.units[key]) for key in sorted(self.units)]


def _answer(request: web.Request, body: object, status: int = 200) -> web.Response:
    """An answer from OrgReg itself, with its header."""
    response = web.json_response(body, status=status)
    response.headers[RESPONSE_HEADER] = request.path
    return response


def _error(request: web.Request, status: int, error: str) -> web.Response:
    body = {"status": status, "error": error, "path": request.path}
    return _answer(request, body, status)


def _keys(unit: Unit) -> list[object]:
    """A unit's external keys (a single one may be stored unwrapped)."""
    keys = unit.get("externalKeys") or []
    return [keys] if isinstance(keys, dict) else list(keys)


def _handlers(store: OrgRegStore) -> list[web.RouteDef]:
    async def listing(request: web.Request) -> web.Response:
        return _answer(request, store.listing())

    async def one(request: web.Request) -> web.Response:
        raw = request.match_info["ou_id"]
        if not raw.isdigit():
            return _error(request, 400, "Bad Request")
        unit = store.units.get(int(raw))
        return _answer(request, unit) if unit else _error(request, 404, "Not Found")

    async def by_legacy_code(request: web.Request) -> web.Response:
        code = request.match_info["code"]
        wanted = {"sourceSystem": "sapuio", "type": "legacy_stedkode", "value": code}
        found = [unit for unit in store.listing() if wanted in _keys(unit)]
        return _answer(request, found)

    async def version(request: web.Request) -> web.Response:
        return _answer(request, {"version": VERSION})

    return [
        web.get("/v3/ou", listing),
        web.get("/v3/ou/search/legacy_stedkode/{code}", by_legacy_code),
        web.get("/v3/ou/{ou_id}", one),
        web.get("/v3/version", version),
    ]


def _gateway(api_key: str) -> fake_http.Middleware:
    """The API gateway: the key check, and its own 404 for paths outside OrgReg's API."""

    @web.middleware
    async def check(request: web.Request, handler: fake_http.Handler) -> web.StreamResponse:
        if request.headers.get(API_KEY_HEADER) != api_key:
            return web.json_response(
                {"message": "Unauthorized", "http_status_code": 401}, status=401
            )
        try:
            return await handler(request)
        except web.HTTPNotFound:
            if request.path.startswith(API_PREFIX):
                return _error(request, 404, "Not Found")
            return web.json_response(
                {"message": "No context-path matches the request URI.", "http_status_code": 404},
                status=404,
            )

    return check


def make_app(
    store: OrgRegStore,
    *,
    api_key: str = DEFAULT_API_KEY,
    middlewares: Iterable[fake_http.Middleware] = (),
) -> web.Application:
    """The fake OrgReg over ``store``; ``middlewares`` run first (fault injection)."""
    return fake_http.application(middlewares, _gateway(api_key), routes=_handlers(store))


async def serve(
    store: OrgRegStore, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> fake_http.RunningServer:
    """Run the fake on ``host:port`` (0: any free port); ``await server.close()`` stops it."""
    return await fake_http.serve_app(make_app(store, **options), host, port)


# -- the conformance kit's view of the fake (connectors.testing.conformance) -------------


def sample_unit(ou_id: int, **fields: Any) -> Unit:
    """A unit as OrgReg lists it, under the root (ouId 1)."""
    unit: Unit = {
        "ouId": ou_id,
        "parent": 1,
        "validFrom": "2020-01-01",
        "validTo": None,
        "name": {"nob": f"Enhet {ou_id}", "eng": f"Unit {ou_id}"},
        "externalKeys": [
            {"sourceSystem": "dfo_sap", "type": "dfo_org_id", "value": f"5000{ou_id:04d}"}
        ],
    }
    return unit | fields


@dataclass
class OrgRegSource:
    """Drives a running fake OrgReg: each ``add`` is a unit the next listing shows (OrgReg
    announces nothing); ``faults`` is the server's fault plan."""

    store: OrgRegStore
    faults: FaultPlan
    settings: Mapping[str, object]
    next_id: int = 2000

    def sample(self, **fields: Any) -> Unit:
        """A new unit."""
        self.next_id += 1
        return sample_unit(self.next_id, **fields)

    def put(self, unit: Unit) -> str:
        """Store a unit; return its record key."""
        self.store.put(unit)
        return str(unit["ouId"])

    async def add(self, count: int) -> list[str]:
        return [self.put(self.sample()) for _ in range(count)]

    async def add_malformed(self) -> str:
        return self.put(self.sample(validFrom=None))

    async def remove_silently(self, key: str) -> None:
        self.store.delete(int(key))


@contextlib.asynccontextmanager
async def orgreg_source(
    institution: str = "uio", **settings: object
) -> AsyncIterator[OrgRegSource]:
    """A running fake OrgReg with fault injection, and the settings to reach it."""
    store, faults = OrgRegStore(), FaultPlan()
    server = await serve(store, middlewares=[faults.middleware])
    options = {"base_url": server.url, "api_key": DEFAULT_API_KEY, "institution": institution}
    try:
        yield OrgRegSource(store, faults, {**options, **settings})
    finally:
        await server.close()
