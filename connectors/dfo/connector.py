"""The DFØ SAP HR connectors: employees, positions and org units.

Each follows DFØ's thin AMQP notifications (``{"id", "uri", "gyldigEtter"}``) and
re-fetches the object they name from the REST API; a full reconciliation lists
``ansatte/v2``, ``stillinger/v2`` or ``orgenhet/v2`` and compares with the snapshot.

- ``dfo-employee`` (``source.dfo.employee``): ``dfo:ansatte`` fetches
  ``ansatte/v2/{id}``; ``dfo:stillinger`` fetches the position and re-fetches every
  holder (``innehaver``), since a position change changes its holders' employment.
- ``dfo-position`` (``source.dfo.position``): ``dfo:stillinger`` fetches
  ``stillinger/v2/{id}``.
- ``dfo-orgunit`` (``source.dfo.orgunit``): ``dfo:orgenhet`` (inferred: DFØ documents
  only the two above; without it the daily reconciliation keeps org units current)
  fetches ``orgenhet/v2/{id}``.

A change valid from a future day (``gyldigEtter``) is fetched with the ``dato`` header
for that day. DFØ's "not employed" / "vacant position" 404 becomes a deletion
(tombstone); a gateway 404 is a fault, retried, never a deletion. A body that cannot be
mapped goes to the dead-letter topic with the reason; the notification is acknowledged.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import ClassVar

from connectors.dfo.client import DfoClient, Found, NotFound, Refused
from connectors.dfo.mapping import map_employee, map_position
from connectors.dfo.notifications import (
    EMPLOYEES,
    ORG_UNITS,
    POSITIONS,
    DfoNotification,
    fetch_date,
    parse_notification,
)
from connectors.dfo.orgunit import map_org_unit
from connectors.dfo.settings import DfoSettings
from connectors.sdk.amqp import notifications
from connectors.sdk.connector import Connector
from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.items import (
    Checkpoint,
    Delete,
    Failed,
    Item,
    Record,
    Upsert,
    mapped,
    parse_json,
)
from hub.errors import HubError, MappingError

__all__ = [
    "DfoConnector",
    "DfoEmployeeConnector",
    "DfoOrgUnitConnector",
    "DfoPositionConnector",
]

Mapper = Callable[[object], Record]


@dataclass(frozen=True)
class _Api:
    """One DFØ REST resource: its path and the key its body wraps records in."""

    path: str
    key: str


EMPLOYEE_API = _Api("ansatte/v2", "ansatt")
POSITION_API = _Api("stillinger/v2", "stilling")
ORG_UNIT_API = _Api("orgenhet/v2", "organisasjon")


def _listed_id(entry: object) -> str | None:
    """The normalised id of a listed object, when it has a readable one."""
    if not isinstance(entry, dict):
        return None
    value = entry.get("id")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip().lstrip("0") or "0"
    return None


class DfoConnector(Connector[DfoSettings]):
    """What the DFØ HR connectors share: the client, the feed and the listing."""

    settings_model = DfoSettings
    api: ClassVar[_Api]
    notified_by: ClassVar[frozenset[str]]
    key_field: ClassVar[str]
    # (payload, *, institution, fetched_at) -> record; the employee connector adds a secret
    map_record: ClassVar[Callable[..., Record]]

    def __init__(self, settings: DfoSettings, *, today: Callable[[], date] = date.today) -> None:
        super().__init__(settings)
        self.client = DfoClient(settings)
        self.today = today

    @property
    def queue(self) -> str:
        return self.settings.amqp_queue or f"hub.{self.name}.{self.settings.institution}"

    async def setup(self) -> None:
        await self.client.open()

    async def teardown(self) -> None:
        await self.client.close()

    # -- mapping (pure) -------------------------------------------------------------

    def key(self, record: Record) -> str:
        return str(record.get(self.key_field) or "")

    def map_payload(self, payload: object) -> Record:
        """Map a parsed body of this connector's API to its record."""
        return self.mapper(self.map_record)(payload)

    def mapper(self, map_record: Callable[..., Record]) -> Mapper:
        """``map_record`` with this connector's institution and the time of the call."""
        return lambda payload: map_record(
            payload, institution=self.settings.institution, fetched_at=self.now()
        )

    def map_body(self, body: bytes, *, origin: str = "", key: str | None = None) -> Upsert | Failed:
        """A fetched body as an item: the mapped record, or a dead letter with the reason."""
        return mapped(body, self.map_payload, origin=origin or f"dfo:{self.api.path}", key=key)

    # -- incremental: the notification feed -----------------------------------------

    async def changes(self, cursor: str | None) -> AsyncIterator[Item]:
        """Follow the AMQP feed; each notification's items end with its acknowledgement."""
        if self.settings.amqp_url is None:
            return
        feed = notifications(
            self.settings.amqp_url.get_secret_value(),
            queue=self.queue,
            exchange=self.settings.amqp_exchange,
            routing_key=self.settings.amqp_routing_key or "#",
            prefetch=self.settings.amqp_prefetch,
        )
        # aclosing: a fault while handling a message closes the feed at once, so its
        # unacknowledged messages go back to the queue for the next consumer.
        async with contextlib.aclosing(feed):
            async for message in feed:
                items = await self.on_message(message.body)
                for item in items[:-1]:
                    yield item
                yield replace(items[-1], acknowledge=message.ack)

    async def on_message(self, body: bytes) -> Sequence[Item]:
        """The items one notification causes (at least one: it ends the unit of work)."""
        try:
            notification = parse_notification(body)
        except MappingError as exc:
            return [Failed(raw=body, error=exc, origin=f"amqp:{self.queue}")]
        if notification.uri not in self.notified_by:
            return [Checkpoint()]
        items = await self.on_notification(notification)
        return list(items) or [Checkpoint()]

    async def on_notification(self, notification: DfoNotification) -> Sequence[Item]:
        """Fetch what the notification names."""
        on = fetch_date(notification.valid_from, self.today())
        return [await self.fetch(self.api, notification.object_id, on, self.map_payload)]

    async def fetch(self, api: _Api, object_id: str, on: date | None, mapper: Mapper) -> Item:
        """``GET {api}/{id}`` as an item: a record, a deletion or a dead letter."""
        origin = f"dfo:{api.path}/{object_id}"
        answer = await self.client.get(f"{api.path}/{object_id}", on=on)
        if isinstance(answer, NotFound):
            return Delete(key=object_id, institution=self.settings.institution, source_id=object_id)
        if isinstance(answer, Refused):
            error = MappingError(f"DFØ refused GET {api.path}/{object_id}: {answer.status}")
            return Failed(raw=answer.detail.encode(), error=error, origin=origin, key=object_id)
        return mapped(answer.body, mapper, origin=origin, key=object_id, valid_on=on)

    # -- full reconciliation ------------------------------------------------------------

    async def list_all(self) -> AsyncIterator[Item]:
        """Every object ``GET {api}`` lists, each mapped on its own."""
        answer = await self.client.get(self.api.path)
        if not isinstance(answer, Found):
            raise SourceUnavailableError(f"DFØ cannot list {self.api.path}: {answer}")
        try:
            payload = parse_json(answer.body, f"DFØ {self.api.path} listing")
        except HubError as exc:
            raise SourceUnavailableError(str(exc)) from exc
        entries = payload.get(self.api.key) if isinstance(payload, dict) else None
        if isinstance(entries, dict):
            entries = [entries]
        if not isinstance(entries, list):
            raise SourceUnavailableError(
                f"DFØ {self.api.path} listing has no '{self.api.key}' list"
            )
        for entry in entries:
            raw = json.dumps({self.api.key: [entry]}, ensure_ascii=False).encode()
            yield self.map_body(raw, origin=f"dfo:{self.api.path}", key=_listed_id(entry))


class DfoEmployeeConnector(DfoConnector):
    """DFØ employees (``ansatte/v2``) on ``source.dfo.employee``, keyed by employee number."""

    name = "dfo-employee"
    schema = "no.bott.hub.dfo.Employee"
    topic = "source.dfo.employee"
    api = EMPLOYEE_API
    notified_by = frozenset({EMPLOYEES, POSITIONS})
    key_field = "employee_id"

    def map_payload(self, payload: object) -> Record:
        return map_employee(
            payload,
            institution=self.settings.institution,
            secret=self.settings.pseudonym_secret.get_secret_value(),
            fetched_at=self.now(),
        )

    async def on_notification(self, notification: DfoNotification) -> Sequence[Item]:
        if notification.uri == EMPLOYEES:
            return await super().on_notification(notification)
        # A position changed: each of its holders' employment may have changed with it.
        on = fetch_date(notification.valid_from, self.today())
        by_position = self.mapper(map_position)
        position = await self.fetch(POSITION_API, notification.object_id, on, by_position)
        if not isinstance(position, Upsert):
            return [position] if isinstance(position, Failed) else []
        holders = sorted({str(h["employee_id"]) for h in position.record.get("holders", [])})
        return [await self.fetch(EMPLOYEE_API, holder, on, self.map_payload) for holder in holders]


class DfoPositionConnector(DfoConnector):
    """DFØ positions (``stillinger/v2``) on ``source.dfo.position``, keyed by position id."""

    name = "dfo-position"
    schema = "no.bott.hub.dfo.Position"
    topic = "source.dfo.position"
    api = POSITION_API
    notified_by = frozenset({POSITIONS})
    key_field = "position_id"
    map_record = staticmethod(map_position)


class DfoOrgUnitConnector(DfoConnector):
    """DFØ org units (``orgenhet/v2``) on ``source.dfo.orgunit``, keyed by org unit id."""

    name = "dfo-orgunit"
    schema = "no.bott.hub.dfo.OrgUnit"
    topic = "source.dfo.orgunit"
    api = ORG_UNIT_API
    notified_by = frozenset({ORG_UNITS})
    key_field = "org_unit_id"
    map_record = staticmethod(map_org_unit)
