"""The Felles IAM connectors: UiB's and UiT's SCIM Users as IAM accounts and persons.

Every SCIM User is an account (``felles-iam-account``, ``source.iam.account``, keyed by
the User id); a primary account with a UH-ID also describes its person
(``felles-iam-person``, ``source.iam.person``, keyed by the UH-ID). Both read the same
source in the same way and differ only in which record of :func:`map_user` they keep.

- **Incremental**: Felles IAM's SCIM notifications on the institution's queue
  (``no.{inst}.iga.scim.user.{add|modify|delete|activate|deactivate}``), read in
  batches; each User named is fetched once (``GET /Users/{id}``), and after ``delete``
  the connector publishes a tombstone. A primary User's id is its person's UH-ID (as
  Sikt describes the User), so a deleted User's tombstone on ``source.iam.person`` is
  its person's; for another account the key names no person.
- **Polling**, when the institution has no queue (``HUB_FELLES_IAM_AMQP_URL`` unset):
  ``GET /Users?filter=meta.lastModified ge "<cursor>"``; the cursor, checkpointed by
  the runtime, is the newest ``lastModified`` delivered. Deleted Users are not listed:
  their deletions come with the next full reconciliation.
- **Full reconciliation**: every User, in ``ListResponse`` pages.

Felles IAM's own 404 is a SCIM error body (``urn:ietf:params:scim:api:messages:2.0:Error``,
``status`` 404): the User is gone. Any other 404 is the IntArk gateway's, retried.
"""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import structlog
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.api_source import ApiSourceConnector, ApiSourceSettings, classifier, same_size
from connectors.felles_iam.mapping import UserRecords, map_user, user_id
from connectors.felles_iam.notifications import (
    MAX_COUNT,
    ListPage,
    UserNotification,
    advance,
    parse_notification,
    poll_query,
    read_list,
)
from connectors.sdk import http
from connectors.sdk.amqp import Notification
from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.items import Checkpoint, Failed, Item, Record, Upsert, parse_json
from connectors.source_json import InvalidValueError
from hub.errors import HubError, MappingError

__all__ = [
    "ERROR_SCHEMA",
    "FellesIamAccountConnector",
    "FellesIamConnector",
    "FellesIamPersonConnector",
    "FellesIamSettings",
    "read_cursor",
    "write_cursor",
]

log = structlog.get_logger("connectors.felles_iam")
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
USERS = "Users"


class FellesIamSettings(ApiSourceSettings):
    """How to reach an institution's Felles IAM SCIM API and its notification queue."""

    model_config = SettingsConfigDict(env_prefix="HUB_FELLES_IAM_")

    base_url: str = Field(
        pattern=r"^https?://",
        description="The SCIM API's base URL, before Users (https://gw-uib.intark.uh-it.no/scim/v2/).",
    )
    page_size: int = Field(default=100, ge=1, le=MAX_COUNT, description="Users per list page.")
    poll_interval_s: float = Field(
        default=300.0, gt=0, description="Pause between polls when there is no queue."
    )


def _not_found(response: http.Response) -> str | None:
    """Felles IAM's own 404: a SCIM error body with status 404."""
    try:
        payload = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(payload, dict) or ERROR_SCHEMA not in (payload.get("schemas") or []):
        return None
    return (
        str(payload.get("detail") or "not found") if str(payload.get("status")) == "404" else None
    )


def read_cursor(cursor: str | None) -> datetime | None:
    """The polling cursor (the newest ``lastModified`` delivered, ISO 8601 with a zone),
    or None for none or one that cannot be read (then the next poll lists every User)."""
    if not cursor:
        return None
    try:
        moment = datetime.fromisoformat(cursor)
    except ValueError:
        log.warning("cursor_unreadable", reason="not an ISO 8601 time; polling from the start")
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        log.warning("cursor_unreadable", reason="no time zone; polling from the start")
        return None
    return moment.astimezone(UTC)


def write_cursor(moment: datetime | None) -> str | None:
    """The cursor for ``moment`` (UTC, whole seconds, as the filter is written)."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _listed_key(entry: object, field: str) -> str | None:
    try:
        return user_id(entry.get(field)) if isinstance(entry, dict) else None
    except InvalidValueError:
        return None


class FellesIamConnector(ApiSourceConnector[FellesIamSettings]):
    """What the account and person connectors share: the feed, the fetch and the lists."""

    settings_model = FellesIamSettings
    key_field: str  # the User's field that is the record's key when it cannot be mapped

    @property
    def binding(self) -> str:
        return self.settings.amqp_routing_key or (f"no.{self.settings.institution}.iga.scim.user.*")

    answers = classifier("Felles IAM", "HUB_FELLES_IAM_", _not_found)

    @abc.abstractmethod
    def select(self, records: UserRecords) -> Record | None:
        """The record this connector publishes for a User, if any."""

    def user_item(self, raw: bytes, *, origin: str, key: str | None) -> Item | None:
        """One User's body as an item: its record, a dead letter (under ``key``, so that a
        reconciliation does not take it for deleted), or None (no record)."""
        try:
            payload = parse_json(raw, origin)
            records = map_user(
                payload,
                institution=self.settings.institution,
                secret=self.settings.pseudonym_secret.get_secret_value(),
                fetched_at=self.now(),
            )
        except HubError as exc:
            return Failed(raw=raw, error=exc, origin=origin, key=key)
        record = self.select(records)
        return None if record is None else Upsert(record=record, raw=raw, origin=origin)

    # -- notifications ----------------------------------------------------------------

    async def on_batch(self, batch: Sequence[Notification]) -> Sequence[Item]:
        items: list[Item] = []
        institution = self.settings.institution

        def parse(message: Notification) -> UserNotification:
            return parse_notification(message.routing_key, message.body, institution=institution)

        deleted: dict[str, bool] = {}
        for note in self.readable(batch, parse, items):
            for user in note.user_ids:
                deleted[user] = deleted.get(user, False) or note.deleted
        for user, gone in deleted.items():
            found = self.gone(user) if gone else await self.fetch_user(user)
            if found is not None:
                items.append(found)
        return items

    async def fetch_user(self, user: str) -> Item | None:
        """``GET Users/{id}``: the User's record, a tombstone, a dead letter or nothing."""
        path = f"{USERS}/{user}"
        origin = f"felles_iam:/{path}"
        answer = await self.get(path)
        if isinstance(answer, http.NotFound):
            return self.gone(user)
        if isinstance(answer, http.Refused):
            return self.refused(answer, path, key=user, origin=origin)
        return self.user_item(answer.body, origin=origin, key=user)

    # -- lists: polling and full reconciliation ---------------------------------------

    async def pages(self, since: datetime | None) -> AsyncIterator[ListPage]:
        """Every page of ``GET /Users`` (modified at or after ``since``), refusing a list
        whose size changes while it is read (a User skipped would look deleted)."""
        start: int | None = 1
        total: int | None = None
        while start is not None:
            query = poll_query(since, start_index=start, count=self.settings.page_size)
            page = await self.listing(USERS, query, read_list)
            total = same_size(total, page.total_results, f"Felles IAM's {USERS} list")
            yield page
            start = page.next_start_index

    async def listed(self, since: datetime | None) -> AsyncIterator[tuple[Item | None, object]]:
        """Each listed User as an item (or None), with the User."""
        async for page in self.pages(since):
            for entry in page.resources:
                raw = json.dumps(entry, ensure_ascii=False).encode()
                key = _listed_key(entry, self.key_field)
                yield self.user_item(raw, origin=f"felles_iam:/{USERS}", key=key), entry

    async def list_all(self) -> AsyncIterator[Item]:
        async for item, _ in self.listed(None):
            if item is not None:
                yield item

    async def poll(self, cursor: str | None) -> AsyncIterator[Item]:
        """The Users modified at or after the cursor; the new cursor comes last."""
        since = read_cursor(cursor)
        users: list[object] = []
        async for item, entry in self.listed(since):
            users.append(entry)
            if item is not None:
                yield item
        try:
            newest = advance(since, [u for u in users if isinstance(u, dict)])
        except MappingError as exc:
            raise SourceUnavailableError(f"Felles IAM's {USERS} list: {exc}") from exc
        yield Checkpoint(cursor=write_cursor(newest))


class FellesIamAccountConnector(FellesIamConnector):
    """Felles IAM Users as accounts on ``source.iam.account``, keyed by User id."""

    name = "felles-iam-account"
    schema = "no.bott.hub.iam.Account"
    topic = "source.iam.account"
    key_field = "id"

    def select(self, records: UserRecords) -> Record | None:
        return records.account


class FellesIamPersonConnector(FellesIamConnector):
    """Felles IAM persons (from primary Users) on ``source.iam.person``, keyed by UH-ID."""

    name = "felles-iam-person"
    schema = "no.bott.hub.iam.Person"
    topic = "source.iam.person"
    key_field = "externalId"

    def select(self, records: UserRecords) -> Record | None:
        return records.person
