"""What the fake-server tests share: a running fake and a client for it, and GET."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from connectors.fake_http import RunningServer

Answer = tuple[int, Any, CIMultiDictProxy[str]]


def fake_fixtures(
    serve: Callable[[Any], Awaitable[RunningServer]], headers: Mapping[str, str]
) -> tuple[Any, Any]:
    """The ``server`` fixture (the fake over the test's ``store`` fixture, on a free
    port) and the ``client`` fixture (a session that sends ``headers``)."""

    @pytest.fixture
    async def server(store: Any) -> AsyncIterator[RunningServer]:
        """The fake over ``store`` on a free local port."""
        async with await serve(store) as running:
            yield running

    @pytest.fixture
    async def client() -> AsyncIterator[aiohttp.ClientSession]:
        """An HTTP client that presents the API key."""
        async with aiohttp.ClientSession(headers=dict(headers)) as session:
            yield session

    return server, client


async def get(
    client: aiohttp.ClientSession, server: RunningServer, path: str, **params: str
) -> Answer:
    """GET a path: status, the parsed JSON (or the text) and the headers."""
    async with client.get(server.url + path, params=params) as response:
        if response.content_type.endswith("json"):
            body = await response.json(content_type=None)
        else:
            body = await response.text()
        return response.status, body, response.headers
