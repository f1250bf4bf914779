"""The fake OrgReg over a real socket: the gateway's key check, listing, lookups and 404s."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.orgreg.fake_server import (
    API_KEY_HEADER,
    DEFAULT_API_KEY,
    RESPONSE_HEADER,
    OrgRegStore,
    serve,
)
from connectors.orgreg.mapping import map_org_unit, units
from tests.source_checks import assert_avro, load

KEY = {API_KEY_HEADER: DEFAULT_API_KEY}
FETCHED_AT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


@pytest.fixture
def store() -> OrgRegStore:
    """The golden listing: root, department and a closed section."""
    store = OrgRegStore()
    for document in load("orgreg", "ou_listing.json"):
        store.put(document)
    return store


@pytest.fixture
async def server(store: OrgRegStore) -> AsyncIterator[TestServer]:
    """The fake running on a free local port."""
    running = await serve(store)
    yield running
    await running.close()


async def get(
    server: TestServer, path: str, headers: dict[str, str] = KEY
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """GET a path of the fake."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url(path), headers=headers) as response,
    ):
        return response.status, await response.json(), response


class TestGateway:
    """The API gateway's key check and its own answers."""

    async def test_no_key_is_401_from_the_gateway(self, server: TestServer) -> None:
        """Without the key the gateway answers 401, without OrgReg's header."""
        status, body, response = await get(server, "/v3/ou", headers={})
        assert (status, body) == (401, {"message": "Unauthorized", "http_status_code": 401})
        assert RESPONSE_HEADER not in response.headers

    async def test_unknown_api_is_a_gateway_404(self, server: TestServer) -> None:
        """A path outside OrgReg's API is the gateway's 404, which names no unit."""
        status, body, response = await get(server, "/v2/ou/1430")
        assert (status, body["http_status_code"]) == (404, 404)
        assert RESPONSE_HEADER not in response.headers

    async def test_middlewares_wrap_the_app(self, store: OrgRegStore) -> None:
        """Extra middlewares (the SDK's fault injection) run before the gateway."""

        @web.middleware
        async def broken(request: web.Request, handler: Callable[..., Any]) -> web.Response:
            return web.json_response({"injected": True}, status=502)

        running = await serve(store, middlewares=[broken])
        try:
            assert (await get(running, "/v3/ou"))[:2] == (502, {"injected": True})
        finally:
            await running.close()


class TestUnits:
    """Listing, lookups and OrgReg's own errors."""

    async def test_listing_maps_every_unit(self, server: TestServer) -> None:
        """The listing holds every unit, each of which maps to a valid record."""
        status, body, response = await get(server, "/v3/ou")
        assert status == 200
        assert response.headers[RESPONSE_HEADER] == "/v3/ou"
        records = [map_org_unit(u, institution="uio", fetched_at=FETCHED_AT) for u in units(body)]
        for record in records:
            assert_avro(record, "no.bott.hub.orgreg.OrgUnit")
        assert [r["ou_id"] for r in records] == ["1", "1430", "1488"]

    async def test_one_unit(self, server: TestServer, store: OrgRegStore) -> None:
        """One unit by id, and the store's changes show."""
        status, body, _ = await get(server, "/v3/ou/1430")
        assert (status, body["ouId"]) == (200, 1430)
        store.put(body | {"validTo": "2026-12-31"})
        assert (await get(server, "/v3/ou/1430"))[1]["validTo"] == "2026-12-31"
        store.delete(1430)
        assert (await get(server, "/v3/ou/1430"))[0] == 404

    async def test_unknown_unit_is_orgreg_404(self, server: TestServer) -> None:
        """No such unit: 404 with OrgReg's header, so a client knows the unit is gone."""
        status, body, response = await get(server, "/v3/ou/999999")
        assert (status, body["error"]) == (404, "Not Found")
        assert response.headers[RESPONSE_HEADER] == "/v3/ou/999999"

    async def test_bad_id_is_400(self, server: TestServer) -> None:
        """An id that is not a number is a 400 from OrgReg."""
        status, body, _ = await get(server, "/v3/ou/abc")
        assert (status, body["status"]) == (400, 400)

    async def test_search_legacy_code(self, server: TestServer) -> None:
        """Units are found by their sapuio/legacy_stedkode."""
        status, body, _ = await get(server, "/v3/ou/search/legacy_stedkode/151400")
        assert (status, [u["ouId"] for u in body]) == (200, [1430])
        assert (await get(server, "/v3/ou/search/legacy_stedkode/000000"))[1] == []

    async def test_version(self, server: TestServer) -> None:
        """The version endpoint answers."""
        status, body, _ = await get(server, "/v3/version")
        assert status == 200
        assert body["version"].startswith("3.")
