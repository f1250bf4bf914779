"""The ticket sink through the real broker and each fake ticket system: tasks go on
hub.tasks as the worker puts them there; tickets come out in RT, TOPdesk and
ServiceNow, one per task."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from hub.endpoints import make_pipeline
from hub.pipeline import TASK, Pipeline
from hub.rules.settings import INSTITUTIONS_FILE
from hub.settings import load_settings
from hub.tasks.lifecycle import task_id_for
from hub.tickets.commands import ticket_systems
from hub.tickets.fake_rt import FakeRt
from hub.tickets.fake_server import FakeTicketServer, TicketView
from hub.tickets.fake_servicenow import FakeServiceNow
from hub.tickets.fake_topdesk import FakeTopdesk
from hub.tickets.retry import RetryPolicy
from hub.tickets.settings import TicketSettings
from hub.tickets.sink import STAGE, TicketSink
from hub.tickets.system import NewTicket
from hub.topics import ensure_topics
from tests.conftest import KafkaEndpoint
from tests.kafka_support import collect
from tests.ticket_support import example_task, institution_settings, reopened, resolved, suppressed

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

# Each system with the institution that uses it in the test's institutions file.
SYSTEMS: dict[str, tuple[str, Callable[[], FakeTicketServer]]] = {
    "rt": ("uio", FakeRt),
    "topdesk": ("uit", FakeTopdesk),
    "servicenow": ("ntnu", FakeServiceNow),
}
REJECTED_QUEUE = "Okonomi-stengt"


def institutions_file(tmp_path: Path) -> Path:
    """deploy/institutions.yaml, with UiT on TOPdesk and a queue the systems refuse."""
    raw = yaml.safe_load(INSTITUTIONS_FILE.read_text())
    raw["institutions"]["uit"]["ticket_system"] = "topdesk"
    raw["defaults"]["queues"]["finance"] = REJECTED_QUEUE
    raw["institutions"]["uio"]["queues"]["finance"] = REJECTED_QUEUE
    path = tmp_path / "institutions.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def sink_settings(fake: FakeTicketServer, **more: Any) -> TicketSettings:
    """Ticket settings pointing at ``fake`` (its HUB_* variables as fields)."""
    fields = {name.removeprefix("HUB_").lower(): value for name, value in fake.sink_env().items()}
    return TicketSettings(**fields, **more)


def variant(task: dict[str, Any], name: str, owner_group: str, queue: str | None) -> dict[str, Any]:
    """Another person's task of the same rule, for ``owner_group``."""
    subject = f"p-{name}/{task['rule_id']}"
    return {
        **task,
        "task_id": task_id_for(task["institution"], task["rule_id"], subject),
        "subject": subject,
        "person_key": f"p-{name}",
        "display_name": name.title(),
        "owner_group": owner_group,
        "queue": queue,
    }


async def until(check: Callable[[], bool], what: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def one(fake: FakeTicketServer, task_id: str) -> TicketView:
    tickets = fake.tickets_for(task_id)
    assert len(tickets) == 1, f"{task_id}: {len(tickets)} tickets"
    return tickets[0]


class _Run:
    """A pipeline, a producer of tasks and sinks against one fake."""

    def __init__(self, pipeline: Pipeline, bootstrap: str, fake: FakeTicketServer) -> None:
        self.pipeline = pipeline
        self.bootstrap = bootstrap
        self.fake = fake
        self.topic = pipeline.topics.name("hub.tasks")
        self.sent = 0

    async def send(self, *tasks: dict[str, Any]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await producer.start()
        try:
            for task in tasks:
                value = await self.pipeline.codec.encode(
                    self.topic, self.pipeline.catalog[TASK], task
                )
                await producer.send_and_wait(self.topic, key=task["task_id"].encode(), value=value)
                self.sent += 1
        finally:
            await producer.stop()

    def sink(self, group: str) -> TicketSink:
        return TicketSink(
            pipeline=self.pipeline,
            bootstrap=self.bootstrap,
            systems=ticket_systems(sink_settings(self.fake, tickets_timeout_seconds=2.0)),
            group_id=self.pipeline.topics.prefix + group,
            retry=RetryPolicy(attempts=6, base_s=0.05, cap_s=0.4),
            readback_s=0.3,
        )


@pytest.mark.parametrize("system", list(SYSTEMS))
class TestTicketSink:
    async def test_tickets_follow_their_tasks(
        self,
        system: str,
        kafka: KafkaEndpoint,
        registry_url: str,
        topic_prefix: str,
        tmp_path: Path,
    ) -> None:
        """Create in the owner group's queue (after 5xx answers), adopt a ticket filed
        before a crash, dead-letter a 4xx, comment and resolve, reopen, reopen a ticket
        a person resolved, wait under an exception; a replay files nothing."""
        institution, make_fake = SYSTEMS[system]
        fake = make_fake()
        await fake.start()
        settings = load_settings(
            kafka_bootstrap_servers=kafka.bootstrap_servers,
            schema_registry_url=registry_url,
            topic_prefix=topic_prefix,
            institutions_file=institutions_file(tmp_path),
        )
        pipeline = make_pipeline(settings, registry_url)
        await ensure_topics(kafka.bootstrap_servers, pipeline.topics)
        run = _Run(pipeline, kafka.bootstrap_servers, fake)
        queues = institution_settings(institution).queues

        iam = example_task(institution)
        hr = variant(iam, "ola", "hr", None)  # no queue on the task: the settings give it
        finance = variant(iam, "per", "finance", None)  # a queue the system refuses
        adopted = variant(iam, "eva", "iam", queues["iam"])
        # A ticket filed for `adopted` by a sink that crashed before remembering it.
        (client,) = ticket_systems(sink_settings(fake)).values()
        before = await client.create(
            NewTicket(adopted["task_id"], queues["iam"], "filed before a crash", "-", "P1", None)
        )
        await client.close()
        fake.faults.fail_next = 3  # the first requests meet an outage
        fake.faults.reject_queues = {REJECTED_QUEUE: 403}

        stop = asyncio.Event()
        sink = run.sink("tickets-a")
        running = asyncio.create_task(sink.run(stop))
        try:
            await run.send(iam, hr, finance, adopted)
            await until(lambda: sink.handled >= 4, "the first four tasks")
            assert one(fake, iam["task_id"]).queue == queues["iam"]
            assert one(fake, hr["task_id"]).queue == queues["hr"]
            assert one(fake, adopted["task_id"]).id == before.ticket_id
            assert fake.tickets_for(finance["task_id"]) == []
            assert fake.faults.fail_next == 0, "the outage was met and retried"
            ticket = one(fake, iam["task_id"])
            assert ticket.subject.startswith("[P1] New hire without an account")
            assert "Kari Nordmann (hub person key p-kari)" in ticket.body

            dead = pipeline.topics.name("hub.deadletter")
            letters = await collect(kafka.bootstrap_servers, [dead], until=lambda rs: len(rs) >= 1)
            (letter,) = letters
            assert letter.key == finance["task_id"].encode()
            assert letter.headers["hub.stage"] == STAGE
            assert letter.headers["hub.connector"] == system
            assert "403" in letter.headers["hub.error"]
            assert REJECTED_QUEUE in letter.headers["hub.error"]

            fixed = resolved(iam)
            await run.send(fixed)
            await until(lambda: one(fake, iam["task_id"]).status == "resolved", "resolved")
            assert any("karin: ACTIVE" in c for c in one(fake, iam["task_id"]).comments)

            await run.send(reopened(fixed))
            await until(lambda: one(fake, iam["task_id"]).status == "open", "reopened")
            assert any(
                c.startswith("Reopened by the hub") for c in one(fake, iam["task_id"]).comments
            )

            # A person resolves the open hr ticket; the read-back reopens it.
            fake.resolve_by_person(one(fake, hr["task_id"]).id)
            await until(
                lambda: (
                    one(fake, hr["task_id"]).status == "open"
                    and any(
                        "data still shows the problem" in c
                        for c in one(fake, hr["task_id"]).comments
                    )
                ),
                "the read-back to reopen a ticket a person resolved",
            )

            await run.send(suppressed(adopted))
            await until(lambda: one(fake, adopted["task_id"]).status == "waiting", "waiting")
            assert any(
                "Account ordered by hand" in c for c in one(fake, adopted["task_id"]).comments
            )
            await until(lambda: sink.handled == run.sent, "every task handled")
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)

        # A replay from the start (a new consumer group) files and says nothing new.
        tickets = fake.views()
        replay_stop = asyncio.Event()
        replay = run.sink("tickets-replay")
        replaying = asyncio.create_task(replay.run(replay_stop))
        try:
            await until(lambda: replay.handled == run.sent, "the replay")
        finally:
            replay_stop.set()
            await asyncio.wait_for(replaying, 30)
        assert fake.views() == tickets, "no ticket, comment or status change on a replay"
        await pipeline.codec.close()
        await fake.stop()
