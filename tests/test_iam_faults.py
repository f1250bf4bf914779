"""Faults at the IAM sources (Greg, Cerebrum, Felles IAM), through the real Kafka broker,
registry and RabbitMQ: lost, duplicated and reordered notifications; a source answering
5xx (and a gateway 404) for a while; malformed notifications and bodies; the source's own
404 as a deletion; Cerebrum's events scheduled for later; Felles IAM's polling cursor.

``HUB_TEST_OUTAGE_S`` sets how long a source answers 503 (default 3 s, as for DFØ).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.cerebrum.connector import CerebrumPersonConnector, read_schedule
from connectors.cerebrum.fake_server import CerebrumSource, cerebrum_source
from connectors.fake_http import Notification
from connectors.felles_iam.connector import FellesIamAccountConnector, read_cursor
from connectors.felles_iam.fake_server import FellesIamSource, felles_iam_source
from connectors.felles_iam.notifications import EVENT_SCHEMA
from connectors.greg.connector import GregPersonConnector
from connectors.greg.fake_server import GregSource, GregStore, greg_source, sample_guest
from connectors.sdk.connector import Connector
from connectors.testing.conformance import (
    KitEnvironment,
    TopicRecord,
    make_runtime,
    read_topic,
    running,
    wait_until,
)
from connectors.testing.faults import Fault
from hub.source_deletion import deletion_of
from tests.fault_support import OUTAGE_S, WITHIN_S

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

Source = GregSource | CerebrumSource | FellesIamSource


async def _records(kit: KitEnvironment, connector: type[Connector[Any]]) -> list[TopicRecord]:
    return await read_topic(kit, connector.topic)


async def _published(kit: KitEnvironment, connector: type[Connector[Any]]) -> list[str]:
    return sorted(r.key or "" for r in await _records(kit, connector) if r.value is not None)


# -- each family: its connector, its fake, and how it speaks ------------------------------


def _greg_touch(source: Any, key: str) -> Notification:
    body = {"id": 9000, "source": source.store.source, "type": "person.update"}
    return Notification(
        "person.update", json.dumps({**body, "data": {"person_id": int(key)}}).encode()
    )


def _cerebrum_touch(source: Any, key: str) -> Notification:
    source.store.emit("persons", "modify", key, attributes=["birthDate"])
    (notification,) = source.store.take_notifications()
    return notification


def _felles_iam_touch(source: Any, key: str) -> Notification:
    link = f"{source.store.base_url}/Users/{key}"
    body = {"schemas": [EVENT_SCHEMA], "type": "MODIFY", "resourceUris": [link]}
    routing_key = f"no.{source.store.institution}.iga.scim.user.modify"
    return Notification(routing_key, json.dumps(body).encode())


def _greg_events_per_guest() -> int:
    store = GregStore()
    store.put_person(sample_guest(1))
    return len(store.take_notifications())


@dataclass(frozen=True)
class Family:
    """A source family as the generic tests drive it."""

    connector: type[Connector[Any]]
    source: Callable[[str, str], contextlib.AbstractAsyncContextManager[Any]]
    object_path: str  # a regular expression for the path of any one object
    touch: Callable[[Any, str], Notification]  # a notification for an object, no change
    unreadable: Notification
    gateway_404: bytes
    events_per_add: int = 1


FAMILIES = {
    "greg": Family(
        GregPersonConnector,
        greg_source,
        r"/v1/persons/\d+$",
        _greg_touch,
        Notification("person.update", b'{"id": 1, "source": "greg:uio:test", "type": "pers'),
        b"<html><body>404 Not Found</body></html>",
        events_per_add=_greg_events_per_guest(),
    ),
    "cerebrum": Family(
        CerebrumPersonConnector,
        lambda url, prefix: cerebrum_source(url, prefix, CerebrumPersonConnector.name),
        r"/v1/persons/\d+$",
        _cerebrum_touch,
        Notification("no.uio.cerebrum.scim.persons.modify", b'{"jti": "x", "eventUris": ['),
        json.dumps({"message": "The requested URL was not found on the server."}).encode(),
    ),
    "felles_iam": Family(
        FellesIamAccountConnector,
        lambda url, prefix: felles_iam_source(url, prefix, FellesIamAccountConnector.name),
        r"/Users/[0-9a-f]+$",
        _felles_iam_touch,
        Notification("no.uib.iga.scim.user.modify", b'{"schemas": ["urn:ietf:params:scim'),
        json.dumps({"message": "No context-path matches the request URI."}).encode(),
    ),
}


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> Family:
    return FAMILIES[request.param]


@pytest.fixture
async def source(family: Family, rabbitmq: str, topic_prefix: str) -> AsyncIterator[Any]:
    async with family.source(rabbitmq, topic_prefix) as started:
        yield started


class TestEveryFamily:
    async def test_lost_duplicated_and_reordered_notifications(
        self, kit: KitEnvironment, family: Family, source: Any
    ) -> None:
        """Every notification sent twice and some out of order publish each record once;
        a record whose notifications were lost is missing until the next full
        reconciliation, which publishes it (and only it)."""
        feed = source.feed.notifications
        feed.duplicate_rate, feed.reorder_rate = 1.0, 0.5
        feed.lose_next(family.events_per_add)
        runtime = make_runtime(family.connector, kit, source.settings)
        async with runtime, running(runtime):
            lost, *heard = await source.add(4)
            await feed.flush()
            await wait_until(
                lambda: runtime.health.emitted >= 3,
                within_s=WITHIN_S,
                what="the three records announced",
                runtime=runtime,
            )
            await asyncio.sleep(0.5)  # room for a duplicate to show
            before = await _published(kit, family.connector)
            result = await runtime.reconcile()
        assert len(feed.lost) == family.events_per_add
        assert len(feed.sent) == 2 * 3 * family.events_per_add
        assert before == sorted(heard), "each announced record once"
        assert (result.emitted, result.unchanged, result.deleted) == (1, 3, 0)
        assert await _published(kit, family.connector) == sorted([lost, *heard])

    async def test_malformed_data_and_the_two_kinds_of_404(
        self, kit: KitEnvironment, family: Family, source: Any
    ) -> None:
        """A notification that cannot be read and a body cut short in transit go to the
        dead-letter topic with the reason and are counted, while the next record flows;
        a gateway's 404 is retried and never a deletion; the source's own 404 is a
        tombstone naming the institution and the record."""
        plan = source.feed.faults
        plan.add(Fault("malformed", path=family.object_path, times=1))
        runtime = make_runtime(family.connector, kit, source.settings)
        async with runtime, running(runtime):
            await source.feed.notifications.publish(family.unreadable)
            cut, whole = await source.add(2)
            await wait_until(
                lambda: runtime.health.dead_lettered >= 2 and runtime.health.emitted >= 1,
                within_s=WITHIN_S,
                what="two dead letters and one record",
                runtime=runtime,
            )
            gateway = plan.add(
                Fault(
                    "status", path=family.object_path, status=404, body=family.gateway_404, times=2
                )
            )
            (late,) = await source.add(1)
            await wait_until(
                lambda: runtime.health.emitted >= 2, within_s=WITHIN_S, what="after the 404s"
            )
            await source.remove_silently(whole)
            await source.feed.notifications.publish(family.touch(source, whole))
            await wait_until(
                lambda: runtime.health.deleted >= 1, within_s=WITHIN_S, what="the deletion"
            )
        assert runtime.health.dead_lettered == 2
        assert gateway.hits == 2
        assert runtime.health.retries >= 2
        letters = [
            r
            for r in await read_topic(kit, "hub.deadletter")
            if r.headers.get("hub.connector") == family.connector.name
        ]
        origins = sorted(r.headers["hub.source.topic"] for r in letters)
        assert origins[0].startswith("amqp:"), origins
        assert cut in origins[1], origins
        assert all(r.headers["hub.error"] for r in letters)
        records = await _records(kit, family.connector)
        kinds: dict[str | None, list[bool]] = {}
        for record in records:
            kinds.setdefault(record.key, []).append(record.value is None)
        assert kinds == {whole: [False, True], late: [False]}, "a tombstone after the record"
        deletion = deletion_of(next(r for r in records if r.value is None).headers)
        assert deletion is not None
        assert (deletion.institution, deletion.source_id) == (runtime.settings.institution, whole)


# -- outages: a source answering 5xx for a while -----------------------------------------


async def _hold_during(outage_s: float, check: Callable[[], None]) -> None:
    """Run ``check`` every 0.1 s until the outage is nearly over."""
    ends = time.monotonic() + outage_s
    while time.monotonic() < ends - 0.2:
        check()
        await asyncio.sleep(0.1)


@pytest.fixture
async def greg(rabbitmq: str, topic_prefix: str) -> AsyncIterator[GregSource]:
    async with greg_source(rabbitmq, topic_prefix) as started:
        yield started


@pytest.fixture
async def cerebrum(rabbitmq: str, topic_prefix: str) -> AsyncIterator[CerebrumSource]:
    async with cerebrum_source(rabbitmq, topic_prefix, CerebrumPersonConnector.name) as started:
        yield started


@pytest.fixture
async def felles_iam(rabbitmq: str, topic_prefix: str) -> AsyncIterator[FellesIamSource]:
    name = FellesIamAccountConnector.name
    async with felles_iam_source(rabbitmq, topic_prefix, name) as started:
        yield started


class TestOutage:
    async def test_greg_outage_loses_no_event(self, kit: KitEnvironment, greg: GregSource) -> None:
        """Events that arrive while Greg answers 503 stay unacknowledged in the queue and
        are delivered, each guest once, when Greg answers again."""
        runtime = make_runtime(GregPersonConnector, kit, greg.settings)
        async with runtime, running(runtime):
            greg.feed.faults.outage(OUTAGE_S)
            keys = await greg.add(3)

            def held() -> None:
                assert runtime.health.emitted == 0

            await _hold_during(OUTAGE_S, held)
            assert runtime.health.retries >= 1
            await wait_until(
                lambda: runtime.health.emitted >= 3,
                within_s=WITHIN_S,
                what="the guests after the outage",
                runtime=runtime,
            )
        assert await _published(kit, GregPersonConnector) == sorted(keys)
        assert runtime.health.deleted == 0

    async def test_cerebrum_schedule_survives_an_outage_and_a_restart(
        self, kit: KitEnvironment, cerebrum: CerebrumSource
    ) -> None:
        """An event not due yet (``nbf``) is kept in the checkpoint; while Cerebrum answers
        503 the checkpoint holds and nothing is lost; a new runtime takes the schedule from
        the checkpoint and fetches the person when the event is due."""
        store = cerebrum.store
        first = make_runtime(CerebrumPersonConnector, kit, cerebrum.settings)
        async with first, running(first):
            (person,) = await cerebrum.add(1)
            await wait_until(lambda: first.health.emitted >= 1, within_s=WITHIN_S, what="one")
            due = (datetime.now(UTC) + timedelta(seconds=OUTAGE_S + 2)).replace(microsecond=0)
            store.persons[person]["names"][1]["name"] = "Nordmann-Senere"  # from nbf on
            store.emit("persons", "modify", person, attributes=["name"], not_before=due)
            await cerebrum.feed.announce()
            await wait_until(
                lambda: bool(read_schedule(first.state.cursor)), within_s=WITHIN_S, what="kept"
            )
            held = first.state.cursor
            cerebrum.feed.faults.outage(OUTAGE_S)
            others = await cerebrum.add(2)

            def still() -> None:
                assert first.state.cursor == held, "the checkpoint moved during the outage"
                assert first.health.emitted == 1

            await _hold_during(OUTAGE_S, still)
            await wait_until(
                lambda: first.health.emitted >= 3,
                within_s=WITHIN_S,
                what="the persons after the outage",
                runtime=first,
            )
        assert datetime.now(UTC) < due, "the runtime stopped before the event was due"
        assert first.health.retries >= 1
        second = make_runtime(CerebrumPersonConnector, kit, cerebrum.settings)
        async with second, running(second):
            assert [r.change.entity_id for r in read_schedule(second.state.cursor)] == [person]
            await wait_until(
                lambda: second.health.emitted >= 1,
                within_s=WITHIN_S,
                what="the scheduled fetch",
                runtime=second,
            )
            assert datetime.now(UTC) >= due
            await wait_until(
                lambda: read_schedule(second.state.cursor) == [], within_s=WITHIN_S, what="done"
            )
        assert await _published(kit, CerebrumPersonConnector) == sorted([person, person, *others])
        *_, latest = [r for r in await _records(kit, CerebrumPersonConnector) if r.key == person]
        decoded = await kit.codec.decode_any(latest.value)
        assert decoded["last_name"] == "Nordmann-Senere"

    async def test_felles_iam_polling_outage_holds_the_cursor(
        self, kit: KitEnvironment, felles_iam: FellesIamSource
    ) -> None:
        """Without a queue the connector polls ``lastModified``: while Felles IAM answers
        503 the cursor stays where it was; afterwards every User changed meanwhile is
        published once and the cursor moves on."""
        settings = {**felles_iam.settings, "amqp_url": None}
        runtime = make_runtime(FellesIamAccountConnector, kit, settings)
        async with runtime, running(runtime):
            first = await felles_iam.add(2)
            await wait_until(
                lambda: runtime.health.emitted >= 2 and runtime.state.cursor is not None,
                within_s=WITHIN_S,
                what="the first poll checkpointed",
            )
            held = runtime.state.cursor
            felles_iam.feed.faults.outage(OUTAGE_S)
            await asyncio.sleep(1.1)  # the next Users are modified in a later second
            second = await felles_iam.add(2)

            def still() -> None:
                assert runtime.state.cursor == held, "the cursor moved during the outage"
                assert runtime.health.emitted == 2

            await _hold_during(OUTAGE_S - 1.1, still)
            await wait_until(
                lambda: runtime.health.emitted >= 4,
                within_s=WITHIN_S,
                what="the Users after the outage",
                runtime=runtime,
            )
            await wait_until(
                lambda: runtime.state.cursor != held, within_s=WITHIN_S, what="the cursor moved"
            )
        assert runtime.health.retries >= 1
        moved, before = read_cursor(runtime.state.cursor), read_cursor(held)
        assert moved is not None
        assert before is not None
        assert moved > before
        assert await _published(kit, FellesIamAccountConnector) == sorted(first + second)
