"""The fake person-page export over a real socket: pages, listing and the change cursor."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.web.fake_server import DEFAULT_TOKEN, WebStore, serve
from connectors.web.mapping import map_profile, profiles
from connectors.web.polling import (
    CHANGES_PATH,
    PROFILES_PATH,
    ChangePage,
    changes_query,
    parse_changes,
)
from tests.source_checks import assert_avro, load

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def store() -> WebStore:
    """The two golden pages, stored a minute apart."""
    moments = iter(START + timedelta(minutes=n) for n in range(1000))
    store = WebStore(clock=lambda: next(moments))
    for name in ("profile_from_iam.json", "profile_manual.json"):
        store.put(load("web", name))
    return store


@pytest.fixture
async def server(store: WebStore) -> AsyncIterator[TestServer]:
    """The fake running on a free local port."""
    running = await serve(store)
    yield running
    await running.close()


async def get(
    server: TestServer,
    path: str,
    params: dict[str, str] | None = None,
    headers: dict[str, str] = AUTH,
) -> tuple[int, bytes]:
    """GET a path of the fake; the status and raw body."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url(path), params=params or {}, headers=headers) as response,
    ):
        return response.status, await response.read()


async def poll(server: TestServer, since: str | None, limit: int = 100) -> ChangePage:
    """One poll of the change listing, parsed strictly."""
    status, body = await get(server, CHANGES_PATH, changes_query(since, limit=limit))
    assert status == 200
    return parse_changes(body, since=since)


class TestPages:
    """One page, the full listing and the errors."""

    async def test_no_token_is_401(self, server: TestServer) -> None:
        """Without the bearer token the answer is 401."""
        status, body = await get(server, PROFILES_PATH, headers={})
        assert status == 401
        assert b"Unauthorized" in body

    async def test_one_page_maps(self, server: TestServer) -> None:
        """A page fetched by its path maps to a valid record, stamped lastModified."""
        status, body = await get(server, PROFILES_PATH + "/personer/mn/ibv/kno012")
        assert status == 200
        record = map_profile(json.loads(body), institution="uib", fetched_at=START)
        assert_avro(record, "no.bott.hub.web.Profile")
        assert record["profile_id"] == "/personer/mn/ibv/kno012"

    async def test_missing_page_is_404(self, server: TestServer) -> None:
        """No page at a path: 404 naming the path."""
        status, body = await get(server, PROFILES_PATH + "/personer/ingen")
        assert status == 404
        assert b"No person page at /personer/ingen" in body

    async def test_listing_pages_through_everything(
        self, server: TestServer, store: WebStore
    ) -> None:
        """The listing pages through every page, with the total."""
        for number in range(3):
            store.put({"uri": f"/personer/p{number}", "resourcetype": "person"})
        seen: list[object] = []
        for offset in range(0, 10, 2):
            status, body = await get(server, PROFILES_PATH, {"limit": "2", "offset": str(offset)})
            assert status == 200
            documents, total = profiles(json.loads(body))
            seen += documents
            assert total == 5
        assert len(seen) == 5

    @pytest.mark.parametrize("params", [{"limit": "0"}, {"offset": "x"}, {"limit": "10001"}])
    async def test_bad_paging_is_400(self, server: TestServer, params: dict[str, str]) -> None:
        """A paging value out of range is a 400."""
        assert (await get(server, PROFILES_PATH, params))[0] == 400

    async def test_middlewares_wrap_the_app(self, store: WebStore) -> None:
        """Extra middlewares (the SDK's fault injection) run before the fake's own."""

        @web.middleware
        async def slow_down(request: web.Request, handler: Callable[..., Any]) -> web.Response:
            return web.json_response({"injected": True}, status=429)

        running = await serve(store, middlewares=[slow_down])
        try:
            assert (await get(running, PROFILES_PATH, headers={}))[0] == 429
        finally:
            await running.close()


class TestChangeCursor:
    """The change listing gives each change once, in order, and deletions too."""

    async def test_first_poll_then_only_changes(self, server: TestServer, store: WebStore) -> None:
        """Both pages at first; then only the page edited and the one deleted."""
        first = await poll(server, None)
        assert [c.uri for c in first.changes] == [
            "/personer/mn/ibv/kno012",
            "/personer/adm/oko/kari-nordmann",
        ]
        assert (first.next_since, first.more) == ("2", False)
        store.put(load("web", "profile_from_iam.json"))
        store.delete("/personer/adm/oko/kari-nordmann")
        second = await poll(server, first.next_since)
        assert [(c.uri, c.deleted) for c in second.changes] == [
            ("/personer/mn/ibv/kno012", False),
            ("/personer/adm/oko/kari-nordmann", True),
        ]
        assert second.changes[0].at == START + timedelta(minutes=2)
        assert await poll(server, second.next_since) == ChangePage((), "4", False)

    async def test_small_pages_say_there_is_more(self, server: TestServer, store: WebStore) -> None:
        """With limit 1 the listing says there is more until the last change."""
        since: str | None = None
        uris: list[str] = []
        while True:
            page = await poll(server, since, limit=1)
            uris += [c.uri for c in page.changes]
            since = page.next_since
            if not page.more:
                break
        assert len(uris) == 2
        assert since == "2"
