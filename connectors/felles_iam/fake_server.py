"""A faithful local fake of Felles IAM's SCIM API, with its change notifications.

:class:`FellesIamStore` keeps SCIM Users as JSON; tests add, change and delete
them, and every change queues the notification Felles IAM would publish on
``no.{inst}.iga.scim.user.{verb}``. :func:`make_app` serves the store at
``/scim/v2`` as Sikt describes the API (G4):

* ``GET /scim/v2/Users/{id}``: the User, ``meta`` kept by the store, without
  ``norEduPersonNIN`` (searchable, never returned); an unknown id is 404 with a
  SCIM error body;
* ``GET /scim/v2/Users``: a ``ListResponse`` page by ``startIndex`` (from 1) and
  ``count`` (100, at most 1000), in id order, filtered by the convenience
  parameters ``userName`` (the domain is added when missing), ``employeeNumber``,
  ``studentNumber``, ``fsPersonNumber``, ``gregPersonNumber``,
  ``norEduPersonNIN``, ``userType`` and ``active``, and by ``filter`` terms
  ``attr op value`` (``eq ne co sw ew gt ge lt le``, ``attr pr``) joined by
  ``and``; anything else in a filter is 400 ``invalidFilter``;
* ``GET /scim/v2/Groups``: an empty ``ListResponse`` (the minimal API);
* answers are ``application/scim+json``; a request without a valid
  ``X-Gravitee-Api-Key`` is refused by the gateway (401).

Inferred: the ``or``/``not`` and ``valuePath`` filters are left out (the fake
refuses them, as G4 refuses ``valuePath``); the order of list pages.

:func:`sample_user` makes a plausible primary User, and :class:`FellesIamSource`
(started by :func:`felles_iam_source`) drives the fake for the conformance kit and the
fault tests, with the notifications on RabbitMQ.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from connectors import fake_http
from connectors.fake_http import Middleware, Notification, RunningServer
from connectors.felles_iam.connector import ERROR_SCHEMA
from connectors.felles_iam.mapping import ENTERPRISE_EXTENSION, NO_EDU_EXTENSION
from connectors.felles_iam.notifications import DEFAULT_COUNT, EVENT_SCHEMA, LIST_SCHEMA, MAX_COUNT
from connectors.testing.feeds import KIT_API_KEY, FeedHarness, fake_feed_source

__all__ = [
    "BASE_PATH",
    "ERROR_SCHEMA",
    "FellesIamSource",
    "FellesIamStore",
    "felles_iam_source",
    "make_app",
    "sample_user",
    "serve",
]

BASE_PATH = "/scim/v2"
SCIM_JSON = "application/scim+json"
NIN = "norEduPersonNIN"
_EXTENSIONS = (NO_EDU_EXTENSION, ENTERPRISE_EXTENSION)
_CONVENIENCE = {  # query parameter → attribute path
    "employeeNumber": f"{NO_EDU_EXTENSION}:employeeNumber",
    "studentNumber": f"{NO_EDU_EXTENSION}:studentNumber",
    "fsPersonNumber": f"{NO_EDU_EXTENSION}:fsPersonNumber",
    "gregPersonNumber": f"{NO_EDU_EXTENSION}:gregPersonNumber",
    NIN: f"{NO_EDU_EXTENSION}:{NIN}",
    "userType": "userType",
    "active": "active",
}
_TERM = re.compile(
    r"\s*(?P<path>[A-Za-z][\w.:-]*)\s+(?:(?P<op>eq|ne|co|sw|ew|gt|ge|lt|le)\s+"
    r'(?P<value>"(?:[^"\\]|\\.)*"|true|false|null|-?\d+)|(?P<present>pr))\s*',
    re.IGNORECASE,
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)

User = dict[str, Any]
Term = tuple[str, str, object]


# --- attributes and filters ---


def attribute(user: Mapping[str, Any], path: str) -> object:
    """The value at a SCIM attribute path (``name.givenName``,
    ``no:edu:scim:user:employeeNumber``), or None."""
    for extension in _EXTENSIONS:
        if path.startswith(f"{extension}:"):
            return (user.get(extension) or {}).get(path.removeprefix(f"{extension}:"))
    value: object = user
    for step in path.split("."):
        value = value.get(step) if isinstance(value, dict) else None
    return value


def parse_filter(expression: str) -> list[Term]:
    """SCIM filter terms joined by ``and``; ValueError for anything else."""
    terms: list[Term] = []
    for part in _AND.split(expression.strip()):
        found = _TERM.fullmatch(part)
        if found is None:
            raise ValueError(f"unsupported filter term: {part[:60]!r}")
        if found["present"]:
            terms.append((found["path"], "pr", None))
        else:
            terms.append((found["path"], found["op"].lower(), json.loads(found["value"])))
    return terms


def _compare(value: object, op: str, wanted: object) -> bool:
    if op == "pr":
        return value not in (None, "", [], {})
    if op in ("eq", "ne"):
        same = (
            str(value).casefold() == str(wanted).casefold()
            if isinstance(value, str) and isinstance(wanted, str)
            else value == wanted
        )
        return same if op == "eq" else not same
    if not isinstance(value, str) or not isinstance(wanted, str):
        return False
    tests: dict[str, Callable[[str, str], bool]] = {
        "co": lambda a, b: b.casefold() in a.casefold(),
        "sw": lambda a, b: a.casefold().startswith(b.casefold()),
        "ew": lambda a, b: a.casefold().endswith(b.casefold()),
        "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b,
    }
    return tests[op](value, wanted)


def matches(user: Mapping[str, Any], terms: Iterable[Term]) -> bool:
    """Whether ``user`` satisfies every term."""
    return all(_compare(attribute(user, path), op, wanted) for path, op, wanted in terms)


# --- the store ---


def _changed_paths(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The attributes that differ, as Felles IAM names them in a MODIFY notification."""
    paths: list[str] = []
    for key in sorted(before.keys() | after.keys()):
        if key in ("meta", "schemas", "active") or before.get(key) == after.get(key):
            continue
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            joiner = ":" if key in _EXTENSIONS else "."
            paths += [
                f"{key}{joiner}{sub}"
                for sub in sorted(old.keys() | new.keys())
                if old.get(sub) != new.get(sub)
            ]
        else:
            paths.append(key)
    return paths


class FellesIamStore:
    """Felles IAM's SCIM Users in memory; every change queues Felles IAM's notification."""

    def __init__(
        self,
        *,
        institution: str = "uib",
        domain: str = "uib.no",
        api_keys: Iterable[str] = ("felles-iam-test-key",),
        base_url: str = "https://gw-uib.intark.uh-it.no/scim/v2",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.institution = institution
        self.domain = domain
        self.api_keys = set(api_keys)
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.users: dict[str, User] = {}
        self.outbox = fake_http.Outbox()

    def _now(self) -> str:
        return self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _notify(self, verb: str, user_id: str, attributes: Iterable[str] = ()) -> None:
        body: dict[str, Any] = {
            "schemas": [EVENT_SCHEMA],
            "type": verb.upper(),
            "time": self._now(),
            "resourceUris": [f"{self.base_url}/Users/{user_id}"],
        }
        if attributes := list(attributes):
            body["attributes"] = attributes
        key = f"no.{self.institution}.iga.scim.user.{verb}"
        self.outbox.put(Notification(key, json.dumps(body).encode()))

    def take_notifications(self) -> list[Notification]:
        """The notifications queued since the last call, oldest first."""
        return self.outbox.take()

    def put_user(self, user: Mapping[str, Any]) -> None:
        """Add or replace a User (by ``id``); the store keeps its ``meta``."""
        new = copy.deepcopy(dict(user))
        user_id = str(new["id"])
        old = self.users.get(user_id)
        now = self._now()
        created = (old or {}).get("meta", {}).get("created", now)
        new["meta"] = {
            "resourceType": "User",
            "created": created,
            "lastModified": now,
            "location": f"{self.base_url}/Users/{user_id}",
        }
        self.users[user_id] = new
        if old is None:
            self._notify("add", user_id)
            return
        if old.get("active") != new.get("active"):
            self._notify("activate" if new.get("active") else "deactivate", user_id)
        changed = _changed_paths(old, new)
        if changed:
            self._notify("modify", user_id, changed)
        else:
            new["meta"]["lastModified"] = old["meta"]["lastModified"]

    def delete_user(self, user_id: str) -> None:
        """Remove a User; Felles IAM announces ``delete``."""
        if self.users.pop(user_id, None) is not None:
            self._notify("delete", user_id)


# --- the HTTP API ---


def _scim(body: object, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type=SCIM_JSON)


def _error(status: int, detail: str, scim_type: str | None = None) -> web.Response:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return _scim(body, status)


def _shown(user: Mapping[str, Any]) -> User:
    """A User as the API returns it: the national ID is never returned."""
    shown = copy.deepcopy(dict(user))
    shown.get(NO_EDU_EXTENSION, {}).pop(NIN, None)
    return shown


def _list(resources: list[User], total: int, start: int) -> web.Response:
    return _scim(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


def _terms(request: web.Request, store: FellesIamStore) -> list[Term]:
    """The filter terms of a request: the convenience parameters, then ``filter``."""
    terms: list[Term] = []
    user_name = request.query.get("userName")
    if user_name:
        full = user_name if "@" in user_name else f"{user_name}@{store.domain}"
        terms.append(("userName", "eq", full))
    for name, path in _CONVENIENCE.items():
        if name in request.query:
            value = request.query[name]
            wanted: object = value.lower() == "true" if name == "active" else value
            terms.append((path, "eq", wanted))
    if request.query.get("filter"):
        terms += parse_filter(request.query["filter"])
    return terms


def _paging(request: web.Request) -> tuple[int, int]:
    start = request.query.get("startIndex", "1")
    count = request.query.get("count", str(DEFAULT_COUNT))
    if not start.isdigit() or not count.isdigit():
        raise ValueError("startIndex and count must be whole numbers")
    return max(1, int(start)), min(int(count), MAX_COUNT)


def make_app(store: FellesIamStore, *, middlewares: Iterable[Middleware] = ()) -> web.Application:
    """Felles IAM's SCIM API over ``store``; ``middlewares`` (fault injection, say) run first."""

    async def user(request: web.Request) -> web.Response:
        found = store.users.get(request.match_info["id"])
        if found is None:
            return _error(404, f"Resource {request.match_info['id']} not found")
        return _scim(_shown(found))

    async def users(request: web.Request) -> web.Response:
        try:
            terms = _terms(request, store)
        except ValueError as problem:
            return _error(400, str(problem), "invalidFilter")
        try:
            start, count = _paging(request)
        except ValueError as problem:
            return _error(400, str(problem), "invalidValue")
        found = [u for _, u in sorted(store.users.items()) if matches(u, terms)]
        page = [_shown(u) for u in found[start - 1 : start - 1 + count]]
        return _list(page, len(found), start)

    async def groups(_: web.Request) -> web.Response:
        return _list([], 0, 1)

    gateway = fake_http.require_api_key(fake_http.GRAVITEE_KEY_HEADER, store.api_keys)
    app = fake_http.application(middlewares, gateway)
    app.router.add_get(f"{BASE_PATH}/Users", users)
    app.router.add_get(f"{BASE_PATH}/Users/{{id}}", user)
    app.router.add_get(f"{BASE_PATH}/Groups", groups)
    return app


async def serve(store: FellesIamStore, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve a fake Felles IAM over ``store`` on ``host:port`` (0: a free port)."""
    return await fake_http.serve_app(make_app(store), host, port)


# -- the conformance kit's view of the fake (connectors.testing.conformance) -------------


def sample_user(number: int, *, domain: str = "uib.no", **fields: Any) -> User:
    """A primary employee account: the User Felles IAM serves for its id, which is the
    person's UH-ID."""
    uhid = f"{number:032x}"
    user: User = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", NO_EDU_EXTENSION],
        "id": uhid,
        "externalId": uhid,
        "userName": f"usr{number:03d}@{domain}",
        "displayName": f"Ansatt{number % 97} Nordmann",
        "name": {"givenName": f"Ansatt{number % 97}", "familyName": "Nordmann"},
        "userType": "Employee",
        "active": True,
        NO_EDU_EXTENSION: {
            "employeeNumber": f"{number:08d}",
            "eduPersonPrincipalName": f"usr{number:03d}@{domain}",
            "accountType": "primary",
            "primaryOrgUnit": {"symbol": "II", "legacyStedkode": "121500"},
        },
    }
    user.update(fields)
    return user


@dataclass
class FellesIamSource(FeedHarness):
    """Drives a fake Felles IAM for the kit: each change is announced with its
    notification. Keys are User ids, which for primary Users are the UH-IDs."""

    store: FellesIamStore = field(kw_only=True)

    def put(self, number: int, *, broken: bool) -> str:
        bad = {"userName": "not a username"} if broken else {}
        user = sample_user(number, domain=self.store.domain, **bad)
        self.store.put_user(user)
        return str(user["id"])

    async def remove_silently(self, key: str) -> None:
        self.store.users.pop(key, None)


@contextlib.asynccontextmanager
async def felles_iam_source(
    amqp_url: str, prefix: str, connector: str, institution: str = "uib"
) -> AsyncIterator[FellesIamSource]:
    """A fake Felles IAM on a free port with its notifications on RabbitMQ (an exchange
    and a queue of ``prefix``'s own, bound to the institution's keys)."""
    store = FellesIamStore(
        institution=institution, domain=f"{institution}.no", api_keys={KIT_API_KEY}
    )
    async with fake_feed_source(
        store,
        make_app,
        amqp_url=amqp_url,
        prefix=prefix,
        source="felles_iam",
        connector=connector,
        institution=institution,
        base_path=f"{BASE_PATH}/",
        binding=f"no.{institution}.iga.scim.user.*",
    ) as feed:
        yield FellesIamSource(feed, store=store)
