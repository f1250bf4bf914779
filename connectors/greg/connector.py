"""The Greg connector: UiO's guests (``GET /v1/persons``) on ``source.greg.person``.

Greg announces every change of a guest, or of a role, identity or consent of one, with
a thin AMQP event (``{"id", "source", "type", "data": {"person_id", …}}``). The
connector reads the events in batches and fetches each guest a batch names once
(``GET /v1/persons/{id}``); after ``person.delete`` it publishes a tombstone instead.
Events without a guest (org units) change nothing here. A full reconciliation pages
through ``GET /v1/persons`` (every guest, active or not).

Greg's own answers carry ``X-Greg-Response-For``: a 404 with it (``{"detail": "Not
found."}``) means the guest is gone (a tombstone); a 404 without it is the API gateway
or a proxy not knowing the path, retried, never a deletion.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.api_source import ApiSourceConnector, ApiSourceSettings, classifier, same_size
from connectors.greg.mapping import map_person, normalise_greg_id
from connectors.greg.notifications import list_query, parse_event, read_page
from connectors.sdk import http
from connectors.sdk.amqp import Notification
from connectors.sdk.items import Item, Record, mapped
from hub.errors import MappingError

__all__ = ["RESPONSE_FOR_HEADER", "GregPersonConnector", "GregSettings"]

RESPONSE_FOR_HEADER = "X-Greg-Response-For"
PERSONS = "v1/persons"


class GregSettings(ApiSourceSettings):
    """How to reach Greg's API (through UiO's gateway) and its event queue."""

    model_config = SettingsConfigDict(env_prefix="HUB_GREG_")

    base_url: str = Field(
        pattern=r"^https?://", description="Greg's base URL, before v1/persons (the gateway's)."
    )
    event_source: str | None = Field(
        default=None,
        description="The only event source accepted (greg:uio:prod); unset accepts any.",
    )


def _not_found(response: http.Response) -> str | None:
    """Greg's own 404 (it carries X-Greg-Response-For), or None for anyone else's."""
    return response.text(80) if RESPONSE_FOR_HEADER in response.headers else None


def _listed_id(entry: object) -> str | None:
    try:
        return normalise_greg_id(entry.get("id") if isinstance(entry, dict) else None)
    except MappingError:
        return None


class GregPersonConnector(ApiSourceConnector[GregSettings]):
    """Greg guests on ``source.greg.person``, keyed by Greg person id."""

    name = "greg-person"
    schema = "no.bott.hub.greg.Person"
    topic = "source.greg.person"
    settings_model = GregSettings

    answers = classifier("Greg", "HUB_GREG_", _not_found)

    def map_payload(self, payload: object) -> Record:
        return map_person(
            payload,
            institution=self.settings.institution,
            secret=self.settings.pseudonym_secret.get_secret_value(),
            fetched_at=self.now(),
        )

    async def on_batch(self, batch: Sequence[Notification]) -> Sequence[Item]:
        """Each guest the batch names, fetched once (or a tombstone after person.delete);
        an unreadable event is a dead letter."""
        items: list[Item] = []
        source = self.settings.event_source
        deleted: dict[str, bool] = {}
        for event in self.readable(batch, lambda n: parse_event(n.body, source=source), items):
            if event.person_id is not None:
                deleted[event.person_id] = deleted.get(event.person_id, False) or (
                    event.deletes_person
                )
        for person_id, gone in deleted.items():
            if gone:
                items.append(self.gone(person_id))
            else:
                path = f"{PERSONS}/{person_id}"
                origin = f"greg:/{path}"
                items.append(await self.fetch(path, self.map_payload, key=person_id, origin=origin))
        return items

    async def list_all(self) -> AsyncIterator[Item]:
        """Every guest, page by page (only the query of ``next`` is followed); a list whose
        count changes while it is read is read again (a guest skipped would look deleted)."""
        query: dict[str, str] | None = list_query()
        total: int | None = None
        while query is not None:
            page = await self.listing(PERSONS, query, read_page)
            total = same_size(total, page.count or 0, f"Greg's {PERSONS} list")
            for entry in page.results:
                raw = json.dumps(entry, ensure_ascii=False).encode()
                yield mapped(
                    raw, self.map_payload, origin=f"greg:/{PERSONS}", key=_listed_id(entry)
                )
            query = dict(page.next_query) if page.next_query is not None else None
