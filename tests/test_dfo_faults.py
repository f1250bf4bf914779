"""Faults at the source, through the real Kafka broker, registry and RabbitMQ: lost,
duplicated and reordered notifications, an outage, malformed bodies, DFØ's two kinds of
404, future-dated changes and a position's fan-out to its holders.

``HUB_TEST_OUTAGE_S`` sets how long the source answers 503 (default 3 s: long enough for
several retries with the kit's backoff of 0.05-0.5 s, short enough for CI; a real
outage of minutes only repeats the same cycle).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest

from connectors.dfo.connector import DfoEmployeeConnector, DfoPositionConnector
from connectors.dfo.fake_server import (
    FakeDfoHrSource,
    FakeDfoPayrollSource,
    hr_source,
    payroll_source,
    sample_employee,
    sample_position,
)
from connectors.dfo.payroll_connector import DfoPayrollConnector
from connectors.testing.conformance import (
    KitEnvironment,
    make_runtime,
    read_topic,
    running,
    wait_until,
)
from connectors.testing.faults import Fault
from hub.source_deletion import deletion_of
from tests.fault_support import GATEWAY_404, OUTAGE_S, WITHIN_S

pytestmark = [pytest.mark.kafka, pytest.mark.registry]


@pytest.fixture
async def employees(rabbitmq: str, topic_prefix: str) -> AsyncIterator[FakeDfoHrSource]:
    async with hr_source(DfoEmployeeConnector, rabbitmq, topic_prefix) as source:
        yield source


@pytest.fixture
async def payroll() -> AsyncIterator[FakeDfoPayrollSource]:
    async with payroll_source() as source:
        yield source


async def _published(kit: KitEnvironment, topic: str) -> list[Any]:
    return [r for r in await read_topic(kit, topic) if r.value is not None]


class TestNotifications:
    async def test_lost_notification_is_recovered_by_the_next_reconciliation(
        self, kit: KitEnvironment, employees: FakeDfoHrSource
    ) -> None:
        """A change whose notification was lost is missing until the next full
        reconciliation, which publishes it (and only it)."""
        runtime = make_runtime(DfoEmployeeConnector, kit, employees.settings)
        employees.fake.notifications.lose_next(1)
        async with runtime, running(runtime):
            lost, heard = await employees.add(2)
            await wait_until(lambda: runtime.health.emitted >= 1, within_s=WITHIN_S, what="one")
            await asyncio.sleep(0.5)
            before = {r.key for r in await _published(kit, DfoEmployeeConnector.topic)}
            result = await runtime.reconcile()
        assert employees.fake.notifications.lost, "the fault layer lost a notification"
        assert before == {heard}
        assert (result.emitted, result.unchanged, result.deleted) == (1, 1, 0)
        after = [r.key for r in await _published(kit, DfoEmployeeConnector.topic)]
        assert sorted(after) == sorted([lost, heard])

    async def test_duplicate_and_reordered_notifications_publish_each_record_once(
        self, kit: KitEnvironment, employees: FakeDfoHrSource
    ) -> None:
        """Every notification sent twice, some out of order: each employee is published
        once; the repeats find nothing new."""
        faults = employees.fake.notifications
        faults.duplicate_rate, faults.reorder_rate = 1.0, 0.5
        runtime = make_runtime(DfoEmployeeConnector, kit, employees.settings)
        async with runtime, running(runtime):
            keys = await employees.add(4)
            await faults.flush()
            await wait_until(
                lambda: runtime.health.emitted + runtime.health.unchanged >= 8,
                within_s=WITHIN_S,
                what="8 notifications handled",
                runtime=runtime,
            )
        assert len(faults.sent) == 8
        assert runtime.health.emitted == 4
        published = [r.key for r in await _published(kit, DfoEmployeeConnector.topic)]
        assert sorted(published) == sorted(keys)

    async def test_malformed_notification_and_body_are_dead_lettered_and_counted(
        self, kit: KitEnvironment, employees: FakeDfoHrSource
    ) -> None:
        """A notification that is not DFØ's JSON, and a body cut short in transit, each
        land on the dead-letter topic with the reason; the next employee still flows."""
        employees.fake.faults.add(Fault("malformed", path=r"ansatte/v2/0*101$", times=1))
        runtime = make_runtime(DfoEmployeeConnector, kit, employees.settings)
        async with runtime, running(runtime):
            await employees.fake.notifications.publish(b'{"id": "00123", "uri": "dfo:ansat')
            await employees.add(2)  # 101 arrives truncated, 102 whole
            await wait_until(
                lambda: runtime.health.dead_lettered >= 2 and runtime.health.emitted >= 1,
                within_s=WITHIN_S,
                what="two dead letters and one record",
                runtime=runtime,
            )
        assert runtime.health.dead_lettered == 2
        letters = [
            r
            for r in await read_topic(kit, "hub.deadletter")
            if r.headers.get("hub.connector") == DfoEmployeeConnector.name
        ]
        reasons = sorted(r.headers["hub.error"] for r in letters)
        assert any("DFØ notification" in reason for reason in reasons), reasons
        assert any("not valid JSON" in reason for reason in reasons), reasons
        assert {r.headers["hub.source.topic"] for r in letters} == {
            f"amqp:{employees.settings['amqp_queue']}",
            "dfo:ansatte/v2/101",
        }
        assert [r.key for r in await _published(kit, DfoEmployeeConnector.topic)] == ["102"]


class TestNotFound:
    async def test_gateway_404_is_retried_and_never_a_deletion(
        self, kit: KitEnvironment, employees: FakeDfoHrSource
    ) -> None:
        """While the gateway answers 404 without DFØ's fault text, the connector retries;
        the employee is published once it answers, and nothing is deleted."""
        gateway = Fault(
            "status",
            path="ansatte/v2/",
            status=404,
            body=GATEWAY_404,
            content_type="application/json",
            times=3,
        )
        employees.fake.faults.add(gateway)
        runtime = make_runtime(DfoEmployeeConnector, kit, employees.settings)
        async with runtime, running(runtime):
            (key,) = await employees.add(1)
            await wait_until(
                lambda: runtime.health.emitted >= 1, within_s=WITHIN_S, what="published"
            )
        assert gateway.hits == 3
        assert runtime.health.retries >= 3
        assert runtime.health.deleted == 0
        records = await read_topic(kit, DfoEmployeeConnector.topic)
        assert [(r.key, r.value is None) for r in records] == [(key, False)]

    async def test_not_employed_404_is_a_deletion(
        self, kit: KitEnvironment, employees: FakeDfoHrSource
    ) -> None:
        """DFØ's 'IKKE ANSATT' for a notified employee publishes a tombstone that names
        the institution and the employee."""
        runtime = make_runtime(DfoEmployeeConnector, kit, employees.settings)
        async with runtime, running(runtime):
            (key,) = await employees.add(1)
            await wait_until(lambda: runtime.health.emitted >= 1, within_s=WITHIN_S, what="one")
            employees.fake.remove("ansatt", key)
            await employees.fake.notify("ansatt", key)
            await wait_until(lambda: runtime.health.deleted >= 1, within_s=WITHIN_S, what="gone")
        records = await read_topic(kit, DfoEmployeeConnector.topic)
        assert [(r.key, r.value is None) for r in records] == [(key, False), (key, True)]
        deletion = deletion_of(records[-1].headers)
        assert deletion is not None
        assert (deletion.institution, deletion.source_id) == ("uio", key)


class TestOutage:
    async def test_payroll_outage_loses_nothing_and_holds_the_checkpoint(
        self, kit: KitEnvironment, payroll: FakeDfoPayrollSource
    ) -> None:
        """While DFØ answers 503 the connector retries with backoff and its checkpoint
        stays where it was; afterwards every result of the run that finished meanwhile is
        published once, and the checkpoint moves past it."""
        runtime = make_runtime(DfoPayrollConnector, kit, payroll.settings)
        async with runtime, running(runtime):
            first = await payroll.add(2)
            await wait_until(
                lambda: runtime.health.emitted >= 2 and runtime.state.cursor is not None,
                within_s=WITHIN_S,
                what="the first run delivered and checkpointed",
            )
            held = runtime.state.cursor
            payroll.fake.faults.outage(OUTAGE_S)
            second = await payroll.add(3)
            ends = time.monotonic() + OUTAGE_S
            while time.monotonic() < ends - 0.2:
                assert runtime.state.cursor == held, "the checkpoint moved during the outage"
                assert runtime.health.emitted == 2
                await asyncio.sleep(0.1)
            await wait_until(
                lambda: runtime.health.emitted >= 5,
                within_s=WITHIN_S,
                what="the results after the outage",
                runtime=runtime,
            )
        assert runtime.health.retries >= 2
        assert held is not None
        assert runtime.state.cursor is not None
        assert runtime.state.cursor > held
        published = [r.key for r in await _published(kit, DfoPayrollConnector.topic)]
        assert sorted(published) == sorted(first + second)

    async def test_notification_outage_loses_nothing(
        self, kit: KitEnvironment, employees: FakeDfoHrSource
    ) -> None:
        """Notifications that arrive while DFØ answers 503 stay unacknowledged in the
        queue and are delivered once DFØ answers again."""
        runtime = make_runtime(DfoEmployeeConnector, kit, employees.settings)
        async with runtime, running(runtime):
            employees.fake.faults.outage(OUTAGE_S)
            keys = await employees.add(3)
            await asyncio.sleep(OUTAGE_S / 2)
            assert runtime.health.emitted == 0
            assert runtime.health.retries >= 1
            await wait_until(
                lambda: runtime.health.emitted >= 3,
                within_s=WITHIN_S,
                what="the employees after the outage",
                runtime=runtime,
            )
        published = [r.key for r in await _published(kit, DfoEmployeeConnector.topic)]
        assert sorted(published) == sorted(keys)


class TestChanges:
    async def test_future_dated_change_is_fetched_as_of_its_day(
        self, kit: KitEnvironment, employees: FakeDfoHrSource
    ) -> None:
        """A notification valid from a future day asks DFØ for that day (the dato header)
        and publishes that state; a reconciliation before then leaves it alone."""
        fake = employees.fake
        future = date.today() + timedelta(days=10)
        fake.put("ansatt", sample_employee(501, tittel="Stipendiat"))
        fake.put("ansatt", sample_employee(501, tittel="Postdoktor"), valid_from=future)
        runtime = make_runtime(DfoEmployeeConnector, kit, employees.settings)
        async with runtime, running(runtime):
            await fake.notify("ansatt", "501", valid_from=future)
            await wait_until(lambda: runtime.health.emitted >= 1, within_s=WITHIN_S, what="one")
            result = await runtime.reconcile()
        assert ("ansatte/v2/501", future.isoformat()) in fake.requests
        assert (result.emitted, result.deleted) == (0, 0), "today's listing is older"
        (record,) = await _published(kit, DfoEmployeeConnector.topic)
        decoded = await kit.codec.decode_any(record.value)
        assert decoded["title"] == "Postdoktor"

    async def test_position_change_refetches_every_holder(
        self, kit: KitEnvironment, employees: FakeDfoHrSource, rabbitmq: str, topic_prefix: str
    ) -> None:
        """A position notification makes the employee connector fetch the position and
        re-fetch each holder, and the position connector publish the position."""
        fake = employees.fake
        for number in (701, 702):
            fake.put("ansatt", sample_employee(number, stillingId=30000700))
        fake.put("stilling", sample_position(30000700, holders=[701, 702]))
        position_queue = f"{topic_prefix}{DfoPositionConnector.name}"
        assert fake.amqp is not None
        await fake.amqp.declare_queue(position_queue)
        positions = make_runtime(
            DfoPositionConnector, kit, {**employees.settings, "amqp_queue": position_queue}
        )
        people = make_runtime(DfoEmployeeConnector, kit, employees.settings)
        async with people, positions, running(people), running(positions):
            await fake.notify("stilling", "30000700")
            await wait_until(
                lambda: people.health.emitted >= 2 and positions.health.emitted >= 1,
                within_s=WITHIN_S,
                what="two holders and the position",
            )
        holders = [r.key for r in await _published(kit, DfoEmployeeConnector.topic)]
        assert sorted(holders) == ["701", "702"]
        assert [r.key for r in await _published(kit, DfoPositionConnector.topic)] == ["30000700"]
        assert ("ansatte/v2/701", None) in fake.requests
