"""Tests for the fake Felles IAM: the SCIM API over a real socket, and its notifications."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.fake_http import Handler, RunningServer, serve_app
from connectors.felles_iam.fake_server import FellesIamStore, make_app, parse_filter, serve
from connectors.felles_iam.mapping import ENTERPRISE_EXTENSION, map_user
from connectors.felles_iam.notifications import advance, parse_notification, poll_query, read_list
from tests.fake_support import fake_fixtures, get
from tests.source_checks import SECRET, assert_avro, load

KEY = "felles-iam-test-key"
KARI = "362ff2749bfb11eabbd5600308a4105a"
INGRID = "9c1d2e3f-4a5b-4c6d-8e7f-001122334455"
ADMIN = "7b00aa11-0000-4000-8000-00000000a001"
START = datetime(2026, 11, 22, 8, tzinfo=UTC)


class Clock:
    """A clock the tests move forward."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: int = 1) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock() -> Clock:
    """The store's clock, at 08:00 UTC."""
    return Clock()


@pytest.fixture
def store(clock: Clock) -> FellesIamStore:
    """The three golden Users at UiB, their notifications taken."""
    felles = FellesIamStore(institution="uib", domain="uib.no", api_keys={KEY}, clock=clock)
    for name in ("user_employee.json", "user_guest.json", "user_admin.json"):
        felles.put_user(load("felles_iam", name))
    felles.take_notifications()
    return felles


server, client = fake_fixtures(serve, {"X-Gravitee-Api-Key": KEY})


async def list_users(
    client: aiohttp.ClientSession, server: RunningServer, **query: str
) -> list[dict[str, Any]]:
    """Every User the query finds, page by page."""
    found: list[dict[str, Any]] = []
    start: int | None = 1
    while start is not None:
        paged = {**query, "startIndex": str(start)}
        status, body, headers = await get(client, server, "/scim/v2/Users", **paged)
        assert status == 200
        assert headers["Content-Type"].startswith("application/scim+json")
        page = read_list(body)
        found.extend(dict(user) for user in page.resources)
        start = page.next_start_index
    return found


class TestUsers:
    """Users come back as SCIM JSON, and their absence as a SCIM error."""

    async def test_user(
        self, client: aiohttp.ClientSession, server: RunningServer, store: FellesIamStore
    ) -> None:
        """A User comes back with meta kept by the store, and maps validly."""
        status, body, _ = await get(client, server, f"/scim/v2/Users/{KARI}")
        assert status == 200
        assert body["userName"] == "kno012@uib.no"
        assert body["meta"] == {
            "resourceType": "User",
            "created": "2026-11-22T08:00:00Z",
            "lastModified": "2026-11-22T08:00:00Z",
            "location": f"https://gw-uib.intark.uh-it.no/scim/v2/Users/{KARI}",
        }
        records = map_user(body, institution="uib", secret=SECRET, fetched_at=START)
        assert_avro(records.account, "no.bott.hub.iam.Account")

    async def test_national_id_is_never_returned(
        self, client: aiohttp.ClientSession, server: RunningServer
    ) -> None:
        """norEduPersonNIN can be searched on but is not in any answer."""
        _, body, _ = await get(client, server, f"/scim/v2/Users/{INGRID}")
        assert "norEduPersonNIN" not in body["no:edu:scim:user"]
        found = await list_users(client, server, norEduPersonNIN="15059912345")
        assert [user["id"] for user in found] == [INGRID]
        assert "15059912345" not in str(found)

    async def test_not_found(self, client: aiohttp.ClientSession, server: RunningServer) -> None:
        """An unknown User is a SCIM 404 error."""
        status, body, _ = await get(client, server, "/scim/v2/Users/nobody")
        assert (status, body["status"]) == (404, "404")
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]

    async def test_groups_are_empty(
        self, client: aiohttp.ClientSession, server: RunningServer
    ) -> None:
        """/Groups answers an empty ListResponse, as the minimal API may."""
        _, body, _ = await get(client, server, "/scim/v2/Groups")
        assert (body["totalResults"], body["Resources"]) == (0, [])

    async def test_gateway_refuses_without_key(self, server: RunningServer) -> None:
        """Without the API key the gateway answers 401."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{server.url}/scim/v2/Users/{KARI}") as response,
        ):
            assert response.status == 401


class TestListing:
    """Listing pages through every User and filters as the SCIM API does."""

    async def test_pages_through_everyone(
        self, client: aiohttp.ClientSession, server: RunningServer, store: FellesIamStore
    ) -> None:
        """Small pages, followed to the end, give every User once, in id order."""
        for number in range(5):
            store.put_user({"id": f"u{number}", "userName": f"u{number}@uib.no", "active": True})
        found = await list_users(client, server, count="2")
        assert [user["id"] for user in found] == sorted(store.users)

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"userName": "kno012"}, [KARI]),
            ({"userName": "kno012@uib.no"}, [KARI]),
            ({"employeeNumber": "00123456"}, [KARI]),
            ({"gregPersonNumber": "4711"}, [INGRID]),
            ({"active": "false"}, [ADMIN]),
            ({"userType": "External"}, [INGRID]),
            ({"filter": 'userName eq "KNO012@UIB.NO"'}, [KARI]),
            ({"filter": 'name.familyName co "haug" and active eq true'}, [INGRID]),
            ({"filter": 'userName ew "@uib.no" and userType ne "Other"'}, [KARI, INGRID]),
            ({"filter": "no:edu:scim:user:employeeNumber pr"}, [KARI]),
            ({"filter": 'meta.lastModified ge "2026-11-22T08:00:00Z"'}, [KARI, ADMIN, INGRID]),
            (
                {"filter": f'{ENTERPRISE_EXTENSION}:department co "informatikk"'},
                [KARI],
            ),
        ],
    )
    async def test_filters(
        self,
        client: aiohttp.ClientSession,
        server: RunningServer,
        query: dict[str, str],
        expected: list[str],
    ) -> None:
        """The convenience parameters and filter terms keep the Users they describe."""
        found = await list_users(client, server, **query)
        assert sorted(user["id"] for user in found) == sorted(expected)

    @pytest.mark.parametrize(
        ("query", "scim_type"),
        [
            ({"filter": 'userName eq "a" or userName eq "b"'}, "invalidFilter"),
            ({"filter": 'emails[type eq "work"]'}, "invalidFilter"),
            ({"filter": "not(active eq true)"}, "invalidFilter"),
            ({"count": "many"}, "invalidValue"),
        ],
    )
    async def test_refused_queries(
        self,
        client: aiohttp.ClientSession,
        server: RunningServer,
        query: dict[str, str],
        scim_type: str,
    ) -> None:
        """Filters the API does not support, and bad paging, are 400 SCIM errors."""
        status, body, _ = await get(client, server, "/scim/v2/Users", **query)
        assert (status, body["scimType"]) == (400, scim_type)

    async def test_count_is_capped(
        self, client: aiohttp.ClientSession, server: RunningServer
    ) -> None:
        """A page never holds more than 1000 Users, however many are asked for."""
        _, body, _ = await get(client, server, "/scim/v2/Users", count="5000")
        assert body["itemsPerPage"] == 3

    def test_filter_grammar(self) -> None:
        """Filter terms parse to path, operator and value."""
        assert parse_filter('active eq true and name.givenName sw "K" and title pr') == [
            ("active", "eq", True),
            ("name.givenName", "sw", "K"),
            ("title", "pr", None),
        ]


class TestNotifications:
    """Every change to the store queues the notification Felles IAM would publish."""

    def notes(self, store: FellesIamStore) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        """The queued notifications, parsed: verb, Users and attributes."""
        parsed = []
        for notification in store.take_notifications():
            note = parse_notification(
                notification.routing_key, notification.body, institution="uib"
            )
            parsed.append((note.verb, note.user_ids, note.attributes))
        return parsed

    def test_changes(self, store: FellesIamStore, clock: Clock) -> None:
        """Deactivating, changing names and extensions, and deleting each notify."""
        kari = copy.deepcopy(store.users[KARI])
        kari["active"] = False
        kari["name"]["givenName"] = "Kari Anne"
        kari["no:edu:scim:user"]["accountType"] = None
        kari["title"] = "Professor emerita"
        clock.tick()
        store.put_user(kari)
        store.delete_user(ADMIN)
        store.delete_user(ADMIN)
        assert self.notes(store) == [
            ("deactivate", (KARI,), ()),
            (
                "modify",
                (KARI,),
                ("name.givenName", "no:edu:scim:user:accountType", "title"),
            ),
            ("delete", (ADMIN,), ()),
        ]
        assert store.users[KARI]["meta"]["lastModified"] == "2026-11-22T08:01:00Z"
        assert store.users[KARI]["meta"]["created"] == "2026-11-22T08:00:00Z"

    def test_new_user_and_reactivation(self, store: FellesIamStore) -> None:
        """A new User is ADD; turning an account back on is ACTIVATE."""
        store.put_user({"id": "new1", "userName": "new1@uib.no", "active": True})
        admin = {**store.users[ADMIN], "active": True}
        store.put_user(admin)
        assert self.notes(store) == [("add", ("new1",), ()), ("activate", (ADMIN,), ())]

    def test_unchanged_put_is_silent(self, store: FellesIamStore, clock: Clock) -> None:
        """Putting a User back unchanged notifies nothing and keeps lastModified."""
        clock.tick()
        store.put_user(copy.deepcopy(store.users[KARI]))
        assert store.take_notifications() == []
        assert store.users[KARI]["meta"]["lastModified"] == "2026-11-22T08:00:00Z"

    async def test_polling_finds_what_changed(
        self,
        client: aiohttp.ClientSession,
        server: RunningServer,
        store: FellesIamStore,
        clock: Clock,
    ) -> None:
        """After a first full poll, the next poll finds only the Users changed since."""
        first = await list_users(client, server, **poll_query(None))
        cursor = advance(None, first)
        assert cursor == START
        clock.tick(5)
        store.put_user({**store.users[INGRID], "title": "Gjesteforsker"})
        second = await list_users(client, server, **poll_query(cursor))
        assert len(second) == 3  # the cursor's own second is read again
        cursor = advance(cursor, second)
        assert cursor == START + timedelta(minutes=5)
        third = await list_users(client, server, **poll_query(cursor))
        assert [user["id"] for user in third] == [INGRID]


async def test_middlewares_wrap_the_fake(store: FellesIamStore) -> None:
    """Middlewares given to make_app run before the gateway."""

    @web.middleware
    async def teapot(request: web.Request, handler: Handler) -> web.StreamResponse:
        return web.Response(status=418)

    async with (
        await serve_app(make_app(store, middlewares=[teapot])) as running,
        aiohttp.ClientSession() as session,
        session.get(running.url + "/scim/v2/Users") as response,
    ):
        assert response.status == 418
