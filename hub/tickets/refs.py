"""The hub's memory of its tickets: for each task, the ticket it became and the task
revision and state last delivered to it, on the compacted ``hub.ticket-refs`` topic
(``no.bott.hub.tickets.TicketRef``, keyed by task id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.compacted import latest_by_key
from hub.endpoints import kafka_bootstrap, make_pipeline, registry_url
from hub.settings import HubSettings
from hub.tickets.plan import Route, Synced
from hub.tickets.system import RemoteTicket

__all__ = ["REFS_TOPIC", "REF_SCHEMA", "latest_refs", "ref_record", "synced_of"]

REFS_TOPIC = "hub.ticket-refs"
REF_SCHEMA = "no.bott.hub.tickets.TicketRef"
Record = dict[str, Any]


def ref_record(task: Record, route: Route, remote: RemoteTicket, now: datetime) -> Record:
    """The TicketRef saying ``remote`` carries ``task`` as it is now."""
    return {
        "task_id": task["task_id"],
        "institution": task["institution"],
        "system": route.system,
        "ticket_id": remote.ticket_id,
        "ticket_number": remote.number,
        "queue": route.queue,
        "synced_revision": task["revision"],
        "synced_state": task["state"],
        "synced_at": now,
    }


def synced_of(ref: Record | None) -> Synced | None:
    """What a TicketRef says was delivered."""
    return None if ref is None else Synced(ref["synced_revision"], ref["synced_state"])


async def latest_refs(settings: HubSettings) -> dict[str, Record]:
    """Every task's TicketRef, read from hub.ticket-refs to its end."""
    pipeline = make_pipeline(settings, registry_url(settings, start=False))
    try:
        return await latest_by_key(
            kafka_bootstrap(settings, start=False),
            pipeline.topics.name(REFS_TOPIC),
            pipeline.codec,
        )
    finally:
        await pipeline.codec.close()
