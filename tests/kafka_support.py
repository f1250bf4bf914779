"""Helpers for tests that go through the real broker: a worker process, producing and
collecting records."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.avro.codec import AvroCodec
from hub.consumer_lag import GroupLag, worker_inputs
from hub.deadletter import headers_as_dict
from hub.endpoints import make_pipeline
from hub.pipeline import Pipeline
from hub.settings import load_settings
from hub.topics import ensure_topics
from hub.worker_process import worker_env

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Collected:
    """One record read back from a topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    decoded: Any = None


def stop_process_group(proc: subprocess.Popen[Any], within_s: float = 30) -> int:
    """SIGTERM to a process started with ``start_new_session``, then SIGKILL to its group
    if it has not ended within ``within_s``; return its exit code."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=within_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return proc.returncode


class WorkerProcess:
    """``python -m hub worker`` (or another ``command``) in a subprocess, against the
    test's broker and registry."""

    def __init__(
        self,
        *,
        bootstrap: str,
        registry_url: str | None,
        prefix: str,
        state_dir: Path,
        extra_env: dict[str, str] | None = None,
        command: tuple[str, ...] = ("worker",),
    ) -> None:
        self.command = command
        self.log_path = state_dir / f"{'-'.join(command)}.log"
        self.env = worker_env(
            bootstrap=bootstrap,
            prefix=prefix,
            state_dir=state_dir,
            registry_url=registry_url,
            extra={"HUB_LOG_FORMAT": "json", **(extra_env or {})},
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub", *self.command],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """``kill -9``: no chance to commit, flush or say goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Broker(Protocol):
    bootstrap_servers: str


def worker_for(
    kafka: _Broker,
    registry_url: str,
    prefix: str,
    state_dir: Path,
    extra_env: dict[str, str] | None = None,
) -> WorkerProcess:
    """A worker against the test's broker, registry and topic prefix (not started)."""
    return WorkerProcess(
        bootstrap=kafka.bootstrap_servers,
        registry_url=registry_url,
        prefix=prefix,
        state_dir=state_dir,
        extra_env=extra_env,
    )


async def caught_up(pipeline: Pipeline, bootstrap: str, group: str, within_s: float = 60) -> None:
    """Wait until the group has read every partition of every topic a worker reads (one
    it has not committed on counts as unread), and stays so for half a second."""
    topics = pipeline.topics
    names = worker_inputs((spec.logical_name for spec in topics), topics.name)
    async with GroupLag(bootstrap, group, names) as lag:
        await lag.settle(quiet_s=0.5, limit_s=within_s)


async def hub_pipeline(kafka: _Broker, registry_url: str, prefix: str) -> Pipeline:
    """The pipeline a worker against the test's broker, registry and prefix builds (its
    codec, catalogue and topics), with the topics made."""
    settings = load_settings(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        schema_registry_url=registry_url,
        topic_prefix=prefix,
    )
    pipeline = make_pipeline(settings, registry_url)
    await ensure_topics(kafka.bootstrap_servers, pipeline.topics)
    return pipeline


def run_hub(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m hub ARGS`` as an operator runs it, with ``env`` added to ours."""
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


async def run_hub_async(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """:func:`run_hub` without blocking the test's event loop."""
    return await asyncio.to_thread(run_hub, env, *args)


async def produce(
    bootstrap: str,
    topic: str,
    records: list[tuple[bytes | None, bytes | None]],
    **client_options: Any,
) -> list[tuple[int, int]]:
    """Send records; return (partition, offset) of each."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **client_options)
    await producer.start()
    try:
        placed = []
        for key, value in records:
            meta = await producer.send_and_wait(topic, key=key, value=value)
            placed.append((meta.partition, meta.offset))
        return placed
    finally:
        await producer.stop()


async def collect(
    bootstrap: str,
    topics: list[str],
    *,
    until: Callable[[list[Collected]], bool],
    within_s: float = 90.0,
    codec: AvroCodec | None = None,
    decode_topics: tuple[str, ...] = (),
    client_options: dict[str, Any] | None = None,
) -> list[Collected]:
    """Read the topics from the beginning until ``until(records)`` holds.

    Raises AssertionError with what was seen when the time runs out.
    """
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
        **(client_options or {}),
    )
    await consumer.start()
    seen: list[Collected] = []
    deadline = time.monotonic() + within_s
    try:
        while not until(seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {within_s}s; saw {len(seen)} records: "
                    + "; ".join(
                        f"{r.topic}@{r.offset}: {r.decoded or r.headers}" for r in seen[-10:]
                    )
                )
            batch = await consumer.getmany(timeout_ms=int(min(remaining, 1.0) * 1000))
            for messages in batch.values():
                for m in messages:
                    item = Collected(
                        m.topic, m.partition, m.offset, m.key, m.value, headers_as_dict(m.headers)
                    )
                    if codec is not None and m.topic in decode_topics and m.value is not None:
                        item.decoded = await codec.decode_any(m.value)
                    seen.append(item)
        return seen
    finally:
        await consumer.stop()


def run_async(coro: Any, timeout: float = 180.0) -> Any:
    """Run a coroutine from a sync test (each call gets a fresh loop)."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@dataclass
class TaskView:
    """The latest decoded task per id, from records of hub.tasks."""

    latest: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, records: list[Collected], tasks_topic: str) -> TaskView:
        view = cls()
        for r in records:
            if r.topic == tasks_topic and r.decoded is not None:
                view.latest[r.decoded["task_id"]] = r.decoded
        return view


def task_states(records: list[Collected], topic: str) -> list[str]:
    """The states of the decoded records of ``topic`` (hub.tasks or hub.task-events), in
    the order read."""
    return [r.decoded["state"] for r in records if r.topic == topic and r.decoded]


class DfoBodyPublisher:
    """Publishes ``GET ansatte/v2/{id}`` bodies as the SDK's DFØ employee connector maps
    them: the record on source.dfo.employee, or a dead letter."""

    def __init__(self, connector: Any, publisher: Any) -> None:
        self.connector = connector
        self.publisher = publisher

    async def publish(self, body: bytes) -> str | None:
        """The employee number published, or None when the body was dead-lettered."""
        from connectors.sdk.items import Failed  # noqa: PLC0415

        item = self.connector.map_body(body, origin="dfo:ansatte")
        if isinstance(item, Failed):
            await self.publisher.dead_letter(item)
            return None
        published = await self.publisher.upsert(item, self.connector.key(item.record))
        return published.key  # type: ignore[no-any-return]


def dfo_connector(
    producer: AIOKafkaProducer, pipeline: Any, institution: str = "uio"
) -> DfoBodyPublisher:
    """The DFØ employee connector, publishing through ``producer`` with the pipeline's codec."""
    from connectors.dfo.connector import DfoEmployeeConnector  # noqa: PLC0415
    from connectors.dfo.settings import DfoSettings  # noqa: PLC0415
    from connectors.sdk.connector import load_connector_settings  # noqa: PLC0415
    from connectors.sdk.publisher import RecordPublisher  # noqa: PLC0415

    settings = load_connector_settings(
        DfoSettings,
        base_url="http://127.0.0.1:9/",
        institution=institution,
        pseudonym_secret=pipeline.secret,
    )
    connector = DfoEmployeeConnector(settings)
    publisher = RecordPublisher(
        connector=connector.name,
        topic=connector.topic,
        schema=connector.schema,
        producer=producer,
        codec=pipeline.codec,
        catalog=pipeline.catalog,
        topics=pipeline.topics,
    )
    return DfoBodyPublisher(connector, publisher)
