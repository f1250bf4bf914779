"""The dashboard's JSON API through the real broker and registry: tasks produced on
hub.tasks as the worker writes them, a dead letter, committed consumer groups; the
API summarises, filters and details them, and follows new records as they come."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.clock import business_date
from hub.dashboard.feed import DashboardFeed
from hub.dashboard.server import create_app, serving
from hub.deadletter import dead_letter_headers
from hub.errors import MappingError
from hub.partitions import partition_offsets
from hub.pipeline import TASK, Pipeline
from tests.conftest import KafkaEndpoint
from tests.factories import correction_task
from tests.kafka_support import hub_pipeline, run_hub

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = business_date(NOW)


def task(number: int, **fields: Any) -> dict[str, Any]:
    """A task opened two days ago, due in three days."""
    defaults = {"opened_at": NOW - timedelta(days=2), "due_date": TODAY + timedelta(days=3)}
    return correction_task(number, NOW, **{**defaults, **fields})


SCENARIO = [
    task(1),
    task(2, due_date=TODAY - timedelta(days=2), escalated=True, revision=2),
    task(
        3,
        rule_id="web.profile_stale",
        severity="P3",
        owner_group="web",
        display_name="<script>alert('x')</script>",
        opened_at=NOW - timedelta(days=40),
    ),
    task(
        4,
        rule_id="access.leaver_still_active",
        severity="P2",
        state="SUPPRESSED",
        exception={
            "task_id": "task-0004",
            "reason": "account ordered by hand",
            "accepted_by": "kari.hr",
            "accepted_at": NOW - timedelta(hours=3),
            "expires_at": None,
        },
    ),
    task(
        5,
        rule_id="payroll.pay_without_contract",
        owner_group="hr_payroll",
        state="RESOLVED",
        resolved_at=NOW,
        resolution_evidence=[
            {"system": "cerebrum", "field": "account", "value": "ACTIVE", "source_timestamp": NOW}
        ],
        # Tasks carry masked values only; the API redacts any slip all the same.
        description_en="found for national ID 15059912345",
    ),
    task(6),  # deleted below with a tombstone
]


async def _put_tasks(
    pipeline: Pipeline, producer: AIOKafkaProducer, tasks: list[dict[str, Any]]
) -> None:
    topic = pipeline.topics.name("hub.tasks")
    for task in tasks:
        value = await pipeline.codec.encode(topic, pipeline.catalog[TASK], task)
        await producer.send_and_wait(topic, key=task["task_id"].encode(), value=value)


async def _commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """A consumer group that has read each (topic, partition) up to its offset."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        chosen = {TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in offsets.items()}
        consumer.assign(list(chosen))
        await consumer.commit(chosen)
    finally:
        await consumer.stop()


async def _wait_for(
    session: aiohttp.ClientSession, url: str, ready: Callable[[Any], bool], within_s: float = 60
) -> Any:
    deadline = time.monotonic() + within_s
    body: Any = None
    while time.monotonic() < deadline:
        async with session.get(url) as response:
            body = await response.json()
        if ready(body):
            return body
        await asyncio.sleep(0.3)
    raise AssertionError(f"{url} never became ready; last answer: {body}")


@contextlib.asynccontextmanager
async def _dashboard(feed: DashboardFeed) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """The dashboard of ``feed`` on a free port, and a client for it."""
    async with (
        serving(create_app(feed), "127.0.0.1", 0) as url,
        aiohttp.ClientSession() as session,
    ):
        yield url, session


def _ids(found: dict[str, Any]) -> list[str]:
    return sorted(t["task_id"] for t in found["tasks"])


@pytest.mark.kafka
@pytest.mark.registry
class TestDashboardApi:
    async def test_the_api_summarises_filters_and_details_the_tasks_on_kafka(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str
    ) -> None:
        """Tasks, a dead letter and consumer groups on the broker show up in every endpoint."""
        pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        tasks_topic = pipeline.topics.name("hub.tasks")
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            await _put_tasks(pipeline, producer, SCENARIO)
            await producer.send_and_wait(tasks_topic, key=b"task-0006", value=None)
            error = MappingError("ansatt 15059912345 has no startdato")
            await producer.send_and_wait(
                pipeline.topics.name("hub.deadletter"),
                key=b"234567",
                value=b"{not json",
                headers=dead_letter_headers(
                    source_topic="dfo:ansatte",
                    partition=None,
                    offset=None,
                    error=error,
                    stage="connector",
                    connector="dfo",
                ),
            )
            # The worker's group has read nothing of hub.tasks; a connector's group all.
            parts = [(tasks_topic, p) for p in range(pipeline.topics["hub.tasks"].partitions)]
            _, ends = await partition_offsets(kafka.bootstrap_servers, parts)
            await _commit(
                kafka.bootstrap_servers, f"{topic_prefix}university-hub", dict.fromkeys(parts, 0)
            )
            await _commit(kafka.bootstrap_servers, f"{topic_prefix}connector.greg", ends)
            feed = DashboardFeed(
                bootstrap_servers=kafka.bootstrap_servers,
                codec=pipeline.codec,
                tasks_topic=tasks_topic,
                deadletter_topic=pipeline.topics.name("hub.deadletter"),
                group_prefix=topic_prefix,
                lag_interval_s=1.0,
            )
            async with _dashboard(feed) as (url, session):
                health = await _wait_for(
                    session,
                    f"{url}api/health",
                    lambda h: (
                        h["kafka"]["ok"]
                        and h["lag"]["groups"]
                        and all(t["caught_up"] for t in h["topics"])
                    ),
                )
                summary = await _wait_for(session, f"{url}api/summary", lambda s: True)
                await self._check_tasks(session, url)
                texts = [await self._text(session, f"{url}api/tasks/task-0005")]
                texts.append(await self._text(session, f"{url}api/health"))
                async with session.get(url) as page:
                    html = await page.text()
                    policy = page.headers["Content-Security-Policy"]
                async with session.get(f"{url}static/dashboard.js") as script:
                    assert script.status == 200
                    code = await script.text()

                # A task that arrives while the dashboard runs shows up, as does its fix.
                await _put_tasks(pipeline, producer, [task(7, severity="P2")])
                await _wait_for(
                    session, f"{url}api/tasks?severity=P2&state=OPEN", lambda f: f["total"] == 1
                )
                await _put_tasks(pipeline, producer, [task(7, state="RESOLVED", resolved_at=NOW)])
                later = await _wait_for(
                    session, f"{url}api/summary", lambda s: s["tiles"]["resolved_today"] == 2
                )
        finally:
            await producer.stop()
            await pipeline.codec.close()

        assert summary["tiles"] == {
            "total": 5,
            "open": 3,
            "overdue": 1,
            "suppressed": 1,
            "resolved_today": 1,
            "dead_letters": 1,
            "lag": 7,  # six tasks and a tombstone, none read by the worker's group
        }
        assert summary["open_by_rule"] == [
            {"key": "access.new_hire_without_account", "count": 2, "overdue": 1},
            {"key": "web.profile_stale", "count": 1, "overdue": 0},
        ]
        assert [b["count"] for b in summary["open_by_age"]] == [0, 2, 0, 0, 1]
        assert summary["today"] == TODAY.isoformat()
        assert later["tiles"]["open"] == 3

        assert health["kafka"]["ok"] is True
        assert {g["group"]: g["lag"] for g in health["lag"]["groups"]} == {
            f"{topic_prefix}university-hub": 7,
            f"{topic_prefix}connector.greg": 0,
        }
        connectors = {c["name"]: c for c in health["connectors"]}
        assert connectors["dfo"]["dead_letters"] == 1
        assert connectors["greg"]["lag"] == 0
        (dead,) = health["dead_letters"]["recent"]
        assert (dead["stage"], dead["connector"], dead["source_topic"]) == (
            "connector",
            "dfo",
            "dfo:ansatte",
        )
        assert "[redacted-nin]" in dead["error"]
        assert all(t["caught_up"] and t["error"] is None for t in health["topics"])

        for text in texts:
            assert "15059912345" not in text
        assert "[redacted-nin]" in texts[0]
        assert "default-src 'self'" in policy
        assert 'src="/static/dashboard.js"' in html
        assert "innerHTML" not in code, "the page never parses data as HTML"

    async def _check_tasks(self, session: aiohttp.ClientSession, url: str) -> None:
        async def tasks(query: str) -> dict[str, Any]:
            async with session.get(f"{url}api/tasks?{query}") as response:
                assert response.status == 200, await response.text()
                return dict(await response.json())

        every = await tasks("")
        assert _ids(every) == [f"task-000{n}" for n in range(1, 6)], "the tombstone removed 6"
        assert every["tasks"][0]["task_id"] == "task-0002", "overdue first"
        assert "evidence" not in every["tasks"][0]
        assert _ids(await tasks("severity=P1")) == [
            "task-0001",
            "task-0002",
            "task-0005",
        ]
        assert _ids(await tasks("severity=P1&state=OPEN")) == ["task-0001", "task-0002"]
        assert _ids(await tasks("overdue=true")) == ["task-0002"]
        assert _ids(await tasks("owner=web")) == ["task-0003"]
        assert _ids(await tasks("rule=access.leaver_still_active")) == ["task-0004"]
        assert _ids(await tasks("text=%3Cscript")) == ["task-0003"]
        assert _ids(await tasks("institution=ntnu")) == []
        cut = await tasks("limit=2")
        assert (cut["total"], cut["shown"], len(cut["tasks"])) == (5, 2, 2)

        async with session.get(f"{url}api/tasks?severity=P7") as response:
            assert response.status == 400
            assert "severity='P7' is not one of P1, P2, P3" in (await response.json())["error"]
        async with session.get(f"{url}api/tasks/task-nope") as response:
            assert response.status == 404
            assert "no task task-nope" in (await response.json())["error"]

        async with session.get(f"{url}api/tasks/task-0004") as response:
            suppressed = await response.json()
        assert suppressed["exception"]["accepted_by"] == "kari.hr"
        assert suppressed["evidence"][0]["field"] == "start_date"
        async with session.get(f"{url}api/tasks/task-0005") as response:
            resolved = await response.json()
        assert resolved["resolution_evidence"][0]["value"] == "ACTIVE"
        assert resolved["state"] == "RESOLVED"

    async def _text(self, session: aiohttp.ClientSession, url: str) -> str:
        async with session.get(url) as response:
            return await response.text()


class TestWithoutKafka:
    async def test_the_page_is_served_and_the_health_says_kafka_does_not_answer(self) -> None:
        """With no broker at the address, the page still loads and the API says why it is
        empty instead of failing."""
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            nobody = f"127.0.0.1:{closed.getsockname()[1]}"
        feed = DashboardFeed(
            bootstrap_servers=nobody,
            codec=SingleObjectCodec(SchemaCatalog()),
            tasks_topic="hub.tasks",
            deadletter_topic="hub.deadletter",
            lag_interval_s=0.5,
            retry_s=0.5,
        )
        async with _dashboard(feed) as (url, session):
            health = await _wait_for(
                session,
                f"{url}api/health",
                lambda h: h["kafka"]["ok"] is False and h["topics"][0]["error"],
                within_s=30,
            )
            async with session.get(url) as page:
                assert page.status == 200
            summary = await _wait_for(session, f"{url}api/summary", lambda s: True)
        assert f"no answer from {nobody}" in health["kafka"]["message"]
        assert health["topics"][0]["error"].startswith("cannot read hub.tasks")
        assert summary["loading"] is True
        assert summary["tiles"]["total"] == 0


class TestDashboardCommand:
    def test_help_names_the_options(self) -> None:
        """``hub dashboard --help`` documents --host and --port."""
        shown = run_hub({}, "dashboard", "--help")
        assert shown.returncode == 0, shown.stderr
        assert "--port" in shown.stdout
        assert "127.0.0.1" in shown.stdout

    def test_a_taken_port_fails_with_exit_1_and_says_what_to_do(self, tmp_path: Any) -> None:
        """Another program on the port: exit 1, naming the port and the fix."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            env = {
                "HUB_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                "HUB_WIRE_FORMAT": "single-object",
                "HUB_STATE_DIR": str(tmp_path),
            }
            shown = run_hub(env, "dashboard", "--port", str(port))
        assert shown.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in shown.stderr
        assert "choose another --port" in shown.stderr

    def test_without_kafka_it_says_how_to_get_one(self, tmp_path: Any) -> None:
        """No broker configured and none embedded running: exit 1 with the fix."""
        shown = run_hub(
            {"HUB_STATE_DIR": str(tmp_path), "HUB_KAFKA_BOOTSTRAP_SERVERS": ""}, "dashboard"
        )
        assert shown.returncode == 1
        assert "hub kafka start" in shown.stderr

    def test_a_bad_port_is_a_usage_error(self) -> None:
        """A port out of range exits 2, as every misuse of the CLI does."""
        shown = run_hub({}, "dashboard", "--port", "70000")
        assert shown.returncode == 2
        assert "70000" in shown.stderr
