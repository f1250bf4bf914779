"""The Cerebrum connectors: UiO's IAM persons and accounts from Cerebrum's REST API.

- ``cerebrum-person`` (``source.iam.person``, keyed by person id) and
  ``cerebrum-account`` (``source.iam.account``, keyed by account name).
- **Incremental**: Cerebrum's SCIM events (``no.uio.cerebrum.scim.{type}.{verb}``),
  read in batches. A person's event fetches the person (five requests: the person, its
  affiliations, external ids, accounts and consents); an account's event fetches the
  account (with its quarantines and affiliations, and its owner's affiliations and
  ids). Records copy from each other, so events cross over: an account's event also
  re-fetches its owner for ``cerebrum-person`` (usernames, the primary account), and a
  person's event re-fetches the person's accounts for ``cerebrum-account`` (statuses,
  external ids). ``delete`` (and the old persons of a ``join``) are tombstones.
- **Scheduled events**: an event whose ``nbf`` lies ahead is not acted on before then
  (Cerebrum schedules re-checks so: an affiliation or a quarantine that starts later).
  It is kept in the connector's cursor, which the runtime checkpoints before the event
  is acknowledged, and acted on when due, after a restart too.
- **Full reconciliation**: the API has no plain list of persons, so it fetches the
  owners of all accounts (``GET /v1/accounts/``) and every person with one of
  ``reconcile_affiliations`` (``GET /v1/search/persons/affiliations``); a person with
  neither is out of its reach. Accounts: every account ``GET /v1/accounts/`` lists.

Cerebrum's own 404 is ``{"message": "No such person with entity_id=…"}`` (or ``No such
Account with name=…``): the object is gone. Any other 404 (flask's plain one for a path
the API does not have, or a gateway's) is retried, never a deletion.
"""

from __future__ import annotations

import abc
import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.api_source import ApiSourceConnector, ApiSourceSettings, classifier
from connectors.cerebrum.mapping import (
    FEIDE_CONTEXT,
    PUBLISH_CONSENTS,
    AccountBodies,
    PersonBodies,
    account_name,
    map_account,
    map_person,
)
from connectors.cerebrum.notifications import (
    KEY_PREFIX,
    Action,
    CerebrumEvent,
    Change,
    parse_event,
)
from connectors.sdk import http
from connectors.sdk.amqp import Notification
from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.items import Checkpoint, Delete, Item, Record, mapped, parse_json
from connectors.source_json import InvalidValueError, numeric_id
from hub.errors import MappingError

__all__ = [
    "CerebrumAccountConnector",
    "CerebrumConnector",
    "CerebrumPersonConnector",
    "CerebrumSettings",
    "Recheck",
    "read_schedule",
    "write_schedule",
]

log = structlog.get_logger("connectors.cerebrum")
PERSONS = "v1/persons"
ACCOUNTS = "v1/accounts"
SEARCH = "v1/search/persons/affiliations"
_LATEST_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


class CerebrumSettings(ApiSourceSettings):
    """How to reach Cerebrum's REST API and its event queue."""

    model_config = SettingsConfigDict(env_prefix="HUB_CEREBRUM_")

    base_url: str = Field(
        pattern=r"^https?://", description="Cerebrum's REST API base URL, before v1/."
    )
    api_key_header: str = Field(default="X-Auth-Key")
    key_prefix: str = Field(
        default=KEY_PREFIX, description="The events' routing key prefix (no.uio.cerebrum.scim)."
    )
    feide_realm: str | None = Field(
        default=None, description="The Feide realm (uio.no) that makes Feide names."
    )
    feide_context: str = Field(default=FEIDE_CONTEXT)
    publish_consents: frozenset[str] = Field(default=PUBLISH_CONSENTS)
    reconcile_affiliations: tuple[str, ...] = Field(
        default=("ANSATT", "STUDENT", "TILKNYTTET", "MANUELL"),
        min_length=1,
        description="The affiliations whose persons a full reconciliation lists.",
    )
    max_scheduled: int = Field(
        default=10_000,
        ge=0,
        description="Events kept for later (nbf); beyond this one is acted on at once.",
    )


# -- the schedule of events not yet due, kept in the cursor -----------------------------


@dataclass(frozen=True)
class Recheck:
    """What to do about one object when ``due`` comes."""

    due: datetime
    change: Change

    def order(self) -> tuple[datetime, str, str, str]:
        """The schedule's order: by due time, then by object."""
        return (self.due, self.change.resource, self.change.entity_id, self.change.action.value)


def _change(resource: object, entity_id: object, action: object) -> Change:
    if resource not in ("persons", "accounts"):
        raise InvalidValueError("names no persons or accounts")
    try:
        act = Action(action)
    except ValueError:
        raise InvalidValueError("has an unknown action") from None
    found = numeric_id(entity_id) if resource == "persons" else account_name(entity_id)
    return Change(str(resource), found, act)


def _recheck(entry: object) -> Recheck:
    if not isinstance(entry, list) or len(entry) != 4:
        raise InvalidValueError("has an entry that is not [due, type, id, action]")
    due, resource, entity_id, action = entry
    if isinstance(due, bool) or not isinstance(due, int) or not 0 <= due <= _LATEST_SECONDS:
        raise InvalidValueError("has a due time that is not whole seconds")
    return Recheck(datetime.fromtimestamp(due, UTC), _change(resource, entity_id, action))


def _entries(payload: object) -> list[object]:
    entries = payload.get("recheck") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise InvalidValueError("has no recheck list")
    return entries


def read_schedule(cursor: str | None) -> list[Recheck]:
    """The re-checks a cursor keeps, by due time. A cursor that cannot be read keeps none
    (logged; the next full reconciliation repairs what they would have done)."""
    if not cursor:
        return []
    try:
        found = [_recheck(entry) for entry in _entries(json.loads(cursor))]
    except (ValueError, RecursionError, InvalidValueError) as exc:
        reason = exc if isinstance(exc, InvalidValueError) else "is not the connector's JSON"
        log.warning("cursor_unreadable", reason=f"the schedule {reason}; it is dropped")
        return []
    return sorted(found, key=Recheck.order)


def write_schedule(schedule: Iterable[Recheck]) -> str:
    """The cursor that keeps ``schedule``."""
    entries = [
        [int(r.due.timestamp()), r.change.resource, r.change.entity_id, r.change.action.value]
        for r in sorted(schedule, key=Recheck.order)
    ]
    return json.dumps({"recheck": entries}, separators=(",", ":"))


# -- answers and bodies ---------------------------------------------------------------


def _not_found(response: http.Response) -> str | None:
    """Cerebrum's own 404: ``{"message": "No such …"}``."""
    try:
        payload = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    message = payload.get("message") if isinstance(payload, dict) else None
    return message if isinstance(message, str) and message.startswith("No such ") else None


def _list_of(key: str) -> Callable[[object], list[Any]]:
    """A reader of a list answer (``{"accounts": [...]}``): its entries."""

    def entries(payload: object) -> list[Any]:
        found = payload.get(key) if isinstance(payload, dict) else None
        if not isinstance(found, list):
            raise MappingError(f"Cerebrum's answer has no '{key}' list")
        return found

    return entries


def _person_owner(account: object) -> str | None:
    """The id of the person owning an account (a list entry or an account body)."""
    owner = account.get("owner") if isinstance(account, dict) else None
    if not isinstance(owner, dict) or owner.get("type") != "person":
        return None
    try:
        return numeric_id(owner.get("id"))
    except InvalidValueError:
        return None


def _bodies(payload: object, origin: str) -> dict[str, object]:
    """The parsed bodies in a fetched set (``{field: body text}``)."""
    if not isinstance(payload, dict):
        raise MappingError(f"{origin}: not a set of bodies")
    return {
        field: parse_json(str(text).encode(), f"{origin} {field}")
        for field, text in payload.items()
    }


def _deleted(changes: Iterable[Change], resource: str) -> set[str]:
    return {c.entity_id for c in changes if c.resource == resource and c.action is Action.DELETE}


class CerebrumConnector(ApiSourceConnector[CerebrumSettings]):
    """What the person and account connectors share: events, schedule, fetching."""

    settings_model = CerebrumSettings

    def __init__(self, settings: CerebrumSettings) -> None:
        super().__init__(settings)
        self.schedule: list[Recheck] = []

    @property
    def binding(self) -> str:
        return self.settings.amqp_routing_key or f"{self.settings.key_prefix}.#"

    answers = classifier("Cerebrum", "HUB_CEREBRUM_", _not_found)

    # -- events and the schedule ------------------------------------------------------

    def resume(self, cursor: str | None) -> None:
        self.schedule = read_schedule(cursor)

    def wake_in(self) -> float | None:
        if not self.schedule:
            return None
        return max(0.0, (self.schedule[0].due - self.now()).total_seconds())

    async def on_batch(self, batch: Sequence[Notification]) -> Sequence[Item]:
        """The items of the events due now (in the batch and scheduled before); the last
        carries the schedule of those not yet due."""
        now = self.now()
        due = [r.change for r in self.schedule if r.due <= now]
        self.schedule = [r for r in self.schedule if r.due > now]
        items: list[Item] = []
        prefix = self.settings.key_prefix

        def parse(message: Notification) -> CerebrumEvent:
            return parse_event(message.routing_key, message.body, key_prefix=prefix)

        for event in self.readable(batch, parse, items):
            later = not event.is_due(now) and len(self.schedule) < self.settings.max_scheduled
            if later and event.not_before is not None:
                self.schedule += [Recheck(event.not_before, c) for c in event.changes()]
            else:
                due.extend(event.changes())
        self.schedule.sort(key=Recheck.order)
        # The last word on an object counts (a create then a delete is a delete).
        latest = {(c.resource, c.entity_id): c for c in due}
        items += await self.on_changes(list(latest.values()))
        return [*items, Checkpoint(cursor=write_schedule(self.schedule))]

    @abc.abstractmethod
    async def on_changes(self, changes: Sequence[Change]) -> list[Item]:
        """Fetch (or delete) what the changes name."""

    # -- fetching ----------------------------------------------------------------------

    async def fetch_set(
        self, paths: Mapping[str, str], mapper: Any, *, key: str, origin: str
    ) -> Item:
        """GET every path at once and map the bodies together: a record, a tombstone when
        Cerebrum says the object is gone, or a dead letter (keeping every body)."""
        answers = await asyncio.gather(*(self.get(path) for path in paths.values()))
        texts: dict[str, str] = {}
        for (field, path), answer in zip(paths.items(), answers, strict=True):
            if isinstance(answer, http.NotFound):
                return self.gone(key)
            if isinstance(answer, http.Refused):
                return self.refused(answer, path, key=key, origin=origin)
            texts[field] = answer.body.decode("utf-8", errors="replace")
        raw = json.dumps(texts, ensure_ascii=False).encode()
        return mapped(raw, lambda payload: mapper(_bodies(payload, origin)), origin=origin, key=key)

    def map_person(self, bodies: Mapping[str, object]) -> Record:
        return map_person(
            PersonBodies(**bodies),
            institution=self.settings.institution,
            secret=self.settings.pseudonym_secret.get_secret_value(),
            fetched_at=self.now(),
            feide_realm=self.settings.feide_realm,
            publish_consents=self.settings.publish_consents,
        )

    def map_account(self, bodies: Mapping[str, object]) -> Record:
        return map_account(
            AccountBodies(**bodies),
            institution=self.settings.institution,
            secret=self.settings.pseudonym_secret.get_secret_value(),
            fetched_at=self.now(),
            feide_realm=self.settings.feide_realm,
            feide_context=self.settings.feide_context,
        )

    async def fetch_person(self, person_id: str) -> Item:
        paths = PersonBodies.paths(person_id)
        origin = f"cerebrum:{paths['person']}"
        return await self.fetch_set(paths, self.map_person, key=person_id, origin=origin)

    async def fetch_account(self, name: str) -> Item:
        """The account, then (once its owner is known) the whole set with the owner's."""
        path = f"{ACCOUNTS}/{name}"
        answer = await self.get(path)
        if isinstance(answer, http.NotFound):
            return self.gone(name)
        if isinstance(answer, http.Refused):
            return self.refused(answer, path, key=name, origin=f"cerebrum:/{path}")
        try:
            owner = _person_owner(json.loads(answer.body.decode("utf-8")))
        except (UnicodeDecodeError, ValueError, RecursionError):
            owner = None  # mapping the set says what is wrong with the body
        paths = AccountBodies.paths(name, owner)
        origin = f"cerebrum:{paths['account']}"
        return await self.fetch_set(paths, self.map_account, key=name, origin=origin)

    async def owner_of(self, name: str) -> str | None:
        """The person owning account ``name``, if Cerebrum has it."""
        answer = await self.get(f"{ACCOUNTS}/{name}")
        if not isinstance(answer, http.Found):
            return None
        try:
            return _person_owner(json.loads(answer.body.decode("utf-8")))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None

    async def accounts_of(self, person_id: str) -> list[str]:
        """The names of a person's accounts (none when Cerebrum has no such person)."""
        answer = await self.get(f"{PERSONS}/{person_id}/accounts")
        if not isinstance(answer, http.Found):
            return []
        names = []
        try:
            entries = _list_of("accounts")(
                parse_json(answer.body, f"person {person_id}'s accounts")
            )
        except MappingError as exc:
            raise SourceUnavailableError(str(exc)) from exc
        for entry in entries:
            try:
                names.append(account_name(entry.get("name") if isinstance(entry, dict) else None))
            except InvalidValueError:
                continue
        return names

    async def all_accounts(self) -> list[Any]:
        return await self.listing(f"{ACCOUNTS}/", None, _list_of("accounts"))


class CerebrumPersonConnector(CerebrumConnector):
    """Cerebrum persons on ``source.iam.person``, keyed by person id."""

    name = "cerebrum-person"
    schema = "no.bott.hub.iam.Person"
    topic = "source.iam.person"

    async def on_changes(self, changes: Sequence[Change]) -> list[Item]:
        fetch: dict[str, None] = {}
        items: list[Item] = []
        for change in changes:
            if change.resource == "persons" and change.action is Action.DELETE:
                items.append(self.gone(change.entity_id))
            elif change.resource == "persons":
                fetch[change.entity_id] = None
            else:  # an account's change: its owner's usernames may have changed
                owner = await self.owner_of(change.entity_id)
                if owner is not None:
                    fetch[owner] = None
        deleted = _deleted(changes, "persons")
        for person_id in fetch:
            if person_id not in deleted:
                items.append(await self.fetch_person(person_id))
        return items

    async def list_all(self) -> AsyncIterator[Item]:
        found = {owner for owner in map(_person_owner, await self.all_accounts()) if owner}
        for affiliation in self.settings.reconcile_affiliations:
            query = {"affiliation": affiliation}
            rows = await self.listing(SEARCH, query, _list_of("persons"))
            for row in rows:
                try:
                    found.add(numeric_id(row.get("id") if isinstance(row, dict) else None))
                except InvalidValueError:
                    continue
        for person_id in sorted(found, key=int):
            item = await self.fetch_person(person_id)
            if not isinstance(item, Delete):  # gone since it was listed
                yield item


class CerebrumAccountConnector(CerebrumConnector):
    """Cerebrum accounts on ``source.iam.account``, keyed by account name."""

    name = "cerebrum-account"
    schema = "no.bott.hub.iam.Account"
    topic = "source.iam.account"

    async def on_changes(self, changes: Sequence[Change]) -> list[Item]:
        fetch: dict[str, None] = {}
        items: list[Item] = []
        for change in changes:
            if change.resource == "accounts" and change.action is Action.DELETE:
                items.append(self.gone(change.entity_id))
            elif change.resource == "accounts":
                fetch[change.entity_id] = None
            elif change.action is Action.FETCH:  # the owner's ids and statuses are copied
                fetch.update(dict.fromkeys(await self.accounts_of(change.entity_id)))
        deleted = _deleted(changes, "accounts")
        for name in fetch:
            if name not in deleted:
                items.append(await self.fetch_account(name))
        return items

    async def list_all(self) -> AsyncIterator[Item]:
        for entry in await self.all_accounts():
            try:
                name = account_name(entry.get("name") if isinstance(entry, dict) else None)
            except InvalidValueError:
                continue
            item = await self.fetch_account(name)
            if not isinstance(item, Delete):  # gone since it was listed
                yield item
