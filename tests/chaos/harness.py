"""The chaos suite's harness: the load, the poison, a run's outcome and its accounting.

The load is ``bench.population``'s synthetic university (new hires who start in five
days, a quarter of them without an IAM account) on the source topics of a run's own
prefix, in the registry's wire format. Its size is ``HUB_CHAOS_PEOPLE`` (default 200,
about 600 records, for CI; ``HUB_CHAOS_PEOPLE=100000`` is the full size, by hand).

What a case is judged on (:func:`judge`):

- **the task set**: the open tasks (id, rule, subject, severity, owner, due date) equal
  a clean run's. A task that opens and resolves on the way (an employee read before
  the account that makes the finding go away) depends on the order in which the hub
  happens to read its source topics, so such tasks must only end resolved;
- **no duplicates**: one task per (institution, rule, subject), and one ticket per task
  in the fake RT, with every open task ticketed;
- **accounting**: every record on the person source topics is either processed (the
  route stage put it on ``hub.identity-input``: its source topic and source id are
  there, duplicates after a crash counted once) or on ``hub.deadletter`` (found by the
  source topic, partition and offset its headers carry), and never both; the poison
  is dead-lettered at the route stage with its error, the rest is processed.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from bench.population import PSEUDONYM_KEY, population
from bench.run import APP_ID, Encoded, drained, encode
from connectors.dfo.connector import DfoEmployeeConnector
from connectors.dfo.fake_server import hr_source, sample_employee
from connectors.sdk.errors import SourceUnavailableError
from connectors.testing.conformance import KitEnvironment, make_runtime, running, wait_until
from hub.avro.wire import single_object_frame
from hub.consumer_lag import read_lag
from hub.correlation.extract import PERSON_SOURCES
from hub.topic_tail import StartAt, TailedRecord, tail
from tests.conftest import KafkaEndpoint
from tests.test_ticket_crash_through_kafka import Run, ready, run_for

__all__ = [
    "FLAP_INSTITUTION",
    "PEOPLE",
    "WITHIN_S",
    "Expected",
    "chaos_run",
    "dfo_hires",
    "judge",
    "load",
    "people",
    "progress",
    "settle",
    "start",
    "with_poison",
]

PEOPLE = int(os.environ.get("HUB_CHAOS_PEOPLE", "200"))
# Deadlines on conditions, not timings: generous for a loaded 2-core machine (a case
# that passes there settles within 80 s; a known failure waits the whole deadline).
WITHIN_S = float(os.environ.get("HUB_CHAOS_WITHIN_S", str(max(150.0, PEOPLE * 0.05))))
WORKER_ENV = {
    "HUB_CLOCK": "event",  # a replay's clock: the same answer every time
    "HUB_PSEUDONYM_SECRET": PSEUDONYM_KEY,
}
OPEN_FIELDS = ("task_id", "rule_id", "institution", "subject", "severity", "owner_group")
TaskKey = tuple[Any, ...]


@dataclass(frozen=True)
class Expected:
    """A clean run's open tasks, by institution."""

    open_tasks: dict[str, frozenset[TaskKey]]

    def of(self, institution: str) -> frozenset[TaskKey]:
        return self.open_tasks.get(institution, frozenset())


def open_key(task: dict[str, Any]) -> TaskKey:
    return (*(task[f] for f in OPEN_FIELDS), str(task.get("due_date")))


async def chaos_run(kafka: KafkaEndpoint, registry_url: str, prefix: str, tmp: Path) -> Run:
    """A run's topics, pipeline and fake RT, its processes on the event clock."""
    return await run_for(kafka, registry_url, prefix, tmp, env=WORKER_ENV)


async def people(run: Run) -> list[Encoded]:
    """The load, in the run's wire format."""
    events = population(PEOPLE, start_in_days=5, without_account=0.25)
    return await encode(events, run.pipeline.codec)


async def load(run: Run, records: list[Encoded]) -> None:
    """Put records on the run's source topics."""
    producer = AIOKafkaProducer(
        bootstrap_servers=run.kafka.bootstrap_servers, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        topics = run.pipeline.topics
        sent = [
            await producer.send(topics.name(r.topic), key=r.key, value=r.value) for r in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


POISON_PREFIX = b"poison-"


def with_poison(records: list[Encoded], rate: float = 0.01) -> list[Encoded]:
    """The records with ``rate`` of them spoiled (at least one each way), each poison
    record sent after the good one it spoils. They cycle through the ways a record
    goes bad; each keeps its topic and gets a key of its own (``poison-N``)."""
    employee = next(r for r in records if r.topic == "source.dfo.employee")
    account = next(r for r in records if r.topic == "source.iam.account")
    huge_string = b"\x00" + struct.pack(">I", 1) + b"\x06uio" + b"\xfe\xff\xff\xff\x0f"
    spoilers: list[Callable[[Encoded], tuple[str, bytes | None]]] = [
        lambda r: (r.topic, r.value[: len(r.value) // 2]),  # truncated
        lambda r: ("source.dfo.employee", account.value),  # another record type
        lambda r: (r.topic, b"\x00\x7f\xff\xff\xf0" + r.value[5:]),  # unknown schema id
        lambda r: (r.topic, b'{"employee_id": "1", "institution": "uio"}'),  # JSON
        lambda r: (r.topic, b""),  # empty
        lambda r: (r.topic, None),  # a tombstone that names no deletion
        lambda r: (r.topic, huge_string),  # claims a string of 2 GB
        lambda r: (r.topic, single_object_frame(b"\x00" * 8, r.value[5:])),  # other framing
        lambda r: ("source.iam.account", employee.value),  # another record type
        lambda r: (r.topic, r.value[:5] + b"\xff" * 40),  # garbage body
    ]
    count = max(len(spoilers), round(len(records) * rate))  # each way at least once
    step = len(records) // count
    mixed: list[Encoded] = []
    for n, record in enumerate(records):
        mixed.append(record)
        if n % step == 0 and n // step < count:
            topic, value = spoilers[(n // step) % len(spoilers)](record)
            key = POISON_PREFIX + str(n // step).encode()
            mixed.append(Encoded(topic, key, value))  # type: ignore[arg-type]
    return mixed


async def start(run: Run, *, sink: bool = True) -> None:
    """A worker (ready) and, with ``sink``, the ticket sink."""
    await ready(run, run.process("worker"))
    if sink:
        run.process("tickets", "run")


def _source_names(run: Run) -> dict[str, str]:
    return {run.pipeline.topics.name(t): t for t in PERSON_SOURCES}


async def _drained(run: Run, group: str) -> bool:
    """Whether the group has read everything; not yet while the broker cannot say (it
    is loading its groups after a restart)."""
    try:
        return await drained(run.kafka.bootstrap_servers, group, run.pipeline.topics)
    except KafkaError:
        return False


async def progress(run: Run) -> float:
    """The share of the source records the workers' group has committed."""
    group = run.prefix + APP_ID
    names = _source_names(run)
    rows = [
        r
        for r in await read_lag(run.kafka.bootstrap_servers, group)
        if r.group == group and r.topic in names
    ]
    done = sum(r.committed or 0 for r in rows)
    total = sum(r.end for r in rows)
    return done / total if total else 0.0


async def _read(run: Run, topic: str) -> list[TailedRecord]:
    return [
        r
        async for r in tail(
            run.kafka.bootstrap_servers,
            topic,
            run.pipeline.codec,
            start=StartAt("beginning"),
            follow=False,
        )
    ]


def _record_of(value: Any) -> dict[str, Any] | None:
    record = value.get("record") if isinstance(value, dict) else None
    return record[1] if isinstance(record, tuple) else record


@dataclass
class Outcome:
    """What a run ended with."""

    tasks: dict[str, dict[str, Any]]
    tickets: list[tuple[str, str]]
    inputs: list[TailedRecord]  # every record on the person source topics
    processed: set[tuple[str, str]]  # (logical source topic, source id) routed
    routed: int  # records on hub.identity-input, duplicates included
    dead: dict[tuple[str, int, int], dict[str, str]]  # dead letters by source position
    problems: list[str] = field(default_factory=list)

    def open_tasks(self, institution: str) -> frozenset[TaskKey]:
        return frozenset(
            open_key(t)
            for t in self.tasks.values()
            if t["state"] == "OPEN" and t["institution"] == institution
        )


async def outcome(run: Run) -> Outcome:
    names = _source_names(run)
    topics = run.pipeline.topics
    inputs = [r for name in names for r in await _read(run, name)]
    routed = await _read(run, topics.name("hub.identity-input"))
    processed = set()
    for r in routed:
        record = _record_of(r.value)
        if record is not None:
            processed.add((r.value["source_topic"], record["source_id"]))
    dead = {}
    for r in await _read(run, topics.name("hub.deadletter")):
        h = r.headers
        position = (h.get("hub.source.topic", ""), h.get("hub.source.partition", ""))
        if position[0] in names and position[1].isdigit():
            dead[(position[0], int(position[1]), int(h["hub.source.offset"]))] = dict(h)
    return Outcome(
        tasks=await run.tasks(),
        tickets=[(v.task_id or "", v.status) for v in run.fake.views()],
        inputs=inputs,
        processed=processed,
        routed=len(routed),
        dead=dead,
    )


def is_poison(record: TailedRecord) -> bool:
    return (record.key or b"").startswith(POISON_PREFIX)


def judge(
    run: Run, got: Outcome, expected: frozenset[TaskKey] | None, institution: str = "uio"
) -> list[str]:
    """What is wrong with the outcome (nothing: an empty list); ``expected`` None (the
    clean run) leaves out the comparison of the task set."""
    return _task_problems(run, got, expected, institution) + _accounting_problems(run, got)


def _task_problems(
    run: Run, got: Outcome, expected: frozenset[TaskKey] | None, institution: str
) -> list[str]:
    wrong: list[str] = []
    opened = got.open_tasks(institution)
    if expected is not None and opened != expected:
        more, missing = sorted(opened - expected), sorted(expected - opened)
        wrong.append(
            f"open tasks differ from the clean run's: {len(more)} more,"
            f" e.g. {_as_found(got, more[:3])}; {len(missing)} missing,"
            f" e.g. {_as_found(got, missing[:3])}"
        )
    others = [
        t["task_id"]
        for t in got.tasks.values()
        if t["institution"] == institution and t["state"] not in ("OPEN", "RESOLVED")
    ]
    if others:
        wrong.append(f"tasks neither open nor resolved: {others[:5]}")
    findings = Counter((t["institution"], t["rule_id"], t["subject"]) for t in got.tasks.values())
    twice = [f for f, n in findings.items() if n > 1]
    if twice:
        wrong.append(f"more than one task for a finding: {twice[:5]}")
    per_task = Counter(task_id for task_id, _ in got.tickets)
    twice = [t for t, n in per_task.items() if n > 1]
    if twice:
        wrong.append(f"more than one ticket for a task: {twice[:5]}")
    if any(p.command == ("tickets", "run") for p in run.procs):
        unticketed = {t[0] for t in opened} - set(per_task)
        if unticketed:
            wrong.append(f"{len(unticketed)} open tasks without a ticket")
    return wrong


def _as_found(got: Outcome, keys: list[TaskKey]) -> list[str]:
    """The tasks of ``keys`` as this run has them (state, revision, due date), or absent."""
    by_id = {t["task_id"]: t for t in got.tasks.values()}
    found = []
    for key in keys:
        task = by_id.get(key[0])
        if task is None:
            found.append(f"{key}: no such task")
        else:
            found.append(
                f"{key[:2]} {key[3]}: {task['state']} rev {task.get('revision')}"
                f" due {task.get('due_date')}"
            )
    return found


def _accounting_problems(run: Run, got: Outcome) -> list[str]:
    names = _source_names(run)
    found: dict[str, list[Any]] = {
        "input records neither processed nor dead-lettered": [],
        "good records dead-lettered": [],
        "poison records not dead-lettered": [],
        "poison records dead-lettered without the route stage and an error": [],
        "records both processed and dead-lettered": [],
    }
    lost, good_dead, poison_kept, unexplained, both = found.values()
    for r in got.inputs:
        position = (r.topic, r.partition, r.offset)
        record = r.value if isinstance(r.value, dict) else {}
        routed = (names[r.topic], record.get("source_id")) in got.processed
        dead = got.dead.get(position)
        if is_poison(r):
            if dead is None:
                poison_kept.append(position)
            elif dead.get("hub.stage") != "route" or not dead.get("hub.error"):
                unexplained.append(dead)
        elif dead is not None:
            (both if routed else good_dead).append((position, dead.get("hub.error")))
        elif not routed:
            lost.append(position)
    return [f"{len(v)} {what}: {v[:3]}" for what, v in found.items() if v]


async def settle(
    run: Run,
    expected: frozenset[TaskKey] | None,
    *,
    institution: str = "uio",
    within_s: float = WITHIN_S,
    also: Callable[[], Awaitable[bool]] | None = None,
) -> Outcome:
    """Wait until the workers' group has read everything and the outcome is right (or
    the deadline passes); return the outcome, judged (``problems``)."""
    group = run.prefix + APP_ID
    deadline = time.monotonic() + within_s
    while True:
        if await _drained(run, group) and (also is None or await also()):
            got = await outcome(run)
            got.problems = judge(run, got, expected, institution)
            if not got.problems:
                return got
        if time.monotonic() > deadline:
            got = await outcome(run)
            got.problems = judge(run, got, expected, institution)
            got.problems.append(f"not settled within {within_s:.0f}s\n{run.logs()}")
            return got
        await asyncio.sleep(1.0)


# -- a source that flaps --------------------------------------------------------------

FLAP_HIRES = int(os.environ.get("HUB_CHAOS_FLAP_HIRES", "20"))
FLAP_INSTITUTION = "uit"  # the DFØ hires' tasks are told apart from the load's by it (RT too)


async def dfo_hires(run: Run, rabbitmq: str, *, flapping: bool) -> list[str]:
    """``FLAP_HIRES`` new hires (no account, starting in five days) through the DFØ
    employee connector's SDK runtime and the fake DFØ: each notified on the feed, then
    a full reconciliation. With ``flapping`` the fake answers every second request with
    a 503 or a timeout, throughout. Returns the employee numbers."""
    env = KitEnvironment(
        run.kafka.bootstrap_servers, run.pipeline.topics, run.pipeline.catalog, run.pipeline.codec
    )
    start_date = date.today() + timedelta(days=5)
    async with hr_source(
        DfoEmployeeConnector, rabbitmq, run.prefix, institution=FLAP_INSTITUTION
    ) as source:
        runtime = make_runtime(
            DfoEmployeeConnector,
            env,
            source.settings,
            request_timeout_s=0.5,
            pseudonym_secret=PSEUDONYM_KEY,
        )
        if flapping:
            source.fake.faults.flap(good=1, timeout_s=1.0)
        numbers = [str(7_000_000 + n) for n in range(FLAP_HIRES)]
        async with runtime, running(runtime):
            for number in numbers:
                key = source.fake.put("ansatt", sample_employee(number, start=start_date))
                await source.fake.notify("ansatt", key)
            await wait_until(
                lambda: runtime.health.emitted >= FLAP_HIRES,
                within_s=WITHIN_S,
                what="every hire published",
                runtime=runtime,
            )
            for _ in range(20):  # a listing of several pages meets the faults too
                try:
                    await runtime.reconcile()
                    break
                except SourceUnavailableError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("no full reconciliation got through the flapping source")
        if flapping:
            assert source.fake.faults.injected > 0, "the source never flapped"
    return numbers
