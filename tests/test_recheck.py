"""Re-checks: a future date makes a finding appear exactly when it becomes true, on the
event-time clock through the real broker, and the schedule's pure logic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from connectors.dfo.mapping import map_employee
from hub.clock import start_of_day
from hub.recheck import RecheckSchedule
from tests.conftest import KafkaEndpoint
from tests.factories import DATA
from tests.kafka_support import TaskView, collect, hub_pipeline, worker_for

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class TestRecheckSchedule:
    def test_hands_out_due_keys_in_time_order_once(self) -> None:
        """Keys come out when their moment has passed, earliest first, and only once."""
        schedule = RecheckSchedule()
        schedule.set(b"b", T0 + timedelta(days=2))
        schedule.set(b"a", T0 + timedelta(days=1))
        schedule.set(b"c", T0 + timedelta(days=5))
        assert schedule.pop_due(T0) == []
        assert [k for k, _ in schedule.pop_due(T0 + timedelta(days=3))] == [b"a", b"b"]
        assert schedule.pop_due(T0 + timedelta(days=3)) == []
        assert len(schedule) == 1

    def test_a_new_moment_replaces_the_old_one(self) -> None:
        """Rescheduling a key moves it; unscheduling removes it."""
        schedule = RecheckSchedule()
        schedule.set(b"a", T0 + timedelta(days=1))
        schedule.set(b"a", T0 + timedelta(days=4))
        assert schedule.pop_due(T0 + timedelta(days=2)) == []
        schedule.set(b"b", T0)
        schedule.set(b"b", None)
        assert schedule.pop_due(T0 + timedelta(days=9)) == [(b"a", T0 + timedelta(days=4))]


def _hire(number: str, start: datetime, fetched: datetime, secret: str) -> dict[str, object]:
    body = json.loads((DATA / "dfo" / "ansatt_future_hire.json").read_text())
    fnr = f"150599{number[-5:]}"  # a national ID of each hire's own
    body["ansatt"][0].update({"id": number, "fnr": fnr, "startdato": start.date().isoformat()})
    return map_employee(body, institution="uio", secret=secret, fetched_at=fetched)


@pytest.mark.kafka
@pytest.mark.registry
class TestEventTimeRecheck:
    async def test_task_opens_when_event_time_reaches_start_minus_lead_days(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        """A hire starting in 40 days has no task at first; when later events move event
        time past start - 14 days, the task opens, stamped at that moment."""
        pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        start = T0 + timedelta(days=40)
        due = start_of_day((start - timedelta(days=14)).date())
        employees = pipeline.topics.name("source.dfo.employee")
        tasks = pipeline.topics.name("hub.tasks")
        schema = pipeline.catalog["no.bott.hub.dfo.Employee"]
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            early = _hire("700001", start, T0, pipeline.secret)
            await producer.send_and_wait(
                employees,
                key=b"700001",
                value=await pipeline.codec.encode(employees, schema, early),
            )
            with worker_for(
                kafka, registry_url, topic_prefix, tmp_path, {"HUB_CLOCK": "event"}
            ) as worker:
                # Someone else's record, from 30 days later, moves event time on.
                later = _hire(
                    "700002", T0 + timedelta(days=200), T0 + timedelta(days=30), pipeline.secret
                )
                await producer.send_and_wait(
                    employees,
                    key=b"700002",
                    value=await pipeline.codec.encode(employees, schema, later),
                )
                seen = await collect(
                    kafka.bootstrap_servers,
                    [tasks],
                    codec=pipeline.codec,
                    decode_topics=(tasks,),
                    until=lambda rs: any(
                        r.decoded
                        and r.decoded["state"] == "OPEN"
                        and r.decoded["rule_id"] == "access.new_hire_without_account"
                        for r in rs
                    ),
                )
                log = worker.log()
        finally:
            await producer.stop()
            await pipeline.codec.close()
        (task,) = [
            t
            for t in TaskView.of(seen, tasks).latest.values()
            if t["rule_id"] == "access.new_hire_without_account"
        ]
        assert task["opened_at"] == due, f"the task opens when it became true\n{log[-2000:]}"
        assert task["due_date"] == start.date() - timedelta(days=7)
