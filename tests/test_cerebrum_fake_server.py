"""Tests for the fake Cerebrum: the REST API's paths and JSON over a real socket, and its events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.cerebrum.fake_server import CerebrumStore, make_app, serve
from connectors.cerebrum.mapping import AccountBodies, PersonBodies, map_account, map_person
from connectors.cerebrum.notifications import Action, Change, parse_event
from connectors.fake_http import Handler, RunningServer, serve_app
from tests import fake_support as support
from tests.fake_support import fake_fixtures
from tests.source_checks import FETCHED_AT, SECRET, load

KEY = "cerebrum-test-key"
NOW = datetime(2026, 11, 22, 8, tzinfo=UTC)
EMPLOYEE = load("cerebrum", "person_employee.json")
GUEST = load("cerebrum", "person_guest.json")
PRIMARY = load("cerebrum", "account_primary.json")


def person_document(responses: dict[str, Any], person_id: str) -> dict[str, Any]:
    """A store document made of a person's recorded responses."""
    paths = PersonBodies.paths(person_id)
    document = {k: v for k, v in responses[paths["person"]].items() if k != "href"}
    for part in ("affiliations", "external_ids", "consents"):
        document[part] = responses[paths[part]][part]
    return document


def account_document(responses: dict[str, Any], name: str) -> dict[str, Any]:
    """A store document made of an account's recorded responses."""
    paths = AccountBodies.paths(name)
    body = responses[paths["account"]]
    document = {k: v for k, v in body.items() if k not in ("href", "active")}
    document["owner"] = {k: v for k, v in body["owner"].items() if k != "href"}
    document["quarantines"] = responses[paths["quarantines"]]["quarantines"]
    document["affiliations"] = responses[paths["affiliations"]]["affiliations"]
    return document


def guest_account() -> dict[str, Any]:
    """Ingrid's account."""
    return {
        "id": 99001,
        "name": "ingridha",
        "owner": {"id": 5502, "type": "person", "name": "Ingrid Haugland"},
        "created_at": "2026-08-04T10:06:00",
        "expire_date": "2027-08-31T00:00:00",
        "contexts": ["LDAP_account"],
        "primary_email": None,
        "quarantines": [],
        "affiliations": [{"affiliation": "TILKNYTTET", "priority": 100, "ou": {"id": 339}}],
    }


def drift_account() -> dict[str, Any]:
    """Kari's second, non-primary account."""
    document = account_document(PRIMARY, "kno012")
    document.update(
        name="kno012-drift",
        id=88124,
        contexts=["AD_account"],
        affiliations=[{"affiliation": "ANSATT", "priority": 900, "ou": {"id": 1234}}],
    )
    return document


@pytest.fixture
def store() -> CerebrumStore:
    """Kari (employee, two accounts) and Ingrid (guest, one account), events taken."""
    cerebrum = CerebrumStore(api_keys={KEY}, base_url="https://cerebrum.uio.no", clock=lambda: NOW)
    cerebrum.put_person(person_document(EMPLOYEE, "5501"))
    cerebrum.put_person(person_document(GUEST, "5502"))
    cerebrum.put_account(account_document(PRIMARY, "kno012"))
    cerebrum.put_account(drift_account())
    cerebrum.put_account(guest_account())
    cerebrum.take_notifications()
    return cerebrum


def quarantine(store: CerebrumStore, name: str, start: str) -> None:
    """Put the account under a quarantine from ``start``."""
    account = copy.deepcopy(store.accounts[name])
    account["quarantines"] = [{"type": "slutta", "start": start}]
    store.put_account(account)


server, client = fake_fixtures(serve, {"X-Auth-Key": KEY})


async def get(
    client: aiohttp.ClientSession, server: RunningServer, path: str, **params: str
) -> tuple[int, Any]:
    """GET a path: status and parsed JSON."""
    return (await support.get(client, server, path, **params))[:2]


async def responses(
    client: aiohttp.ClientSession, server: RunningServer, paths: dict[str, str]
) -> dict[str, Any]:
    """The bodies of ``paths``, by path, as a connector gathers them."""
    found: dict[str, Any] = {}
    for path in paths.values():
        status, found[path] = await get(client, server, path)
        assert status == 200, path
    return found


class TestRecordedResponses:
    """The fake answers exactly what the recorded responses say Cerebrum answers."""

    @pytest.mark.parametrize("path", sorted(EMPLOYEE))
    async def test_person_paths(
        self, client: aiohttp.ClientSession, server: RunningServer, path: str
    ) -> None:
        """Each of Kari's person resources is served as recorded."""
        assert await get(client, server, path) == (200, EMPLOYEE[path])

    @pytest.mark.parametrize("path", sorted(PRIMARY))
    async def test_account_paths(
        self, client: aiohttp.ClientSession, server: RunningServer, path: str
    ) -> None:
        """Each of kno012's resources, and its owner's, is served as recorded."""
        assert await get(client, server, path) == (200, PRIMARY[path])

    async def test_served_bodies_map(
        self, client: aiohttp.ClientSession, server: RunningServer
    ) -> None:
        """What the fake serves maps to the records the recorded responses give."""
        settings: dict[str, Any] = {
            "institution": "uio",
            "secret": SECRET,
            "fetched_at": FETCHED_AT,
        }
        served = await responses(client, server, PersonBodies.paths("5502"))
        assert map_person(PersonBodies.from_responses("5502", served), **settings) == map_person(
            PersonBodies.from_responses("5502", GUEST), **settings
        )
        paths = AccountBodies.paths("kno012", "5501")
        served = await responses(client, server, paths)
        assert map_account(AccountBodies.from_responses("kno012", served, "5501"), **settings) == (
            map_account(AccountBodies.from_responses("kno012", PRIMARY, "5501"), **settings)
        )


class TestErrors:
    """Missing objects and missing keys answer as Cerebrum does."""

    @pytest.mark.parametrize(
        ("path", "message"),
        [
            ("/v1/persons/9999", "No such person with entity_id=9999"),
            ("/v1/persons/9999/accounts", "No such person with entity_id=9999"),
            ("/v1/accounts/nobody", "No such Account with name=nobody"),
            ("/v1/accounts/nobody/quarantines", "No such Account with name=nobody"),
            ("/v1/persons/kari", "The requested URL was not found on the server."),
        ],
    )
    async def test_not_found(
        self, client: aiohttp.ClientSession, server: RunningServer, path: str, message: str
    ) -> None:
        """An unknown object is 404 with flask-restx's message body."""
        status, body = await get(client, server, path)
        assert status == 404
        assert body["message"].startswith(message)

    @pytest.mark.parametrize(
        ("headers", "message"),
        [({}, "Missing API key in header"), ({"X-Auth-Key": "wrong"}, "Invalid API key in header")],
    )
    async def test_refused(
        self, server: RunningServer, headers: dict[str, str], message: str
    ) -> None:
        """Without a valid key Cerebrum's HeaderAuth answers 403, naming the header."""
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(server.url + "/v1/persons/5501") as response,
        ):
            assert response.status == 403
            assert await response.json() == {"message": message, "api-key-header": "X-Auth-Key"}


class TestListing:
    """Between the account list and the affiliation search, everything can be found."""

    async def test_account_list(
        self, client: aiohttp.ClientSession, server: RunningServer, store: CerebrumStore
    ) -> None:
        """Accounts are listed by name with their owners; deleted ones are left out."""
        store.delete_account("kno012-drift")
        _, body = await get(client, server, "/v1/accounts/")
        assert body["accounts"][1] == {
            "href": "/v1/accounts/kno012",
            "name": "kno012",
            "id": "kno012",
            "owner": {"id": 5501, "type": "person"},
            "expire_date": None,
            "np_type": None,
        }
        assert [a["name"] for a in body["accounts"]] == ["ingridha", "kno012"]

    async def test_account_list_by_owner(
        self, client: aiohttp.ClientSession, server: RunningServer
    ) -> None:
        """The owner filter keeps the owner's accounts."""
        _, body = await get(client, server, "/v1/accounts/", owner_id="5501")
        assert [a["name"] for a in body["accounts"]] == ["kno012", "kno012-drift"]
        _, body = await get(client, server, "/v1/accounts/", owner_id="5502")
        assert [a["name"] for a in body["accounts"]] == ["ingridha"]
        _, body = await get(client, server, "/v1/accounts/", owner_id="42")
        assert body["accounts"] == []

    @pytest.mark.parametrize(
        ("affiliation", "ids"),
        [
            ("", [5501, 5501, "5502"]),
            ("ANSATT", [5501]),
            ("TILKNYTTET/gjesteforsker", ["5502"]),
            ("STUDENT", []),
        ],
    )
    async def test_affiliation_search(
        self,
        client: aiohttp.ClientSession,
        server: RunningServer,
        affiliation: str,
        ids: list[object],
    ) -> None:
        """The search gives one row per live affiliation, as Cerebrum's does."""
        _, body = await get(
            client, server, "/v1/search/persons/affiliations", affiliation=affiliation
        )
        assert [row["id"] for row in body["persons"]] == ids

    async def test_full_reconciliation_reaches_everyone(
        self, client: aiohttp.ClientSession, server: RunningServer, store: CerebrumStore
    ) -> None:
        """Account owners and affiliated persons together are every person and account."""
        store.put_person({"id": 5700, "names": [], "affiliations": []})
        store.put_account(
            {**guest_account(), "name": "nobody5700", "owner": {"id": 5700, "type": "person"}}
        )
        store.put_person(
            {
                "id": 5800,
                "names": [],
                "affiliations": [
                    {
                        "affiliation": "STUDENT",
                        "status": "aktiv",
                        "ou": {"id": 77},
                        "source_system": "FS",
                    }
                ],
            }
        )
        _, accounts = await get(client, server, "/v1/accounts/")
        _, affiliated = await get(client, server, "/v1/search/persons/affiliations")
        persons = {str(a["owner"]["id"]) for a in accounts["accounts"]}
        persons |= {str(row["id"]) for row in affiliated["persons"]}
        assert persons == set(store.persons)
        assert {a["name"] for a in accounts["accounts"]} == set(store.accounts)

    async def test_deleted_affiliations_on_request(
        self, client: aiohttp.ClientSession, server: RunningServer
    ) -> None:
        """A deleted affiliation is shown only with include_deleted."""
        path = "/v1/persons/5502/affiliations"
        assert len((await get(client, server, path))[1]["affiliations"]) == 1
        assert (
            len((await get(client, server, path, include_deleted="true"))[1]["affiliations"]) == 2
        )


class TestEvents:
    """Every change to the store queues the SCIM event Cerebrum would publish."""

    def events(self, store: CerebrumStore) -> list[tuple[str, tuple[str, ...], tuple[Change, ...]]]:
        """The queued events, parsed: routing key, attributes and changes."""
        parsed = []
        for notification in store.take_notifications():
            event = parse_event(notification.routing_key, notification.body)
            assert event.issued_at == NOW
            parsed.append((notification.routing_key, event.attributes, event.changes()))
        return parsed

    def test_person_changes(self, store: CerebrumStore) -> None:
        """Names, affiliations, consents and external ids each give a modify event."""
        person = copy.deepcopy(store.persons["5501"])
        person["names"] = person["names"][:2]
        person["affiliations"] = person["affiliations"][:1]
        person["consents"] = []
        person["external_ids"] = [
            e for e in person["external_ids"] if e["id_type"] != "gregPersonId"
        ]
        person["birth_date"] = "1970-01-02T00:00:00"
        store.put_person(person)
        fetch = (Change("persons", "5501", Action.FETCH),)
        key = "no.uio.cerebrum.scim.persons.modify"
        assert self.events(store) == [
            (key, ("exportID", "birthDate", "gender", "description", "deseasedDate"), fetch),
            (key, ("name",), fetch),
            (key, ("affiliation",), fetch),
            (key, ("consent",), fetch),
            (key, ("Greg_pid",), fetch),
        ]

    def test_new_and_deleted_person(self, store: CerebrumStore) -> None:
        """A new person is created; a deleted one is a tombstone."""
        store.put_person({"id": 5600, "names": []})
        store.delete_person(5600)
        assert [(key, changes) for key, _, changes in self.events(store)] == [
            ("no.uio.cerebrum.scim.persons.create", (Change("persons", "5600", Action.FETCH),)),
            ("no.uio.cerebrum.scim.persons.delete", (Change("persons", "5600", Action.DELETE),)),
        ]

    def test_account_changes(self, store: CerebrumStore) -> None:
        """Quarantines, contexts, affiliations and expiry each give their event."""
        account = copy.deepcopy(store.accounts["kno012"])
        account["quarantines"] = [{"type": "svakt_passord", "start": "2026-11-20T00:00:00"}]
        account["contexts"] = ["AD_account", "exchange_acc", "Kerberos"]
        account["affiliations"] = account["affiliations"][:1]
        account["expire_date"] = "2027-01-01T00:00:00"
        store.put_account(account)
        account = copy.deepcopy(account)
        account["quarantines"] = []
        store.put_account(account)
        prefix = "no.uio.cerebrum.scim.accounts."
        assert [
            (key.removeprefix(prefix), attributes) for key, attributes, _ in self.events(store)
        ] == [
            ("modify", ("npType", "expireDate", "createDate")),
            ("add", ()),
            ("remove", ()),
            ("modify", ("accountType",)),
            ("deactivate", ()),
            ("activate", ()),
        ]

    def test_join(self, store: CerebrumStore) -> None:
        """Joining a duplicate person moves its accounts and deletes it."""
        store.put_person({"id": 5999, "names": []})
        store.put_account(
            {**drift_account(), "name": "dup", "owner": {"id": 5999, "type": "person"}}
        )
        store.take_notifications()
        store.join_persons(5999, 5501)
        [(key, attributes, changes)] = self.events(store)
        assert (key, attributes) == ("no.uio.cerebrum.scim.persons.join", ("id",))
        assert changes == (
            Change("persons", "5501", Action.FETCH),
            Change("persons", "5999", Action.DELETE),
        )
        assert [a["name"] for a in store.accounts_of("5501")] == ["dup", "kno012", "kno012-drift"]

    async def test_quarantine_disables(
        self, client: aiohttp.ClientSession, server: RunningServer, store: CerebrumStore
    ) -> None:
        """After a quarantine starts the account is locked, and maps as DISABLED."""
        quarantine(store, "kno012", "2026-11-21T00:00:00+01:00")
        served = await responses(client, server, AccountBodies.paths("kno012", "5501"))
        bodies = AccountBodies.from_responses("kno012", served, "5501")
        record = map_account(bodies, institution="uio", secret=SECRET, fetched_at=NOW)
        assert record["status"] == "DISABLED"
        assert served["/v1/accounts/kno012/quarantines"]["quarantines"][0]["active"] is True

    async def test_future_quarantine_does_not_lock(
        self, client: aiohttp.ClientSession, server: RunningServer, store: CerebrumStore
    ) -> None:
        """A quarantine that starts later does not lock the account yet."""
        quarantine(store, "kno012", "2026-12-01T00:00:00")
        _, body = await get(client, server, "/v1/accounts/kno012/quarantines")
        assert body["locked"] is False

    async def test_deleted_and_expired_accounts(
        self, client: aiohttp.ClientSession, server: RunningServer, store: CerebrumStore
    ) -> None:
        """A deleted account stays readable but inactive; so does an expired one."""
        store.delete_account("kno012-drift")
        store.delete_account("kno012-drift")
        assert [key for key, _, _ in self.events(store)] == ["no.uio.cerebrum.scim.accounts.delete"]
        assert (await get(client, server, "/v1/accounts/kno012-drift"))[1]["active"] is False
        account = copy.deepcopy(store.accounts["kno012"])
        account["expire_date"] = "2026-11-22T00:00:00"
        store.put_account(account)
        assert (await get(client, server, "/v1/accounts/kno012"))[1]["active"] is False
        _, body = await get(client, server, "/v1/persons/5501/accounts")
        assert [(a["name"], a["primary"]) for a in body["accounts"]] == [("kno012", True)]

    def test_scheduled_event(self, store: CerebrumStore) -> None:
        """An event can be scheduled for later, as Cerebrum's re-checks are."""
        later = datetime(2026, 12, 1, tzinfo=UTC)
        store.emit("persons", "modify", "5501", not_before=later)
        [notification] = store.take_notifications()
        event = parse_event(notification.routing_key, notification.body)
        assert event.not_before == later
        assert not event.is_due(NOW)


async def test_middlewares_wrap_the_fake(store: CerebrumStore) -> None:
    """Middlewares given to make_app run before the API key check."""

    @web.middleware
    async def slow_down(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        response.headers["X-Injected"] = "yes"
        return response

    async with (
        await serve_app(make_app(store, middlewares=[slow_down])) as running,
        aiohttp.ClientSession() as session,
        session.get(running.url + "/v1/persons/5501") as response,
    ):
        assert (response.status, response.headers["X-Injected"]) == (403, "yes")
