"""The crash test: a burst of DFØ new hires without accounts, the worker and the
ticket sink as processes, each killed with ``kill -9`` in the middle of the burst and
started again. The tasks on hub.tasks and the tickets in the fake RT must be the same
as an uninterrupted run's on a fresh prefix: exactly one ticket per task, none
missing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from hub.compacted import latest_by_key
from hub.embedded.kafka import LocalKafka
from hub.embedded.process import free_port
from hub.endpoints import make_pipeline
from hub.pipeline import Pipeline
from hub.rules.settings import INSTITUTIONS_FILE
from hub.settings import HubSettings, load_settings
from hub.tickets.fake_rt import FakeRt
from hub.topics import ensure_topics
from tests.conftest import KafkaEndpoint
from tests.kafka_support import WorkerProcess
from tests.test_rule_families_through_kafka import TODAY, _publish, employee

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

HIRES = 36
NEW_HIRE_RULE = "access.new_hire_without_account"
Outcome = tuple[frozenset[tuple[str, str]], frozenset[tuple[str, str]]]


def quiet_institutions(tmp_path: Path) -> Path:
    """deploy/institutions.yaml without the failsafe: the burst is meant to open tasks."""
    raw = yaml.safe_load(INSTITUTIONS_FILE.read_text())
    raw["defaults"]["failsafe"] = {"enabled": False}
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "institutions.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def hires(secret: str) -> list[tuple[str, dict[str, Any]]]:
    start = (TODAY + timedelta(days=5)).isoformat()
    return [
        ("source.dfo.employee", employee(secret, 920000 + n, startdato=start)) for n in range(HIRES)
    ]


@dataclass
class Run:
    """One run's prefix, pipeline, fake RT and processes."""

    kafka: KafkaEndpoint
    registry_url: str
    prefix: str
    tmp: Path
    pipeline: Pipeline
    fake: FakeRt = field(default_factory=FakeRt)
    procs: list[WorkerProcess] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # more settings for the processes

    def process(self, *command: str, state_dir: Path | None = None) -> WorkerProcess:
        """A process of the run (``state_dir`` for a second worker: its own data)."""
        # INFO: the worker says "Worker ready", the sink what it delivered (for a failure)
        proc = WorkerProcess(
            bootstrap=self.kafka.bootstrap_servers,
            registry_url=self.registry_url,
            prefix=self.prefix,
            state_dir=state_dir or self.tmp,
            command=command,
            extra_env={
                "HUB_INSTITUTIONS_FILE": str(self.tmp / "institutions.yaml"),
                **self.fake.sink_env(),
                "HUB_TICKETS_READBACK_SECONDS": "2",
                "HUB_TICKETS_RETRY_BASE_SECONDS": "0.1",
                "HUB_LOG_LEVEL": "INFO",
                "HUB_WORKER_SESSION_TIMEOUT_SECONDS": "8",
                **self.env,
            },
        ).start()
        self.procs.append(proc)
        return proc

    async def tasks(self) -> dict[str, Any]:
        topic = self.pipeline.topics.name("hub.tasks")
        return await latest_by_key(self.kafka.bootstrap_servers, topic, self.pipeline.codec)

    async def outcome(self) -> Outcome:
        tasks = frozenset((t["task_id"], t["state"]) for t in (await self.tasks()).values())
        tickets = frozenset((v.task_id or "", v.status) for v in self.fake.views())
        return tasks, tickets

    def logs(self) -> str:
        return "\n".join(
            f"--- {' '.join(p.command)} #{n} ({p.log_path}):\n{p.log()[-2000:]}"
            for n, p in enumerate(self.procs)
        )


async def run_for(
    kafka: KafkaEndpoint,
    registry_url: str,
    prefix: str,
    tmp: Path,
    env: dict[str, str] | None = None,
) -> Run:
    """A run's topics, pipeline and started fake RT; ``env`` adds to the processes' settings."""
    quiet_institutions(tmp)
    settings = load_settings(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        schema_registry_url=registry_url,
        topic_prefix=prefix,
        institutions_file=tmp / "institutions.yaml",
    )
    pipeline = make_pipeline(settings, registry_url)
    await ensure_topics(kafka.bootstrap_servers, pipeline.topics)
    run = Run(kafka, registry_url, prefix, tmp, pipeline, env=dict(env or {}))
    await run.fake.start()
    return run


async def wait_for(check: Callable[[], Any], what: str, run: Run, within_s: float = 60.0) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{run.logs()}")
        await asyncio.sleep(0.5)


async def settled(run: Run, within_s: float = 60.0) -> Outcome:
    """The outcome once every hire has its task, every open task its ticket, and
    nothing changed for 3 s."""
    previous: Outcome | None = None
    stable_since = time.monotonic()
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        current = await run.outcome()
        tasks, tickets = current
        open_tasks = {(t, "open") for t, s in tasks if s == "OPEN"}
        hired = [t for t in (await run.tasks()).values() if t["rule_id"] == NEW_HIRE_RULE]
        complete = len(hired) == HIRES and open_tasks <= tickets
        if current != previous:
            previous, stable_since = current, time.monotonic()
        elif complete and time.monotonic() - stable_since >= 3:
            return current
        await asyncio.sleep(0.5)
    raise AssertionError(f"the run did not settle: {previous}\n{run.logs()}")


async def converged(run: Run, expected: Outcome, within_s: float = 240.0) -> Outcome:
    """The outcome once it equals ``expected`` (and stays so for 3 s), or the last seen."""
    deadline = time.monotonic() + within_s
    current = await run.outcome()
    while time.monotonic() < deadline:
        if current == expected:
            await asyncio.sleep(3)
            return await run.outcome()
        await asyncio.sleep(0.5)
        current = await run.outcome()
    return current


async def publish(run: Run, records: list[tuple[str, dict[str, Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=run.kafka.bootstrap_servers)
    await producer.start()
    try:
        await _publish(run.pipeline, producer, records)
    finally:
        await producer.stop()


# Longer than the waits inside, so that a wait that runs out reports itself with the logs.
@pytest.mark.timeout(900)
class TestCrash:
    async def test_kill_9_worker_and_sink_mid_burst_gives_the_same_tickets(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        """Killed and restarted mid-burst, worker and sink converge on the uninterrupted
        run's tasks and tickets: one ticket per task, none missing."""
        calm = await run_for(kafka, registry_url, topic_prefix + "calm.", tmp_path / "calm")
        crash = await run_for(kafka, registry_url, topic_prefix + "crash.", tmp_path / "crash")
        burst = hires(calm.pipeline.secret)
        try:
            # The uninterrupted run, for comparison.
            await ready(calm, calm.process("worker"))
            calm.process("tickets", "run")
            await publish(calm, burst)
            expected = await settled(calm)
            for proc in calm.procs:
                proc.kill()  # done; no need to wait for a graceful stop
            expected_tickets = len(expected[1])

            # The interrupted run.
            worker = crash.process("worker")
            await ready(crash, worker)
            sink = crash.process("tickets", "run")
            await publish(crash, burst[: HIRES // 2])
            await wait_for(
                lambda: _at_least(crash, tasks=4), "the first tasks before the worker dies", crash
            )
            worker.kill()
            await publish(crash, burst[HIRES // 2 :])
            crash.process("worker")
            await wait_for(
                lambda: _at_least(crash, tickets=expected_tickets * 5 // 8),
                "tickets before the sink dies",
                crash,
                within_s=240,  # a loaded machine: the restarted worker waits out the old one
            )
            sink.kill()
            crash.process("tickets", "run")
            got = await converged(crash, expected)
        finally:
            for proc in calm.procs + crash.procs:
                proc.stop()
            for run in (calm, crash):
                await run.fake.stop()
                await run.pipeline.codec.close()

        tasks, tickets = got
        assert tasks == expected[0], "the same tasks, in the same states"
        assert tickets == expected[1], "the same tickets, in the same states"
        per_task = [v.task_id for v in crash.fake.views()]
        assert len(per_task) == len(set(per_task)), "exactly one ticket per task"
        assert {t for t, s in tasks if s == "OPEN"} <= set(per_task), "no task without a ticket"
        assert sum(1 for _ in crash.fake.views()) >= HIRES


async def ready(run: Run, worker: WorkerProcess) -> None:
    """Wait until a new worker has made its topics, joined its group and recovered."""

    async def said_ready() -> bool:
        return "Worker ready" in worker.log()

    await wait_for(said_ready, "the worker to be ready", run)


async def _at_least(run: Run, tasks: int = 0, tickets: int = 0) -> bool:
    found = await run.tasks() if tasks else {}
    return len(found) >= tasks and len(run.fake.views()) >= tickets


@pytest.mark.timeout(240)
async def test_a_sink_started_before_kafka_waits_for_it(registry_url: str, tmp_path: Path) -> None:
    """``hub tickets run`` with no broker answering yet waits (saying so) instead of
    exiting, goes on once the broker is up (it makes its topics), and still ends
    cleanly on SIGTERM."""
    endpoint = KafkaEndpoint(f"127.0.0.1:{free_port()}", "3.9.1", "started later")
    quiet_institutions(tmp_path)
    settings = load_settings(
        kafka_bootstrap_servers=endpoint.bootstrap_servers,
        schema_registry_url=registry_url,
        topic_prefix="later.",
        institutions_file=tmp_path / "institutions.yaml",
    )
    run = Run(endpoint, registry_url, "later.", tmp_path, make_pipeline(settings, registry_url))
    await run.fake.start()
    sink = run.process("tickets", "run")
    port = int(endpoint.bootstrap_servers.rsplit(":", 1)[1])
    broker = LocalKafka(tmp_path / "kafka", HubSettings().cache_dir, port=port)
    try:

        async def waiting() -> bool:
            return "kafka_not_answering" in sink.log()

        await wait_for(waiting, "the sink to say it waits for Kafka", run)
        assert sink.proc is not None
        assert sink.proc.poll() is None, sink.log()
        await asyncio.to_thread(broker.start_broker)
        tasks_topic = run.pipeline.topics.name("hub.tasks")

        async def topics_made() -> bool:
            admin = AIOKafkaAdminClient(bootstrap_servers=endpoint.bootstrap_servers)
            await admin.start()
            try:
                return tasks_topic in await admin.list_topics()
            finally:
                await admin.close()

        await wait_for(topics_made, "the sink to make its topics on the new broker", run)
        assert sink.proc.poll() is None, sink.log()
        sink.stop()
        assert sink.proc.returncode == 0, sink.log()
    finally:
        for proc in run.procs:
            proc.stop()
        await asyncio.to_thread(broker.stop)
        await run.fake.stop()
        await run.pipeline.codec.close()
