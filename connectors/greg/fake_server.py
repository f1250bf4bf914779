"""A faithful local fake of Greg's REST API, for tests and the demo.

:class:`GregStore` keeps guests and org units as Greg's JSON; tests add, change
and delete them, and every change queues the events Greg would publish.
:func:`make_app` serves the store as Greg does behind UiO's API gateway:

* ``GET /v1/persons/{id}`` and ``GET /v1/orgunits/{id}``: the object, or 404 with
  Django REST framework's ``{"detail": "Not found."}``;
* ``GET /v1/persons?active=&verified=&first_name=&last_name=&page=`` and
  ``GET /v1/orgunits?page=``: pages ``{"count", "next", "previous", "results"}``
  in id order, ``next`` an absolute link; a page past the end is 404
  ``{"detail": "Invalid page."}``; a bad ``active``/``verified`` is 400;
* ``GET /health/``: ``OK`` as text;
* every answer from the API carries ``X-Greg-Response-For``, which Cerebrum's
  client uses to tell Greg's own 404 from a proxy's; a path the API does not
  have gets aiohttp's plain 404 without it;
* a request without a valid ``X-Gravitee-Api-Key`` is refused by the "gateway"
  (401), before Greg sees it.

``active=true`` keeps guests whose registration is completed, who have a date of
birth and a role running today; ``verified=true`` keeps guests with a trusted
(``automatic``/``manual``, not invalid) national ID or passport. Both are
inferred from Greg's behaviour as UiO describes it, as is the page size (100)
and the value of ``X-Greg-Response-For`` (the path asked for).

:func:`sample_guest` makes a plausible guest, and :class:`GregSource` (started by
:func:`greg_source`) drives the fake for the conformance kit and the fault tests, with
Greg's events on RabbitMQ.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from connectors.fake_http import (
    GRAVITEE_KEY_HEADER,
    Middleware,
    Notification,
    Outbox,
    RunningServer,
    application,
    require_api_key,
    serve_app,
)
from connectors.greg.connector import RESPONSE_FOR_HEADER
from connectors.greg.mapping import NATIONAL_ID, PASSPORT, TRUSTED_VERIFICATIONS
from connectors.greg.mapping import normalise_greg_id as _id
from connectors.testing.feeds import KIT_API_KEY, FeedHarness, fake_feed_source

__all__ = [
    "PAGE_SIZE",
    "GregSource",
    "GregStore",
    "greg_source",
    "is_active",
    "is_verified",
    "make_app",
    "sample_guest",
    "serve",
]

PAGE_SIZE = 100
_CHILDREN = {  # a person's list field → the event object name and the data key of its id
    "roles": ("person_role", "role_id"),
    "identities": ("person_identity", "identity_id"),
    "consents": ("person_consent", "consent_id"),
}
_TRUE = frozenset({"true", "True", "1"})
_FALSE = frozenset({"false", "False", "0"})

Person = dict[str, Any]


def is_active(person: Mapping[str, Any], today: date) -> bool:
    """Greg's active guest: registration completed, birth date set, a role running today."""
    if not person.get("registration_completed_date") or not person.get("date_of_birth"):
        return False
    day = today.isoformat()
    return any(
        (role.get("start_date") or day) <= day <= (role.get("end_date") or day)
        for role in person.get("roles") or []
    )


def is_verified(person: Mapping[str, Any]) -> bool:
    """Whether the guest has a trusted national ID or passport (inferred meaning)."""
    return any(
        identity.get("type") in (NATIONAL_ID, PASSPORT)
        and identity.get("verified") in TRUSTED_VERIFICATIONS
        and not identity.get("invalid")
        for identity in person.get("identities") or []
    )


class GregStore:
    """Greg's guests and org units in memory; every change queues Greg's events."""

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = ("greg-test-key",),
        source: str = "greg:uio:test",
        today: Callable[[], date] = date.today,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.api_keys = set(api_keys)
        self.source = source
        self.today = today
        self.page_size = page_size
        self.persons: dict[str, Person] = {}
        self.orgunits: dict[str, Person] = {}
        self.outbox = Outbox()
        self._last_event_id = 0

    # --- events ---

    def _emit(self, event_type: str, **data: str) -> None:
        self._last_event_id += 1
        body = {
            "id": self._last_event_id,
            "source": self.source,
            "type": event_type,
            "data": {key: int(value) for key, value in data.items()},
        }
        self.outbox.put(Notification(event_type, json.dumps(body).encode()))

    def take_notifications(self) -> list[Notification]:
        """The events queued since the last call, oldest first, as Greg's message bodies."""
        return self.outbox.take()

    # --- persons ---

    def put_person(self, person: Mapping[str, Any]) -> None:
        """Add a guest or replace one (by ``id``), queueing an event for each change."""
        new = copy.deepcopy(dict(person))
        person_id = _id(new.get("id"))
        old = self.persons.get(person_id)
        self.persons[person_id] = new
        top = {key: value for key, value in new.items() if key not in _CHILDREN}
        if old is None:
            self._emit("person.add", person_id=person_id)
        elif top != {key: value for key, value in old.items() if key not in _CHILDREN}:
            self._emit("person.update", person_id=person_id)
        for field, (kind, key) in _CHILDREN.items():
            before = {_id(c["id"]): c for c in (old or {}).get(field) or []}
            after = {_id(c["id"]): c for c in new.get(field) or []}
            for child_id in sorted(before.keys() | after.keys(), key=int):
                operation = _operation(before.get(child_id), after.get(child_id))
                if operation:
                    self._emit(f"{kind}.{operation}", person_id=person_id, **{key: child_id})

    def delete_person(self, person_id: object) -> None:
        """Remove a guest; Greg announces ``person.delete``."""
        found = _id(person_id)
        if self.persons.pop(found, None) is not None:
            self._emit("person.delete", person_id=found)

    # --- org units ---

    def put_orgunit(self, unit: Mapping[str, Any]) -> None:
        """Add or replace an org unit (by ``id``)."""
        new = copy.deepcopy(dict(unit))
        unit_id = _id(new.get("id"))
        operation = _operation(self.orgunits.get(unit_id), new)
        self.orgunits[unit_id] = new
        if operation:
            self._emit(f"orgunit.{operation}", orgunit_id=unit_id)


def _operation(before: object, after: object) -> str | None:
    """add, update, delete or nothing, from an object's two versions."""
    if before is None:
        return "add" if after is not None else None
    if after is None:
        return "delete"
    return "update" if before != after else None


# --- the HTTP API ---


def _answer(request: web.Request, body: object, status: int = 200) -> web.Response:
    response = web.json_response(body, status=status)
    response.headers[RESPONSE_FOR_HEADER] = request.path
    return response


def _not_found(request: web.Request, detail: str = "Not found.") -> web.Response:
    return _answer(request, {"detail": detail}, status=404)


def _lookup(request: web.Request, objects: Mapping[str, Person]) -> web.Response:
    raw = request.match_info["id"]
    found = objects.get(raw.lstrip("0") or "0") if raw.isdigit() else None
    return _answer(request, found) if found is not None else _not_found(request)


def _flag_filters(request: web.Request, names: Iterable[str]) -> dict[str, bool] | web.Response:
    """The boolean filters asked for, or django-filter's 400 for a value it does not know."""
    chosen: dict[str, bool] = {}
    for name in names:
        value = request.query.get(name)
        if value is None or value == "":
            continue
        if value not in _TRUE | _FALSE:
            message = f"Select a valid choice. {value} is not one of the available choices."
            return _answer(request, {name: [message]}, status=400)
        chosen[name] = value in _TRUE
    return chosen


def _page(request: web.Request, store: GregStore, matches: list[Person]) -> web.Response:
    """One page of ``matches`` as DRF's page-number pagination shows it."""
    raw = request.query.get("page", "1")
    number = int(raw) if raw.isdigit() else 0
    pages = max(1, -(-len(matches) // store.page_size))
    if not 1 <= number <= pages:
        return _not_found(request, "Invalid page.")
    start = (number - 1) * store.page_size

    def link(page: int) -> str | None:
        if not 1 <= page <= pages:
            return None
        if page == 1:  # as DRF does: the first page's link has no page number
            return str(request.url.without_query_params("page"))
        return str(request.url.update_query(page=str(page)))

    return _answer(
        request,
        {
            "count": len(matches),
            "next": link(number + 1),
            "previous": link(number - 1),
            "results": matches[start : start + store.page_size],
        },
    )


def _by_id(objects: Mapping[str, Person]) -> list[Person]:
    return [objects[key] for key in sorted(objects, key=int)]


def make_app(store: GregStore, *, middlewares: Iterable[Middleware] = ()) -> web.Application:
    """Greg's REST API over ``store``; ``middlewares`` (fault injection, say) run first."""

    async def person(request: web.Request) -> web.Response:
        return _lookup(request, store.persons)

    async def persons(request: web.Request) -> web.Response:
        flags = _flag_filters(request, ("active", "verified"))
        if isinstance(flags, web.Response):
            return flags
        today = store.today()
        names = {
            n: request.query[n].casefold()
            for n in ("first_name", "last_name")
            if request.query.get(n)
        }
        matches = [
            p
            for p in _by_id(store.persons)
            if ("active" not in flags or is_active(p, today) == flags["active"])
            and ("verified" not in flags or is_verified(p) == flags["verified"])
            and all(str(p.get(n) or "").casefold() == v for n, v in names.items())
        ]
        return _page(request, store, matches)

    async def orgunit(request: web.Request) -> web.Response:
        return _lookup(request, store.orgunits)

    async def orgunits(request: web.Request) -> web.Response:
        return _page(request, store, _by_id(store.orgunits))

    async def health(request: web.Request) -> web.Response:
        response = web.Response(text="OK")
        response.headers[RESPONSE_FOR_HEADER] = request.path
        return response

    app = application(middlewares, require_api_key(GRAVITEE_KEY_HEADER, store.api_keys))
    app.router.add_get("/v1/persons", persons)
    app.router.add_get("/v1/persons/{id}", person)
    app.router.add_get("/v1/orgunits", orgunits)
    app.router.add_get("/v1/orgunits/{id}", orgunit)
    app.router.add_get("/health/", health)
    return app


async def serve(store: GregStore, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve a fake Greg over ``store`` on ``host:port`` (0: a free port)."""
    return await serve_app(make_app(store), host, port)


# -- the conformance kit's view of the fake (connectors.testing.conformance) -------------


def sample_guest(number: int, **fields: Any) -> Person:
    """A registered guest researcher with a verified national ID (a test number), a Feide
    id and one running role: what Greg serves for ``GET /v1/persons/{number}``."""
    today = date.today()
    person: Person = {
        "id": number,
        "first_name": f"Gjest{number % 97}",
        "last_name": "Forsker",
        "date_of_birth": "1990-02-03",
        "registration_completed_date": (today - timedelta(days=10)).isoformat(),
        "identities": [
            {
                "id": number * 10 + 1,
                "person": number,
                "type": NATIONAL_ID,
                "value": f"150599{12345 + number * 7919 % 80000:05d}",
                "verified": "automatic",
                "verified_at": "2026-08-04T10:02:11Z",
                "invalid": None,
            },
            {
                "id": number * 10 + 2,
                "person": number,
                "type": "feide_id",
                "value": f"gjest{number}@uio.no",
                "verified": "automatic",
                "verified_at": "2026-08-04T10:02:11Z",
                "invalid": None,
            },
        ],
        "roles": [
            {
                "id": number * 10 + 3,
                "type": "guest-researcher",
                "start_date": (today - timedelta(days=10)).isoformat(),
                "end_date": (today + timedelta(days=300)).isoformat(),
                "sponsor": 17,
                "orgunit": {"id": 3, "active": True, "deleted": False},
            }
        ],
        "consents": [],
    }
    person.update(fields)
    return person


@dataclass
class GregSource(FeedHarness):
    """Drives a fake Greg for the kit: each change is announced with Greg's events."""

    store: GregStore = dataclasses.field(kw_only=True)

    def put(self, number: int, *, broken: bool) -> str:
        bad = {"date_of_birth": "1990-13-45"} if broken else {}
        self.store.put_person(sample_guest(number, **bad))
        return str(number)

    async def remove_silently(self, key: str) -> None:
        self.store.persons.pop(key, None)


@contextlib.asynccontextmanager
async def greg_source(
    amqp_url: str, prefix: str, connector: str = "greg-person", institution: str = "uio"
) -> AsyncIterator[GregSource]:
    """A fake Greg on a free port with its events on RabbitMQ (an exchange and a queue of
    ``prefix``'s own, the queue declared up front as a subscription is)."""
    store = GregStore(api_keys={KIT_API_KEY})
    async with fake_feed_source(
        store,
        make_app,
        amqp_url=amqp_url,
        prefix=prefix,
        source="greg",
        connector=connector,
        institution=institution,
    ) as feed:
        yield GregSource(feed, store=store)
