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
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.avro.codec import AvroCodec
from hub.deadletter import headers_as_dict

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


class WorkerProcess:
    """``python -m hub worker`` in a subprocess, against the test's broker and registry."""

    def __init__(
        self,
        *,
        bootstrap: str,
        registry_url: str | None,
        prefix: str,
        state_dir: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.log_path = state_dir / "worker.log"
        self.env = {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HUB_TOPIC_PREFIX": prefix,
            "HUB_STATE_DIR": str(state_dir),
            "HUB_WORKER_WEB_PORT": "0",
            "HUB_LOG_FORMAT": "json",
            **(
                {"HUB_SCHEMA_REGISTRY_URL": registry_url}
                if registry_url
                else {"HUB_WIRE_FORMAT": "single-object"}
            ),
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "worker"],
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

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def produce(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None]]
) -> list[tuple[int, int]]:
    """Send records; return (partition, offset) of each."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
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


def dfo_connector(producer: AIOKafkaProducer, pipeline: Any, institution: str = "uio") -> Any:
    """The DFØ connector, publishing through ``producer`` with the pipeline's codec."""
    from connectors.dfo.connector import DfoEmployeeConnector  # noqa: PLC0415

    return DfoEmployeeConnector(
        producer=producer,
        codec=pipeline.codec,
        catalog=pipeline.catalog,
        topics=pipeline.topics,
        institution=institution,
        secret=pipeline.secret,
    )
