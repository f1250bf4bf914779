"""The IAM connectors' full listings against their fakes (no Kafka): every page is read,
a list that changes while it is paged is read again rather than trusted, and Cerebrum's
listing reaches persons through accounts and affiliations alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from connectors.cerebrum.connector import CerebrumPersonConnector, CerebrumSettings
from connectors.cerebrum.fake_server import CerebrumStore, sample_account, sample_person
from connectors.cerebrum.fake_server import make_app as cerebrum_app
from connectors.fake_http import Handler, serve_app
from connectors.felles_iam.connector import FellesIamAccountConnector, FellesIamSettings
from connectors.felles_iam.fake_server import FellesIamStore, sample_user
from connectors.felles_iam.fake_server import make_app as felles_iam_app
from connectors.greg.connector import GregPersonConnector, GregSettings
from connectors.greg.fake_server import GregStore, sample_guest
from connectors.greg.fake_server import make_app as greg_app
from connectors.sdk.connector import Connector
from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.items import Item, Upsert

KEY = "listing-key"


def _meddler(after: int, change: Callable[[], None]) -> Any:
    """A middleware that changes the store once ``after`` requests have been answered."""
    seen = [0]

    @web.middleware
    async def meddle(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        seen[0] += 1
        if seen[0] == after:
            change()
        return response

    return meddle


async def _listing(connector: Connector[Any]) -> list[Item]:
    await connector.setup()
    try:
        return [item async for item in connector.list_all()]
    finally:
        await connector.teardown()


def _keys(items: list[Item]) -> list[str]:
    return sorted(str(i.record["source_id"]) for i in items if isinstance(i, Upsert))


@pytest.fixture
def greg() -> GregStore:
    store = GregStore(api_keys={KEY}, page_size=2)
    for number in range(1, 6):
        store.put_person(sample_guest(number))
    return store


@pytest.fixture
def felles_iam() -> FellesIamStore:
    store = FellesIamStore(api_keys={KEY})
    for number in range(1, 6):
        store.put_user(sample_user(number))
    return store


async def _served(app: web.Application) -> AsyncIterator[str]:
    async with await serve_app(app) as server:
        yield server.url


class TestGreg:
    async def test_every_page(self, greg: GregStore) -> None:
        """Three pages of two: every guest once."""
        async for url in _served(greg_app(greg)):
            connector = GregPersonConnector(GregSettings(base_url=url, api_key=KEY))
            assert _keys(await _listing(connector)) == ["1", "2", "3", "4", "5"]

    async def test_a_list_changing_under_it_is_read_again(self, greg: GregStore) -> None:
        """A guest deleted after the first page moves the rest forward: not trusted."""
        meddle = _meddler(1, lambda: greg.delete_person(1))
        async for url in _served(greg_app(greg, middlewares=[meddle])):
            connector = GregPersonConnector(GregSettings(base_url=url, api_key=KEY))
            with pytest.raises(SourceUnavailableError, match="changed while it was read"):
                await _listing(connector)


class TestFellesIam:
    async def test_every_page(self, felles_iam: FellesIamStore) -> None:
        async for url in _served(felles_iam_app(felles_iam)):
            settings = FellesIamSettings(base_url=f"{url}/scim/v2", api_key=KEY, page_size=2)
            items = await _listing(FellesIamAccountConnector(settings))
            assert _keys(items) == sorted(f"{n:032x}" for n in range(1, 6))

    async def test_a_list_changing_under_it_is_read_again(self, felles_iam: FellesIamStore) -> None:
        meddle = _meddler(1, lambda: felles_iam.delete_user(f"{1:032x}"))
        async for url in _served(felles_iam_app(felles_iam, middlewares=[meddle])):
            settings = FellesIamSettings(base_url=f"{url}/scim/v2", api_key=KEY, page_size=2)
            with pytest.raises(SourceUnavailableError, match="changed while it was read"):
                await _listing(FellesIamAccountConnector(settings))


async def test_cerebrum_lists_account_owners_and_affiliated_persons() -> None:
    """A person with only an account, one with only an affiliation and one with both are
    listed; one with neither is out of reach."""
    store = CerebrumStore(api_keys={KEY})
    store.put_person(sample_person(1, affiliations=[]))
    store.put_account(sample_account(1, 1))
    store.put_person(sample_person(2))
    store.put_person(sample_person(3))
    store.put_account(sample_account(3, 3))
    store.put_person(sample_person(4, affiliations=[]))
    async for url in _served(cerebrum_app(store)):
        settings = CerebrumSettings(base_url=url, api_key=KEY, institution="uio")
        assert _keys(await _listing(CerebrumPersonConnector(settings))) == ["1", "2", "3"]
