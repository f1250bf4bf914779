"""The fake Unit4 ObjectAPI over a real socket: auth, errors, filters and cursor polls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.unit4.fake_server import DEFAULT_TOKEN, Unit4Store, serve
from connectors.unit4.mapping import map_approver_role, map_resource
from connectors.unit4.polling import (
    APPROVER_ROLES,
    RESOURCES,
    Endpoint,
    PollCursor,
    advance,
    is_last_page,
    poll_query,
    rewind,
)
from tests.source_checks import assert_avro, load

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class Clock:
    """A clock that tests move on by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    """A hand-moved clock for the store's lastUpdated stamps."""
    return Clock()


@pytest.fixture
def store(clock: Clock) -> Unit4Store:
    """A store with the golden resource, an external one and a role, one second apart."""
    store = Unit4Store(clock=clock)
    for name in ("resource_regular.json", "resource_external.json"):
        store.put_resource(load("unit4", name))
        clock.tick()
    store.put_approver_role(load("unit4", "approver_role_kostnadsgodkjenner.json"))
    return store


@pytest.fixture
async def server(store: Unit4Store) -> AsyncIterator[TestServer]:
    """The fake running on a free local port."""
    running = await serve(store)
    yield running
    await running.close()


async def get(
    server: TestServer, endpoint: Endpoint, params: dict[str, Any], headers: dict[str, str] = AUTH
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """GET an endpoint with query parameters (None values left out)."""
    query = {k: v for k, v in params.items() if v is not None}
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url(endpoint.path), params=query, headers=headers) as response,
    ):
        return response.status, await response.json(), response


async def poll_all(
    server: TestServer, endpoint: Endpoint, cursor: PollCursor, limit: int
) -> tuple[list[Any], PollCursor]:
    """One poll cycle: pages until a short page, following the cursor."""
    seen: list[Any] = []
    while True:
        query = poll_query(cursor, endpoint, company_id="UH", limit=limit)
        status, page, _ = await get(server, endpoint, query)
        assert status == 200
        seen += page
        cursor = advance(cursor, page, endpoint)
        if is_last_page(page, limit):
            return seen, cursor


class TestProtocol:
    """Auth, required parameters and error bodies as the ObjectAPI gives them."""

    async def test_no_token_is_401(self, server: TestServer) -> None:
        """Without the bearer token the answer is 401 with a Bearer challenge."""
        status, body, response = await get(server, RESOURCES, {"companyId": "UH"}, headers={})
        assert status == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert body["title"] == "Unauthorized"

    async def test_company_is_required(self, server: TestServer) -> None:
        """Without companyId the answer is a 400 problem document."""
        status, body, _ = await get(server, RESOURCES, {})
        assert status == 400
        assert body["status"] == 400
        assert "companyId" in body["detail"]

    @pytest.mark.parametrize(
        "params",
        [
            {"filter": "resourceId eq"},
            {"filter": "resourceId like 'x'"},
            {"filter": "(resourceId eq '1'"},
            {"orderBy": "resourceId sideways"},
            {"limit": "0"},
            {"offset": "-1"},
        ],
    )
    async def test_bad_query_is_400(self, server: TestServer, params: dict[str, str]) -> None:
        """An unreadable filter, order or paging value is a 400 problem document."""
        status, body, _ = await get(server, RESOURCES, {"companyId": "UH", **params})
        assert (status, body["title"]) == (400, "Bad Request")

    async def test_unknown_path_is_404(self, server: TestServer) -> None:
        """An endpoint that does not exist is a 404 problem document."""
        status, body, _ = await get(
            server, Endpoint("suppliers", "supplierId"), {"companyId": "UH"}
        )
        assert (status, body["title"]) == (404, "Not Found")

    async def test_middlewares_wrap_the_app(self, store: Unit4Store) -> None:
        """Extra middlewares (the SDK's fault injection) run before the fake's own."""

        @web.middleware
        async def unavailable(request: web.Request, handler: Callable[..., Any]) -> web.Response:
            return web.json_response({"injected": True}, status=503)

        running = await serve(store, middlewares=[unavailable])
        try:
            status, body, _ = await get(running, RESOURCES, {"companyId": "UH"}, headers={})
            assert (status, body) == (503, {"injected": True})
        finally:
            await running.close()


class TestDocuments:
    """Listing, filters and the store's changes."""

    async def test_list_everything_of_a_company(
        self, server: TestServer, store: Unit4Store
    ) -> None:
        """The list holds the company's documents, stamped with lastUpdated."""
        store.put_resource({"companyId": "OTHER", "resourceId": "1"})
        status, page, _ = await get(server, RESOURCES, {"companyId": "UH", "orderBy": "resourceId"})
        assert status == 200
        assert [d["resourceId"] for d in page] == ["00123456", "EXT-0042"]
        assert page[0]["lastUpdated"] == {
            "updatedAt": "2026-11-20T08:00:00.000Z",
            "updatedBy": "HUBTEST",
        }

    async def test_filter_one_resource(self, server: TestServer) -> None:
        """A filter on resourceId fetches one resource, which maps to a valid record."""
        status, page, _ = await get(
            server, RESOURCES, {"companyId": "UH", "filter": "resourceId eq '00123456'"}
        )
        assert status == 200
        [document] = page
        record = map_resource(document, institution="uib", fetched_at=START)
        assert_avro(record, "no.bott.hub.unit4.Resource")
        assert record["employee_id"] == "123456"

    async def test_nested_and_logical_filters(self, server: TestServer) -> None:
        """Paths, and/or/not and timestamps filter as the ObjectAPI does."""
        status, page, _ = await get(
            server,
            RESOURCES,
            {
                "companyId": "UH",
                "filter": "not (status eq 'C') and lastUpdated/updatedAt lt 2026-11-20T08:00:01Z",
            },
        )
        assert status == 200
        assert [d["resourceId"] for d in page] == ["00123456"]

    async def test_roles_and_deletion(self, server: TestServer, store: Unit4Store) -> None:
        """Approver roles are listed and map; a deleted one is gone from the list."""
        status, page, _ = await get(server, APPROVER_ROLES, {"companyId": "UH"})
        assert status == 200
        [document] = page
        record = map_approver_role(document, institution="uib", fetched_at=START)
        assert_avro(record, "no.bott.hub.unit4.ApproverRole")
        store.delete_approver_role("AR-000981")
        store.delete_resource("EXT-0042")
        assert (await get(server, APPROVER_ROLES, {"companyId": "UH"}))[1] == []
        assert len((await get(server, RESOURCES, {"companyId": "UH"}))[1]) == 1


class TestCursorPolling:
    """The cursor reads every change once per cycle, across pages and later changes."""

    async def test_pages_then_only_changes(
        self, server: TestServer, store: Unit4Store, clock: Clock
    ) -> None:
        """Seven resources read two at a time, then only the one changed since."""
        for number in range(5):
            store.put_resource({"companyId": "UH", "resourceId": f"0000010{number}"})
        seen, cursor = await poll_all(server, RESOURCES, PollCursor(), limit=2)
        assert len(seen) == 7
        assert len({d["resourceId"] for d in seen}) == 7
        clock.tick(60)
        store.put_resource({"companyId": "UH", "resourceId": "00000101", "status": "C"})
        changed, after = await poll_all(server, RESOURCES, cursor, limit=2)
        assert [d["resourceId"] for d in changed] == ["00000101"]
        assert after.updated_at == clock.now
        nothing, same = await poll_all(server, RESOURCES, after, limit=2)
        assert (nothing, same) == ([], after)

    async def test_same_timestamp_across_a_page_boundary(
        self, server: TestServer, store: Unit4Store
    ) -> None:
        """Many documents with one updatedAt are all read, none twice (keyset, no offset)."""
        for number in range(9):
            store.put_resource({"companyId": "UH", "resourceId": f"0000020{number}"})
        seen, _ = await poll_all(server, RESOURCES, PollCursor(), limit=3)
        ids = [d["resourceId"] for d in seen]
        assert len(ids) == len(set(ids)) == 11

    async def test_rewind_rereads_the_overlap(
        self, server: TestServer, store: Unit4Store, clock: Clock
    ) -> None:
        """A rewound cycle reads again what changed within the overlap, never less."""
        _, cursor = await poll_all(server, RESOURCES, PollCursor(), limit=10)
        again, _ = await poll_all(server, RESOURCES, rewind(cursor, timedelta(seconds=1)), limit=10)
        assert {d["resourceId"] for d in again} == {"00123456", "EXT-0042"}
