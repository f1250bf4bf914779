"""Tests for the fake Greg: the real paths and JSON over a real socket, and Greg's events."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.fake_http import Handler, RunningServer, serve_app
from connectors.greg.fake_server import GregStore, make_app, serve
from connectors.greg.mapping import map_person
from connectors.greg.notifications import parse_event, read_page
from tests.fake_support import fake_fixtures, get
from tests.source_checks import FETCHED_AT, SECRET, assert_avro, load

KEY = "greg-test-key"
TODAY = date(2026, 11, 22)


def guest(person_id: int = 4711, **changes: Any) -> dict[str, Any]:
    """The golden guest researcher with another id and changes."""
    person: dict[str, Any] = load("greg", "person_guest_researcher.json")
    return {**person, "id": person_id, **changes}


@pytest.fixture
def store() -> GregStore:
    """A store with the two golden guests, its events already taken."""
    greg = GregStore(api_keys={KEY}, source="greg:uio:test", today=lambda: TODAY, page_size=2)
    greg.put_person(guest())
    greg.put_person(load("greg", "person_unregistered.json"))
    greg.put_orgunit(guest()["roles"][0]["orgunit"])
    greg.take_notifications()
    return greg


server, client = fake_fixtures(serve, {"X-Gravitee-Api-Key": KEY})


async def list_all(
    client: aiohttp.ClientSession, server: RunningServer, path: str, **query: str
) -> list[dict[str, Any]]:
    """Every object of a list, page by page, as a full reconciliation reads it."""
    found: list[dict[str, Any]] = []
    next_query: dict[str, str] | None = dict(query)
    while next_query is not None:
        status, body, _ = await get(client, server, path, **next_query)
        assert status == 200
        page = read_page(body)
        found.extend(dict(result) for result in page.results)
        next_query = dict(page.next_query) if page.next_query else None
    return found


class TestObjects:
    """Single objects come back as Greg's JSON, and their absence as Greg's 404."""

    async def test_person(
        self, client: aiohttp.ClientSession, server: RunningServer, store: GregStore
    ) -> None:
        """A stored guest comes back as stored, marked as Greg's answer, and maps validly."""
        status, body, headers = await get(client, server, "/v1/persons/4711")
        assert status == 200
        assert body == store.persons["4711"]
        assert headers["X-Greg-Response-For"] == "/v1/persons/4711"
        record = map_person(body, institution="uio", secret=SECRET, fetched_at=FETCHED_AT)
        assert_avro(record, "no.bott.hub.greg.Person")

    async def test_zero_padded_id(
        self, client: aiohttp.ClientSession, server: RunningServer
    ) -> None:
        """A zero-padded id finds the same guest."""
        status, body, _ = await get(client, server, "/v1/persons/004712")
        assert (status, body["first_name"]) == (200, "Jonas")

    @pytest.mark.parametrize("path", ["/v1/persons/9999", "/v1/persons/abc", "/v1/orgunits/77"])
    async def test_not_found(
        self, client: aiohttp.ClientSession, server: RunningServer, path: str
    ) -> None:
        """An unknown object is DRF's 404, from Greg itself."""
        status, body, headers = await get(client, server, path)
        assert (status, body) == (404, {"detail": "Not found."})
        assert "X-Greg-Response-For" in headers

    async def test_unknown_path_is_not_greg(
        self, client: aiohttp.ClientSession, server: RunningServer
    ) -> None:
        """A path Greg does not have answers 404 without Greg's header, as a proxy would."""
        status, _, headers = await get(client, server, "/v2/persons/4711")
        assert status == 404
        assert "X-Greg-Response-For" not in headers

    async def test_orgunit_and_health(
        self, client: aiohttp.ClientSession, server: RunningServer
    ) -> None:
        """Org units are served by id, and the health check says OK."""
        status, body, _ = await get(client, server, "/v1/orgunits/3")
        assert (status, body["name_en"]) == (200, "Department of Informatics")
        assert (await get(client, server, "/health/"))[:2] == (200, "OK")


class TestAuth:
    """Without a valid API key the gateway refuses, and Greg never answers."""

    @pytest.mark.parametrize("headers", [{}, {"X-Gravitee-Api-Key": "wrong"}])
    async def test_refused(self, server: RunningServer, headers: dict[str, str]) -> None:
        """A missing or wrong key is the gateway's 401."""
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(server.url + "/v1/persons/4711") as response,
        ):
            assert response.status == 401
            assert await response.json() == {"message": "Unauthorized", "http_status_code": 401}
            assert "X-Greg-Response-For" not in response.headers

    async def test_revoked_key(
        self, client: aiohttp.ClientSession, server: RunningServer, store: GregStore
    ) -> None:
        """A key revoked while the server runs stops working at once."""
        store.api_keys.discard(KEY)
        status, _, _ = await get(client, server, "/v1/persons/4711")
        assert status == 401


class TestLists:
    """Lists page as DRF does, so that a full reconciliation can read everything."""

    async def test_reads_every_guest(
        self, client: aiohttp.ClientSession, server: RunningServer, store: GregStore
    ) -> None:
        """Following ``next`` from the first page reads every guest exactly once."""
        for number in range(5000, 5005):
            store.put_person(guest(number))
        found = await list_all(client, server, "/v1/persons")
        assert [person["id"] for person in found] == [4711, "04712", *range(5000, 5005)]

    async def test_page_shape(self, client: aiohttp.ClientSession, server: RunningServer) -> None:
        """A page has count, absolute next and previous links, and results."""
        status, first, _ = await get(client, server, "/v1/persons")
        assert status == 200
        assert first["count"] == 2
        assert (first["next"], first["previous"]) == (None, None)
        _, page, _ = await get(client, server, "/v1/orgunits")
        assert page["count"] == 1

    async def test_previous_link_of_page_two(
        self, client: aiohttp.ClientSession, server: RunningServer, store: GregStore
    ) -> None:
        """Page two's previous link is the list without a page number, as DRF writes it."""
        store.put_person(guest(5000))
        store.put_person(guest(5001))
        _, page, _ = await get(client, server, "/v1/persons", page="2", active="true")
        assert page["previous"] == f"{server.url}/v1/persons?active=true"
        assert page["next"] is None

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"active": "true"}, [4711]),
            ({"active": "false"}, ["04712"]),
            ({"verified": "true"}, [4711]),
            ({"verified": "false"}, ["04712"]),
            ({"first_name": "jonas"}, ["04712"]),
            ({"active": "true", "last_name": "Berg"}, []),
        ],
    )
    async def test_filters(
        self,
        client: aiohttp.ClientSession,
        server: RunningServer,
        query: dict[str, str],
        expected: list[object],
    ) -> None:
        """active, verified and the name filters keep the guests they describe."""
        found = await list_all(client, server, "/v1/persons", **query)
        assert [person["id"] for person in found] == expected

    async def test_active_depends_on_today(
        self, client: aiohttp.ClientSession, server: RunningServer, store: GregStore
    ) -> None:
        """After the role ends the guest is no longer active."""
        store.today = lambda: date(2027, 8, 1)
        assert await list_all(client, server, "/v1/persons", active="true") == []

    @pytest.mark.parametrize(
        ("query", "status", "body"),
        [
            ({"page": "9"}, 404, {"detail": "Invalid page."}),
            ({"page": "zero"}, 404, {"detail": "Invalid page."}),
            (
                {"active": "maybe"},
                400,
                {"active": ["Select a valid choice. maybe is not one of the available choices."]},
            ),
        ],
    )
    async def test_bad_queries(
        self,
        client: aiohttp.ClientSession,
        server: RunningServer,
        query: dict[str, str],
        status: int,
        body: object,
    ) -> None:
        """A page that does not exist is 404 and an unknown filter value is 400, as in Greg."""
        assert (await get(client, server, "/v1/persons", **query))[:2] == (status, body)


class TestEvents:
    """Every change to the store queues the event Greg would publish."""

    def test_changes_queue_events(self, store: GregStore) -> None:
        """Adding, changing and removing parts of a guest give one event each, in order."""
        changed = copy.deepcopy(store.persons["4711"])
        changed["last_name"] = "Haugland-Berg"
        changed["roles"][0]["end_date"] = "2027-12-31"
        changed["roles"].pop()
        changed["identities"].append({"id": 9010, "type": "private_mobile", "value": "+4791111111"})
        changed["consents"] = []
        store.put_person(changed)
        store.delete_person(4712)
        store.delete_person(4712)
        events = [parse_event(n.body, source="greg:uio:test") for n in store.take_notifications()]
        assert [(e.type, e.data) for e in events] == [
            ("person.update", (("person_id", "4711"),)),
            ("person_role.delete", (("person_id", "4711"), ("role_id", "298"))),
            ("person_role.update", (("person_id", "4711"), ("role_id", "320"))),
            ("person_identity.add", (("person_id", "4711"), ("identity_id", "9010"))),
            ("person_consent.delete", (("person_id", "4711"), ("consent_id", "61"))),
            ("person.delete", (("person_id", "4712"),)),
        ]
        assert [int(e.event_id) for e in events] == sorted(int(e.event_id) for e in events)
        assert store.take_notifications() == []

    def test_unchanged_put_is_silent(self, store: GregStore) -> None:
        """Putting a guest back unchanged publishes nothing."""
        store.put_person(copy.deepcopy(store.persons["4711"]))
        assert store.take_notifications() == []

    def test_notification_envelope(self, store: GregStore) -> None:
        """Notifications are JSON bodies with the event type as routing key."""
        store.put_person(guest(6000, roles=[], identities=[], consents=[]))
        [notification] = store.take_notifications()
        assert notification.routing_key == "person.add"
        assert notification.content_type == "application/json"

    async def test_event_leads_to_the_changed_guest(
        self, client: aiohttp.ClientSession, server: RunningServer, store: GregStore
    ) -> None:
        """Fetching the path an event names returns the guest as changed; after a delete, 404."""
        store.put_person(guest(4711, first_name="Inga"))
        [event] = [parse_event(n.body) for n in store.take_notifications()]
        assert event.person_path is not None
        _, body, _ = await get(client, server, event.person_path)
        assert body["first_name"] == "Inga"
        store.delete_person("4711")
        [deleted] = [parse_event(n.body) for n in store.take_notifications()]
        assert deleted.deletes_person
        assert (await get(client, server, "/v1/persons/4711"))[0] == 404

    def test_orgunit_events(self, store: GregStore) -> None:
        """Org unit changes are announced without a person, so they lead to no fetch."""
        unit = {**store.orgunits["3"], "name_en": "Informatics"}
        store.put_orgunit(unit)
        [event] = [parse_event(n.body) for n in store.take_notifications()]
        assert (event.type, event.person_path) == ("orgunit.update", None)


async def test_middlewares_wrap_the_fake(store: GregStore) -> None:
    """Middlewares given to make_app run before the gateway, as fault injection needs."""

    @web.middleware
    async def unavailable(request: web.Request, handler: Handler) -> web.StreamResponse:
        return web.Response(status=503, text="injected")

    async with (
        await serve_app(make_app(store, middlewares=[unavailable])) as running,
        aiohttp.ClientSession() as session,
        session.get(running.url + "/v1/persons/4711") as response,
    ):
        assert (response.status, await response.text()) == (503, "injected")
