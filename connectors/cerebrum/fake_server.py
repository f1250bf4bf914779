"""A faithful local fake of Cerebrum's REST API (``/v1``), with Cerebrum's SCIM events.

:class:`CerebrumStore` keeps persons and accounts as documents close to the API's
JSON; tests add, change and delete them, and every change queues the SCIM event
Cerebrum's event publisher would send. :func:`make_app` serves the store as the
API does:

* ``GET /v1/persons/{id}`` and its ``/affiliations`` (``?include_deleted=``),
  ``/external-ids``, ``/accounts`` (``primary``: the account with the lowest
  affiliation priority) and ``/consents``; an unknown person is 404 ``{"message":
  "No such person with entity_id=…"}``, a non-numeric id flask's plain 404;
* ``GET /v1/accounts/{name}`` (``active``: not deleted and not expired) and its
  ``/quarantines`` (``locked`` while a quarantine is in force) and
  ``/affiliations``; an unknown account is 404 ``{"message": "No such Account with
  name=…"}``;
* ``GET /v1/accounts/?owner_id=&name=``: every account that is not deleted, and
  ``GET /v1/search/persons/affiliations?affiliation=ANSATT[/status]``: one
  ``{"id"}`` per affiliation row. Between them a full reconciliation reaches
  every person and account (the API has no plain person list);
* without a valid key in ``X-Auth-Key`` (Cerebrum's ``HeaderAuth``) the answer is
  403 ``{"message": "Missing API key in header" | "Invalid API key in header",
  "api-key-header": …}``.

Events: persons ``create``/``modify`` (attributes as Cerebrum names them:
``name``, ``affiliation``, ``consent``, ``nationalIdNumber``, …), ``delete`` and
``join``; accounts ``create``/``modify``, ``add``/``remove`` (contexts),
``deactivate``/``activate`` (quarantines added or lifted) and ``delete``.

:func:`sample_person` and :func:`sample_account` make plausible documents, and
:class:`CerebrumSource` (started by :func:`cerebrum_source`) drives the fake for the
conformance kit and the fault tests, with the events on RabbitMQ.
"""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web

from connectors import fake_http
from connectors.cerebrum.mapping import EXTERNAL_ID_TYPES
from connectors.cerebrum.notifications import KEY_PREFIX, SCIM_EVENT_URI
from connectors.fake_http import Handler, Middleware, Notification, RunningServer
from connectors.testing.feeds import KIT_API_KEY, FeedHarness, fake_feed_source

__all__ = [
    "KEY_HEADER",
    "CerebrumSource",
    "CerebrumStore",
    "cerebrum_source",
    "make_app",
    "sample_account",
    "sample_person",
    "serve",
]

KEY_HEADER = "X-Auth-Key"
FLASK_NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually"
    " please check your spelling and try again."
)
_PERSON_ATTRIBUTES = ["exportID", "birthDate", "gender", "description", "deseasedDate"]
_ACCOUNT_ATTRIBUTES = ["npType", "expireDate", "createDate"]
_EXTERNAL_ID_ATTRIBUTES = {
    "NO_BIRTHNO": "nationalIdNumber",
    "PASSNR": "passNumber",
    "NO_STUDNO": "studentNumber",
    "NO_FSNO": "fsPersonSerialNumber",
    "NO_SAPNO": "employeeNumber",
}
_PERSON_PARTS = {  # a person document's list → the attribute Cerebrum's events name
    "names": "name",
    "affiliations": "affiliation",
    "consents": "consent",
}

Document = dict[str, Any]


def _day(value: object) -> str | None:
    """The date part of a stored date or date-time."""
    return str(value)[:10] if value else None


def _id_attribute(id_type: str) -> str:
    """The attribute name Cerebrum's events give a change of this external id type."""
    name = EXTERNAL_ID_TYPES.get(id_type, id_type)
    return _EXTERNAL_ID_ATTRIBUTES.get(name, name.capitalize())


def _in_force(quarantine: Mapping[str, Any], today: str) -> bool:
    start = _day(quarantine.get("disable_until")) or _day(quarantine.get("start")) or today
    end = _day(quarantine.get("end")) or today
    return start <= today <= end


class CerebrumStore:
    """Cerebrum's persons and accounts in memory; every change queues Cerebrum's events."""

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = ("cerebrum-test-key",),
        base_url: str = "https://cerebrum.example.org",
        issuer: str = "cerebrum",
        key_prefix: str = KEY_PREFIX,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api_keys = set(api_keys)
        self.base_url = base_url.rstrip("/")
        self.issuer = issuer
        self.key_prefix = key_prefix
        self.clock = clock
        self.persons: dict[str, Document] = {}
        self.accounts: dict[str, Document] = {}
        self.outbox = fake_http.Outbox()
        # Account names by owning person, kept as put_account changes them and built
        # again after anything else changed the accounts (a join, a silent removal).
        self._owned: dict[str, set[str]] = {}
        self._owned_for: tuple[int, int] | None = None
        self._joins = 0

    def today(self) -> str:
        """Today's date (ISO) by the store's clock."""
        return self.clock().date().isoformat()

    # --- events ---

    def emit(
        self,
        entity_type: str,
        verb: str,
        entity_id: str,
        *,
        attributes: Iterable[str] = (),
        objects: Iterable[str] = (),
        not_before: datetime | None = None,
    ) -> None:
        """Queue one SCIM event, as Cerebrum's ``EventScimFormatter`` writes it."""
        uri = f"{SCIM_EVENT_URI}:{verb}"
        payload: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "eventUris": [uri],
            "iat": int(self.clock().timestamp()),
            "iss": self.issuer,
            "aud": [],
            "sub": f"{self.base_url}/v1/{entity_type}/{entity_id}",
        }
        details: dict[str, Any] = {}
        if attributes := list(attributes):
            details["attributes"] = attributes
        if objects := list(objects):
            details["object"] = [f"{self.base_url}/v1/persons/{o}" for o in objects]
        if details:
            payload[uri] = details
        if not_before is not None:
            payload["nbf"] = int(not_before.timestamp())
        payload["resourceType"] = entity_type
        key = f"{self.key_prefix}.{entity_type}.{verb}"
        self.outbox.put(Notification(key, json.dumps(payload).encode()))

    def take_notifications(self) -> list[Notification]:
        """The events queued since the last call, oldest first."""
        return self.outbox.take()

    # --- persons ---

    def put_person(self, person: Mapping[str, Any]) -> None:
        """Add or replace a person (by ``id``): ``id``, ``birth_date``, ``names``,
        ``contexts``, ``affiliations``, ``external_ids`` and ``consents`` as the API
        shows them."""
        new = copy.deepcopy(dict(person))
        person_id = str(int(new["id"]))
        old = self.persons.get(person_id)
        self.persons[person_id] = new
        if old is None:
            self.emit("persons", "create", person_id, attributes=_PERSON_ATTRIBUTES)
            return
        if _without(old, "names", "affiliations", "external_ids", "consents") != _without(
            new, "names", "affiliations", "external_ids", "consents"
        ):
            self.emit("persons", "modify", person_id, attributes=_PERSON_ATTRIBUTES)
        for part, attribute in _PERSON_PARTS.items():
            if old.get(part) != new.get(part):
                self.emit("persons", "modify", person_id, attributes=[attribute])
        before = {(e["id_type"], e["external_id"]) for e in old.get("external_ids") or []}
        after = {(e["id_type"], e["external_id"]) for e in new.get("external_ids") or []}
        for id_type in sorted({id_type for id_type, _ in before ^ after}):
            self.emit("persons", "modify", person_id, attributes=[_id_attribute(id_type)])

    def delete_person(self, person_id: object) -> None:
        """Remove a person (and nothing else: give its accounts away first)."""
        found = str(int(str(person_id)))
        if self.persons.pop(found, None) is not None:
            self.emit("persons", "delete", found)

    def join_persons(self, old_id: object, new_id: object) -> None:
        """Merge person ``old_id`` into ``new_id``: its accounts move, it is gone."""
        old, new = str(int(str(old_id))), str(int(str(new_id)))
        for account in self.accounts.values():
            if (
                account.get("owner", {}).get("id") is not None
                and str(account["owner"]["id"]) == old
            ):
                account["owner"]["id"] = int(new)
        self._joins += 1
        self.persons.pop(old, None)
        self.emit("persons", "join", new, attributes=["id"], objects=[old])

    # --- accounts ---

    def put_account(self, account: Mapping[str, Any]) -> None:
        """Add or replace an account (by ``name``): ``id``, ``owner`` ``{id, type}``,
        ``expire_date``, ``contexts``, ``quarantines``, ``affiliations``, …"""
        new = copy.deepcopy(dict(account))
        name = str(new["name"])
        old = self.accounts.get(name)
        owned = self._owners()
        if old is not None:
            owned.get(_owner_of(old) or "", set()).discard(name)
        self.accounts[name] = new
        owned.setdefault(_owner_of(new) or "", set()).add(name)
        self._owned_for = (self._joins, len(self.accounts))
        if old is None:
            self.emit("accounts", "create", name, attributes=_ACCOUNT_ATTRIBUTES)
            return
        plain = ("contexts", "quarantines", "affiliations")
        if _without(old, *plain) != _without(new, *plain):
            self.emit("accounts", "modify", name, attributes=_ACCOUNT_ATTRIBUTES)
        before, after = set(old.get("contexts") or []), set(new.get("contexts") or [])
        if after - before:
            self.emit("accounts", "add", name)
        if before - after:
            self.emit("accounts", "remove", name)
        if old.get("affiliations") != new.get("affiliations"):
            self.emit("accounts", "modify", name, attributes=["accountType"])
        locks_before = {q.get("type") for q in old.get("quarantines") or []}
        locks_after = {q.get("type") for q in new.get("quarantines") or []}
        if locks_after - locks_before:
            self.emit("accounts", "deactivate", name)
        if locks_before - locks_after:
            self.emit("accounts", "activate", name)

    def delete_account(self, name: str) -> None:
        """Delete an account as Cerebrum does: it stays readable, inactive, and is announced."""
        account = self.accounts.get(name)
        if account is not None and not account.get("deleted"):
            account["deleted"] = True
            self.emit("accounts", "delete", name)

    # --- what the API computes ---

    def _owners(self) -> dict[str, set[str]]:
        if self._owned_for != (self._joins, len(self.accounts)):
            self._owned = {}
            for name, account in self.accounts.items():
                self._owned.setdefault(_owner_of(account) or "", set()).add(name)
            self._owned_for = (self._joins, len(self.accounts))
        return self._owned

    def accounts_of(self, person_id: str) -> list[Document]:
        """The person's accounts that are not deleted, by name."""
        names = sorted(self._owners().get(person_id, ()))
        found = [self.accounts[n] for n in names if n in self.accounts]
        return [a for a in found if _owner_of(a) == person_id and not a.get("deleted")]

    def primary_account(self, person_id: str) -> str | None:
        """The account whose affiliation has the lowest priority, as Cerebrum picks it."""
        ranked = [
            (affiliation.get("priority", 2**31), account["name"])
            for account in self.accounts_of(person_id)
            for affiliation in account.get("affiliations") or []
        ]
        return min(ranked)[1] if ranked else None

    def is_active(self, account: Mapping[str, Any]) -> bool:
        """Not deleted and not expired."""
        expires = _day(account.get("expire_date"))
        return not account.get("deleted") and (expires is None or expires > self.today())


def _without(document: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key not in keys}


# --- the HTTP API ---


def _refusal(presented: str | None) -> web.Response:
    message = "Missing API key in header" if presented is None else "Invalid API key in header"
    return web.json_response({"message": message, "api-key-header": KEY_HEADER}, status=403)


def _not_found(message: str) -> web.Response:
    return web.json_response({"message": message}, status=404)


def _ou(unit: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if unit is None:
        return None
    return {"href": f"/v1/ous/{unit['id']}", "id": unit["id"]}


Render = Callable[[Document, web.Request], object]


class _Api:
    """The request handlers over one store."""

    def __init__(self, store: CerebrumStore) -> None:
        self.store = store

    def person_view(self, render: Render) -> Handler:
        """A handler that finds ``{id}``'s person (or answers 404) and renders it."""

        async def handle(request: web.Request) -> web.Response:
            raw = request.match_info["id"]
            if not raw.isdigit():  # flask's <int:id> route does not match
                return _not_found(FLASK_NOT_FOUND)
            person = self.store.persons.get(str(int(raw)))
            if person is None:
                return _not_found(f"No such person with entity_id={raw}")
            return web.json_response(render(person, request))

        return handle

    def account_view(self, render: Render) -> Handler:
        """A handler that finds the account ``{name}`` (or answers 404) and renders it."""

        async def handle(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            account = self.store.accounts.get(name)
            if account is None:
                return _not_found(f"No such Account with name={name}")
            return web.json_response(render(account, request))

        return handle

    # --- persons ---

    @staticmethod
    def person(person: Document, _: web.Request) -> object:
        return {
            "href": f"/v1/persons/{person['id']}",
            "id": person["id"],
            "birth_date": person.get("birth_date"),
            "created_at": person.get("created_at"),
            "names": person.get("names") or [],
            "contexts": person.get("contexts") or [],
        }

    @staticmethod
    def person_affiliations(person: Document, request: web.Request) -> object:
        deleted_too = request.query.get("include_deleted", "").lower() in ("true", "1", "yes")
        return {
            "affiliations": [
                {**affiliation, "ou": _ou(affiliation.get("ou"))}
                for affiliation in person.get("affiliations") or []
                if deleted_too or not affiliation.get("deleted_date")
            ]
        }

    @staticmethod
    def person_external_ids(person: Document, _: web.Request) -> object:
        return {"external_ids": person.get("external_ids") or []}

    def person_accounts(self, person: Document, _: web.Request) -> object:
        person_id = str(person["id"])
        primary = self.store.primary_account(person_id)
        return {
            "accounts": [
                {
                    "href": f"/v1/accounts/{account['name']}",
                    "id": account["id"],
                    "name": account["name"],
                    "primary": account["name"] == primary,
                }
                for account in self.store.accounts_of(person_id)
            ]
        }

    @staticmethod
    def person_consents(person: Document, _: web.Request) -> object:
        return {"consents": person.get("consents") or []}

    # --- accounts ---

    def account(self, account: Document, _: web.Request) -> object:
        owner = account.get("owner") or {}
        kind = owner.get("type", "person")
        return {
            "href": f"/v1/accounts/{account['name']}",
            "name": account["name"],
            "id": account["id"],
            "owner": {
                "id": owner.get("id"),
                "type": kind,
                "name": owner.get("name"),
                "href": f"/v1/{kind}s/{owner.get('id')}",
            },
            "created_at": account.get("created_at"),
            "expire_date": account.get("expire_date"),
            "contexts": account.get("contexts") or [],
            "primary_email": account.get("primary_email"),
            "active": self.store.is_active(account),
        }

    def account_quarantines(self, account: Document, _: web.Request) -> object:
        today = self.store.today()
        quarantines = [
            {**quarantine, "active": _in_force(quarantine, today)}
            for quarantine in account.get("quarantines") or []
        ]
        return {"locked": any(q["active"] for q in quarantines), "quarantines": quarantines}

    @staticmethod
    def account_affiliations(account: Document, _: web.Request) -> object:
        return {
            "affiliations": [
                {**affiliation, "ou": _ou(affiliation.get("ou"))}
                for affiliation in account.get("affiliations") or []
            ]
        }

    # --- lists ---

    async def list_accounts(self, request: web.Request) -> web.Response:
        owner_id, name = request.query.get("owner_id"), request.query.get("name")
        listed = [
            account
            for _, account in sorted(self.store.accounts.items())
            if not account.get("deleted")
            and (owner_id is None or str(account.get("owner", {}).get("id")) == owner_id)
            and (name is None or account["name"] == name)
        ]
        return web.json_response(
            {
                "accounts": [
                    {
                        "href": f"/v1/accounts/{account['name']}",
                        "name": account["name"],
                        "id": account["name"],
                        "owner": {
                            "id": account.get("owner", {}).get("id"),
                            "type": account.get("owner", {}).get("type"),
                        },
                        "expire_date": account.get("expire_date"),
                        "np_type": None,
                    }
                    for account in listed
                ]
            }
        )

    async def search_affiliations(self, request: web.Request) -> web.Response:
        affiliation, _, status = request.query.get("affiliation", "").partition("/")
        rows = [
            {"href": f"/v1/persons/{person['id']}", "id": person["id"]}
            for _, person in sorted(self.store.persons.items(), key=lambda item: int(item[0]))
            for row in person.get("affiliations") or []
            if not row.get("deleted_date")
            and (not affiliation or row.get("affiliation") == affiliation)
            and (not status or row.get("status") == status)
        ]
        return web.json_response({"persons": rows})


def make_app(store: CerebrumStore, *, middlewares: Iterable[Middleware] = ()) -> web.Application:
    """Cerebrum's REST API over ``store``; ``middlewares`` (fault injection, say) run first."""
    api = _Api(store)
    app = fake_http.application(
        middlewares, fake_http.require_api_key(KEY_HEADER, store.api_keys, _refusal)
    )
    persons, accounts = api.person_view, api.account_view
    app.router.add_get("/v1/persons/{id}", persons(api.person))
    app.router.add_get("/v1/persons/{id}/affiliations", persons(api.person_affiliations))
    app.router.add_get("/v1/persons/{id}/external-ids", persons(api.person_external_ids))
    app.router.add_get("/v1/persons/{id}/accounts", persons(api.person_accounts))
    app.router.add_get("/v1/persons/{id}/consents", persons(api.person_consents))
    app.router.add_get("/v1/accounts/", api.list_accounts)
    app.router.add_get("/v1/accounts/{name}", accounts(api.account))
    app.router.add_get("/v1/accounts/{name}/quarantines", accounts(api.account_quarantines))
    app.router.add_get("/v1/accounts/{name}/affiliations", accounts(api.account_affiliations))
    app.router.add_get("/v1/search/persons/affiliations", api.search_affiliations)
    return app


async def serve(store: CerebrumStore, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve a fake Cerebrum over ``store`` on ``host:port`` (0: a free port)."""
    return await fake_http.serve_app(make_app(store), host, port)


# -- the conformance kit's view of the fake (connectors.testing.conformance) -------------


def sample_person(number: int, **fields: Any) -> Document:
    """An employee with a (test) national ID, a DFØ person id and an ANSATT affiliation."""
    person: Document = {
        "id": number,
        "birth_date": "1980-02-03T00:00:00",
        "created_at": "2015-06-20T10:01:02",
        "names": [
            {"source_system": "Cached", "variant": "FIRST", "name": f"Ansatt{number % 97}"},
            {"source_system": "Cached", "variant": "LAST", "name": "Nordmann"},
        ],
        "contexts": ["ldap_person"],
        "affiliations": [
            {
                "affiliation": "ANSATT",
                "status": "tekadm",
                "ou": {"id": 1234},
                "source_system": "DFO_SAP",
                "create_date": "2020-01-01T00:00:00",
                "deleted_date": None,
            }
        ],
        "external_ids": [
            {
                "id_type": "norwegianNationalId",
                "external_id": f"150599{12345 + number * 7919 % 80000:05d}",
                "source_system": "DFO_SAP",
            },
            {"id_type": "dfoPersonId", "external_id": f"{number:08d}", "source_system": "DFO_SAP"},
        ],
        "consents": [],
    }
    person.update(fields)
    return person


def sample_account(number: int, owner: int, **fields: Any) -> Document:
    """A person's account in the Feide directory, with an ANSATT affiliation."""
    account: Document = {
        "id": 800000 + number,
        "name": f"acc{number}",
        "owner": {"id": owner, "type": "person"},
        "created_at": "2015-07-26T09:14:03",
        "expire_date": None,
        "contexts": ["LDAP_account", "AD_account"],
        "quarantines": [],
        "affiliations": [{"affiliation": "ANSATT", "priority": 50, "ou": {"id": 1234}}],
    }
    account.update(fields)
    return account


@dataclass
class CerebrumSource(FeedHarness):
    """Drives a fake Cerebrum for the kit, for the person or the account connector:
    each change is announced with Cerebrum's events. An account comes with its owner."""

    store: CerebrumStore = field(kw_only=True)
    kind: Literal["persons", "accounts"] = field(kw_only=True)

    def put(self, number: int, *, broken: bool) -> str:
        bad = "2026-13-45T00:00:00"
        if self.kind == "persons":
            self.store.put_person(sample_person(number, **({"birth_date": bad} if broken else {})))
            return str(number)
        self.store.put_person(sample_person(number))
        expiry = {"expire_date": bad} if broken else {}
        self.store.put_account(sample_account(number, number, **expiry))
        return f"acc{number}"

    async def remove_silently(self, key: str) -> None:
        if self.kind == "persons":
            self.store.persons.pop(key, None)
        else:
            self.store.accounts.pop(key, None)


def _owner_of(account: Document) -> str | None:
    """The id of the person who owns the account (None for a group's)."""
    owner = account.get("owner") or {}
    return str(owner.get("id")) if owner.get("type") == "person" else None


@contextlib.asynccontextmanager
async def cerebrum_source(
    amqp_url: str, prefix: str, connector: str, institution: str = "uio"
) -> AsyncIterator[CerebrumSource]:
    """A fake Cerebrum on a free port with its events on RabbitMQ (an exchange and a
    queue of ``prefix``'s own), for ``cerebrum-person`` or ``cerebrum-account``."""
    store = CerebrumStore(api_keys={KIT_API_KEY})
    async with fake_feed_source(
        store,
        make_app,
        amqp_url=amqp_url,
        prefix=prefix,
        source="cerebrum",
        connector=connector,
        institution=institution,
        binding=f"{KEY_PREFIX}.#",
    ) as feed:
        kind: Literal["persons", "accounts"] = (
            "accounts" if connector.endswith("account") else "persons"
        )
        yield CerebrumSource(feed, store=store, kind=kind)
