"""Faults at the polled sources (Unit4, the web profile export, OrgReg), through the real
Kafka broker and registry: missed changes recovered by a full reconciliation, an outage
that loses nothing and holds the checkpoint, malformed data, repeated and out-of-order
changes, and the source's own 404 apart from a gateway's.

``HUB_TEST_OUTAGE_S`` sets how long a source answers 503 (default 3 s, as for DFØ).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.orgreg.connector import OrgRegConnector
from connectors.orgreg.fake_server import OrgRegSource, orgreg_source
from connectors.sdk.errors import SourceUnavailableError
from connectors.testing.conformance import (
    KitEnvironment,
    make_runtime,
    read_topic,
    running,
    wait_until,
)
from connectors.testing.faults import Fault
from connectors.unit4.connector import Unit4ResourceConnector
from connectors.unit4.fake_server import Unit4Source, unit4_source
from connectors.unit4.polling import RESOURCES
from connectors.web.connector import WebProfileConnector
from connectors.web.fake_server import WebSource, web_source
from hub.source_deletion import deletion_of
from tests.fault_support import GATEWAY_404, OUTAGE_S, WITHIN_S

pytestmark = [pytest.mark.kafka, pytest.mark.registry]


async def _keys(kit: KitEnvironment, topic: str) -> Counter[tuple[str | None, bool]]:
    """How often each (key, is a tombstone) is on the topic."""
    return Counter((r.key, r.value is None) for r in await read_topic(kit, topic))


@pytest.fixture(params=["unit4", "web", "orgreg"])
async def polled(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[type[Any], Unit4Source | WebSource | OrgRegSource]]:
    """Each polled source family: its connector and a running fake."""
    sources: dict[str, tuple[type[Any], Callable[[], Any]]] = {
        "unit4": (Unit4ResourceConnector, lambda: unit4_source(RESOURCES)),
        "web": (WebProfileConnector, web_source),
        "orgreg": (OrgRegConnector, orgreg_source),
    }
    connector_class, open_source = sources[request.param]
    async with open_source() as source:
        yield connector_class, source


async def test_outage_loses_nothing_and_holds_the_checkpoint(
    kit: KitEnvironment, polled: tuple[type[Any], Unit4Source | WebSource | OrgRegSource]
) -> None:
    """Two changes are delivered; then the source answers 503 for OUTAGE_S while three
    more arrive: the poll retries, the checkpoint and the count stay put; afterwards the
    three are delivered, the checkpoint moves, and each record is on the topic once."""
    connector_class, source = polled
    runtime = make_runtime(connector_class, kit, source.settings)
    async with runtime, running(runtime):
        await source.add(2)
        await wait_until(
            lambda: runtime.health.emitted >= 2 and runtime.state.cursor is not None,
            within_s=WITHIN_S,
            what="the first two delivered and checkpointed",
            runtime=runtime,
        )
        await asyncio.sleep(0.5)  # the second's checkpoint is committed after it is sent
        held = runtime.state.cursor
        source.faults.outage(OUTAGE_S)
        await source.add(3)
        ends = time.monotonic() + OUTAGE_S
        while time.monotonic() < ends - 0.2:
            assert runtime.state.cursor == held, "the checkpoint moved during the outage"
            assert runtime.health.emitted == 2
            await asyncio.sleep(0.1)
        await wait_until(
            lambda: runtime.health.emitted >= 5 and runtime.state.cursor != held,
            within_s=WITHIN_S,
            what="the three after the outage, checkpointed",
            runtime=runtime,
        )
    assert runtime.health.retries >= 2
    published = await _keys(kit, connector_class.topic)
    assert len(published) == 5
    assert set(published.values()) == {1}


class TestUnit4:
    @pytest.fixture
    async def resources(self) -> AsyncIterator[Unit4Source]:
        async with unit4_source(RESOURCES, overlap_s=60) as source:
            yield source

    async def test_late_change_within_the_overlap_is_read_and_an_older_one_reconciled(
        self, kit: KitEnvironment, resources: Unit4Source
    ) -> None:
        """A change committed late, stamped before documents already read, is read by the
        next poll when within the overlap; one stamped earlier still is missed by the
        polls and published by the next full reconciliation. The overlap re-read on every
        poll publishes nothing twice."""
        runtime = make_runtime(Unit4ResourceConnector, kit, resources.settings)
        store = resources.store
        async with runtime, running(runtime):
            first = await resources.add(2)
            await wait_until(lambda: runtime.health.emitted >= 2, within_s=WITHIN_S, what="two")
            now = datetime.now(UTC)
            store.clock = lambda: now - timedelta(seconds=30)
            late = resources.put(resources.sample())
            store.clock = lambda: now - timedelta(minutes=10)
            missed = resources.put(resources.sample())
            store.clock = lambda: datetime.now(UTC)
            after = await resources.add(1)
            await wait_until(
                lambda: runtime.health.emitted >= 4,
                within_s=WITHIN_S,
                what="the late change and the next one",
                runtime=runtime,
            )
            await asyncio.sleep(1.0)  # several polls over the overlap
            assert runtime.health.unchanged == 0, "the overlap delivered a document again"
            polled = await _keys(kit, Unit4ResourceConnector.topic)
            result = await runtime.reconcile()
        assert set(polled) == {(k, False) for k in [*first, late, *after]}
        assert (result.emitted, result.unchanged, result.deleted) == (1, 4, 0)
        published = await _keys(kit, Unit4ResourceConnector.topic)
        assert published == Counter({(k, False): 1 for k in [*first, late, missed, *after]})

    async def test_malformed_document_is_dead_lettered_and_a_cut_page_retried(
        self, kit: KitEnvironment, resources: Unit4Source
    ) -> None:
        """A document that cannot be mapped is dead-lettered once and counted; a page cut
        short in transit is retried, not dead-lettered; the others are published."""
        resources.faults.add(Fault("malformed", path="resources", times=1))
        runtime = make_runtime(Unit4ResourceConnector, kit, resources.settings)
        async with runtime, running(runtime):
            bad = await resources.add_malformed()
            good = await resources.add(3)
            await wait_until(
                lambda: runtime.health.emitted >= 3 and runtime.health.dead_lettered >= 1,
                within_s=WITHIN_S,
                what="three records and a dead letter",
                runtime=runtime,
            )
            await asyncio.sleep(0.5)
        assert runtime.health.dead_lettered == 1
        assert runtime.health.retries >= 1
        letters = [
            r
            for r in await read_topic(kit, "hub.deadletter")
            if r.headers.get("hub.connector") == Unit4ResourceConnector.name
        ]
        assert [r.headers["hub.source.topic"] for r in letters] == [f"unit4:resources/{bad}"]
        assert "dateTo" in letters[0].headers["hub.error"]
        assert set(await _keys(kit, Unit4ResourceConnector.topic)) == {(k, False) for k in good}


class TestWebProfile:
    @pytest.fixture
    async def pages(self) -> AsyncIterator[WebSource]:
        async with web_source() as source:
            yield source

    async def test_unlisted_change_is_recovered_by_the_next_reconciliation(
        self, kit: KitEnvironment, pages: WebSource
    ) -> None:
        """A page the change listing never reported is missing until the next full
        reconciliation, which publishes it (and only it)."""
        runtime = make_runtime(WebProfileConnector, kit, pages.settings)
        async with runtime, running(runtime):
            (heard,) = await pages.add(1)
            unlisted = pages.sample()
            pages.store.pages[unlisted["uri"]] = unlisted  # no change recorded
            await wait_until(lambda: runtime.health.emitted >= 1, within_s=WITHIN_S, what="one")
            await asyncio.sleep(0.5)
            before = await _keys(kit, WebProfileConnector.topic)
            result = await runtime.reconcile()
        assert set(before) == {(heard, False)}
        assert (result.emitted, result.unchanged, result.deleted) == (1, 1, 0)
        after = await _keys(kit, WebProfileConnector.topic)
        assert after == Counter({(heard, False): 1, (unlisted["uri"], False): 1})

    async def test_repeated_and_out_of_order_changes_publish_each_page_once(
        self, kit: KitEnvironment, pages: WebSource
    ) -> None:
        """A change log listing one page several times, across answers and with times
        going backwards, publishes each page once (at its latest state)."""
        store = pages.store
        store.collapse = False
        moments = iter(
            datetime(2026, 11, 20, 9, tzinfo=UTC) - timedelta(minutes=n) for n in range(99)
        )
        store.clock = lambda: next(moments)
        first, second = pages.sample(), pages.sample()
        for page in (first, second, first, first | {"published": False}, second):
            store.put(page)
        runtime = make_runtime(WebProfileConnector, kit, pages.settings)
        async with runtime, running(runtime):
            await wait_until(
                lambda: runtime.health.emitted + runtime.health.unchanged >= 4,
                within_s=WITHIN_S,
                what="the five changes handled",
                runtime=runtime,
            )
            await asyncio.sleep(0.5)
        assert runtime.health.emitted == 2
        published = await _keys(kit, WebProfileConnector.topic)
        assert published == Counter({(first["uri"], False): 1, (second["uri"], False): 1})
        records = [r for r in await read_topic(kit, WebProfileConnector.topic)]
        shown = {
            r.key: (await kit.codec.decode_any(r.value))["visible"] for r in records if r.value
        }
        assert shown[first["uri"]] is False, "the page's latest state"

    async def test_gateway_404_is_retried_and_the_exports_404_is_a_deletion(
        self, kit: KitEnvironment, pages: WebSource
    ) -> None:
        """A page fetch the gateway answers 404 is retried until the page comes; a page
        the export itself says is gone becomes a tombstone naming it."""
        gateway = Fault(
            "status",
            path="/api/profiles/personer",
            status=404,
            body=GATEWAY_404,
            content_type="application/json",
            times=3,
        )
        pages.faults.add(gateway)
        runtime = make_runtime(WebProfileConnector, kit, pages.settings)
        async with runtime, running(runtime):
            (kept, gone) = await pages.add(2)
            await wait_until(lambda: runtime.health.emitted >= 2, within_s=WITHIN_S, what="two")
            assert runtime.health.deleted == 0
            removed = pages.store.pages.pop(gone)
            pages.store.put(removed)  # listed as modified ...
            pages.store.pages.pop(gone)  # ... but gone when fetched
            await wait_until(lambda: runtime.health.deleted >= 1, within_s=WITHIN_S, what="gone")
        assert gateway.hits == 3
        assert runtime.health.retries >= 3
        records = await read_topic(kit, WebProfileConnector.topic)
        assert [(r.key, r.value is None) for r in records if r.key == kept] == [(kept, False)]
        tombstone = [r for r in records if r.value is None]
        assert [r.key for r in tombstone] == [gone]
        deletion = deletion_of(tombstone[0].headers)
        assert deletion is not None
        assert (deletion.institution, deletion.source_id) == ("uio", gone)


class TestOrgReg:
    @pytest.fixture
    async def units(self) -> AsyncIterator[OrgRegSource]:
        async with orgreg_source() as source:
            yield source

    async def test_polls_publish_changes_once_and_reconciliation_deletes(
        self, kit: KitEnvironment, units: OrgRegSource
    ) -> None:
        """Each poll lists every unit but publishes only new or changed ones; a unit gone
        from OrgReg is deleted by the full reconciliation, not by a poll."""
        runtime = make_runtime(OrgRegConnector, kit, units.settings)
        async with runtime, running(runtime):
            keys = await units.add(3)
            await wait_until(lambda: runtime.health.emitted >= 3, within_s=WITHIN_S, what="3")
            renamed = units.sample(ouId=int(keys[0]), name={"nob": "Nytt navn"})
            units.put(renamed)
            await units.remove_silently(keys[1])
            await wait_until(lambda: runtime.health.emitted >= 4, within_s=WITHIN_S, what="4")
            await asyncio.sleep(1.0)  # several polls of the same listing
            assert (runtime.health.emitted, runtime.health.unchanged) == (4, 0)
            assert runtime.health.deleted == 0
            result = await runtime.reconcile()
        assert (result.emitted, result.unchanged, result.deleted) == (0, 2, 1)
        published = await _keys(kit, OrgRegConnector.topic)
        assert published == Counter(
            {(keys[0], False): 2, (keys[1], False): 1, (keys[2], False): 1, (keys[1], True): 1}
        )

    async def test_gateway_404_and_a_cut_listing_delete_nothing(
        self, kit: KitEnvironment, units: OrgRegSource
    ) -> None:
        """A listing the gateway answers 404, or one cut short in transit, fails the
        reconciliation (retried later) and deletes nothing; a unit that cannot be mapped
        is dead-lettered and the others are kept."""
        runtime = make_runtime(OrgRegConnector, kit, units.settings)
        async with runtime:
            keys = await units.add(2)
            await units.add_malformed()
            first = await runtime.reconcile()
            units.faults.add(Fault("status", path="/v3/ou", status=404, body=GATEWAY_404, times=1))
            with pytest.raises(SourceUnavailableError, match="gateway"):
                await runtime.reconcile()
            units.faults.add(Fault("malformed", path="/v3/ou", times=1))
            with pytest.raises(SourceUnavailableError, match="not valid JSON"):
                await runtime.reconcile()
            last = await runtime.reconcile()
        assert (first.emitted, first.dead_lettered, first.deleted) == (2, 1, 0)
        assert (last.emitted, last.unchanged, last.deleted) == (0, 2, 0)
        assert await _keys(kit, OrgRegConnector.topic) == Counter({(k, False): 1 for k in keys})
