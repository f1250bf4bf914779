"""``make bench``: the hub against a raw aiokafka passthrough, on one broker, in one run.

Every figure is measured here and now, on this machine, against a baseline measured
in the same run (machines are noisy; ratios travel better than rates):

- **throughput**: the initial load of a population (already on the source topics)
  through the whole pipeline (route, correlation, rules, tasks) by one worker, against
  a raw consume→produce passthrough of the same records; ``throughput_ratio_vs_raw``;
- **latency**: source record to task at a steady rate (new hires without accounts,
  each of which opens a task): ``latency_p50_ms``, ``latency_p99_ms``;
- **memory**: the worker's peak RSS, per 100,000 people: ``rss_mb_per_100k``;
- **scale-out**: the same load with 2 workers against 1 on 4 partitions, and again
  with the population spread over the four universities (correlation is keyed by
  institution, so one institution's records are correlated by one worker);
- **growth**: time and peak RSS at several population sizes;
- **CPU per event**: the worker's and the passthrough's CPU time per record (other
  processes on the machine disturb it less than the wall clock), and the hub's own
  logic without Kafka or faust (:mod:`bench.in_process`).

The results go to ``bench/results/latest.json`` and ``bench/results/latest.md``.
Workers use single-object Avro (no registry) and the event clock, as a replay does.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.in_process import in_process
from bench.population import PSEUDONYM_KEY, SourceEvent, population
from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import AvroCodec, SingleObjectCodec
from hub.consumer_lag import GroupLag, worker_inputs
from hub.embedded.kafka import LocalKafka
from hub.rules.settings import INSTITUTIONS
from hub.settings import HubSettings
from hub.topics import TopicCatalog, ensure_topics
from hub.worker_process import worker_command, worker_env

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
APP_ID = "university-hub"
_SCHEMAS = {
    "source.dfo.employee": "no.bott.hub.dfo.Employee",
    "source.dfo.position": "no.bott.hub.dfo.Position",
    "source.iam.account": "no.bott.hub.iam.Account",
}


@dataclass(frozen=True)
class Encoded:
    """A source record ready to send: catalogue topic, key and Avro bytes."""

    topic: str
    key: bytes
    value: bytes


async def encode(events: Iterable[SourceEvent], codec: AvroCodec | None = None) -> list[Encoded]:
    """The events in Avro: single-object encoding, or ``codec``'s wire format."""
    codec = codec or SingleObjectCodec(SchemaCatalog())
    catalog = codec.catalog
    encoded = []
    for event in events:
        schema = catalog[_SCHEMAS[event.topic]]
        record = {
            **{f["name"]: f["default"] for f in schema.plain["fields"] if "default" in f},
            **event.record,
        }
        value = await codec.encode(event.topic, schema, record)
        encoded.append(Encoded(event.topic, event.key.encode(), value))
    return encoded


async def load(bootstrap: str, topics: TopicCatalog, records: list[Encoded]) -> None:
    """Put the records on the source topics (the initial load, before timing)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        pending = []
        for record in records:
            pending.append(
                await producer.send(topics.name(record.topic), key=record.key, value=record.value)
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def raw_passthrough(bootstrap: str, topics: TopicCatalog, count: int) -> tuple[float, float]:
    """Seconds, and CPU seconds of this process, for a plain aiokafka
    consumer→producer to copy ``count`` records."""
    sources = [topics.name(t) for t in _SCHEMAS]
    sink = topics.name("hub.identity-input")
    consumer = AIOKafkaConsumer(
        *sources,
        bootstrap_servers=bootstrap,
        group_id=topics.prefix + "raw-passthrough",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=1000,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    await consumer.start()
    copied = 0
    started: float | None = None
    cpu_started = 0.0
    try:
        while copied < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            if started is None and batch:
                started, cpu_started = time.perf_counter(), time.process_time()
            sent = [
                await producer.send(sink, key=m.key, value=m.value)
                for messages in batch.values()
                for m in messages
            ]
            await asyncio.gather(*sent)
            if sent:
                await consumer.commit()
            copied += len(sent)
        return (
            time.perf_counter() - (started or time.perf_counter()),
            time.process_time() - cpu_started,
        )
    finally:
        await consumer.stop()
        await producer.stop()


# A benchmark opens many tasks at once on purpose: the failsafe would hold them.
_INSTITUTIONS = "defaults:\n  failsafe:\n    enabled: false\n"


class Worker:
    """``python -m hub worker`` in a process of its own."""

    def __init__(self, bootstrap: str, prefix: str, state_dir: Path, store: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = state_dir / "worker.log"
        institutions = state_dir / "institutions.yaml"
        institutions.write_text(_INSTITUTIONS)
        env = worker_env(
            bootstrap=bootstrap,
            prefix=prefix,
            state_dir=state_dir,
            extra={
                "HUB_CLOCK": "event",
                "HUB_PSEUDONYM_SECRET": PSEUDONYM_KEY,
                "HUB_LOG_LEVEL": "WARNING",
                "HUB_INSTITUTIONS_FILE": str(institutions),
                "HUB_TABLE_STORE": store,
            },
        )
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                worker_command(),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User and system CPU time the worker has used (``/proc/PID/stat``)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


async def _until(condition: Any, within_s: float, what: str) -> None:
    """Wait until ``condition()`` (a bool, or an awaitable of one) holds."""
    deadline = time.monotonic() + within_s
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.25)


async def members(bootstrap: str, prefix: str, wanted: int) -> bool:
    """Whether the workers' group is stable with ``wanted`` members (they are reading)."""
    from aiokafka.admin import AIOKafkaAdminClient  # noqa: PLC0415
    from aiokafka.errors import GroupCoordinatorNotAvailableError  # noqa: PLC0415

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        try:
            described = await admin.describe_consumer_groups([prefix + APP_ID])
        except GroupCoordinatorNotAvailableError:  # a new broker: no group yet
            return False
        for response in described:
            for group in response.groups:
                if group[2] == "Stable" and len(group[5]) == wanted:
                    return True
        return False
    finally:
        await admin.close()


async def drained(bootstrap: str, group: str, topics: TopicCatalog) -> bool:
    """Whether the workers' group has read every record on every topic a worker reads
    (a partition it has not committed on counts as unread)."""
    names = worker_inputs((spec.logical_name for spec in topics), topics.name)
    async with GroupLag(bootstrap, group, names) as lag:
        return await lag.total() == 0


async def pipeline(
    bootstrap: str, prefix: str, records: list[Encoded], workers: int, scratch: Path, *, store: str
) -> dict[str, float]:
    """Seconds for ``workers`` hub workers to take the loaded records all the way
    through (the group's lag zero everywhere), and their peak RSS."""
    topics = TopicCatalog(prefix=prefix)
    await ensure_topics(bootstrap, topics)
    await load(bootstrap, topics, records)
    running = [Worker(bootstrap, prefix, scratch / f"{prefix}w{i}", store) for i in range(workers)]
    try:
        await _until(lambda: members(bootstrap, prefix, workers), 180, "workers ready")
        started = time.perf_counter()
        cpu_started = sum(w.cpu_seconds() for w in running)

        # 50 records a second at the least (a worker does about 300): a 300,000-person
        # load (900,000 records) took more than the hour once allowed for every size
        await _until(
            lambda: drained(bootstrap, prefix + APP_ID, topics),
            max(3600, len(records) / 50),
            f"the pipeline drained ({len(records)} records, {workers} worker(s))",
        )
        elapsed = time.perf_counter() - started
        cpu = sum(w.cpu_seconds() for w in running) - cpu_started
        rss = max(w.peak_rss_mb() for w in running)
    finally:
        for worker in running:
            worker.stop()
    measured = {
        "seconds": elapsed,
        "events_per_s": len(records) / elapsed,
        "cpu_ms_per_event": cpu * 1000 / len(records),
        "peak_rss_mb": rss,
    }
    _progress(prefix, {"events": len(records), "workers": workers, **measured})
    return measured


def _progress(what: str, figures: dict[str, Any]) -> None:
    """Each run's figures as they come (stderr), so that a run that fails later still
    tells what it measured."""
    print(f"{what} {json.dumps(figures)}", file=sys.stderr, flush=True)


async def latency(
    bootstrap: str, prefix: str, rate: int, seconds: int, scratch: Path, *, store: str
) -> dict[str, float]:
    """Source record to task, for new hires' records sent at a steady ``rate`` per
    second for ``seconds`` (two records per hire: the employee and the position)."""
    people = max(rate * seconds // 2, 1)
    records = await encode(
        population(people, first=5_000_000, without_account=1.0, start_in_days=3)
    )
    topics = TopicCatalog(prefix=prefix)
    await ensure_topics(bootstrap, topics)
    worker = Worker(bootstrap, prefix, scratch / f"{prefix}w", store)
    sent_at: dict[str, float] = {}
    opened_at: dict[str, float] = {}
    try:
        await _until(lambda: members(bootstrap, prefix, 1), 180, "worker ready")
        consumer = AIOKafkaConsumer(
            topics.name("hub.tasks"),
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0)
        await producer.start()
        codec = SingleObjectCodec(SchemaCatalog())

        async def collect() -> None:
            while len(opened_at) < people:
                batch = await consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    for message in messages:
                        task = await codec.decode_any(message.value)
                        number = (task.get("display_name") or "").split(" ")[0]
                        opened_at.setdefault(number.removeprefix("Person"), message.timestamp)

        collector = asyncio.create_task(collect())
        start = time.perf_counter()
        for index, record in enumerate(records):
            due = start + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            sent_at[record.key.decode()] = time.time() * 1000
            await producer.send(topics.name(record.topic), key=record.key, value=record.value)
        await producer.flush()
        await asyncio.wait_for(collector, timeout=600)
        await producer.stop()
        await consumer.stop()
    finally:
        worker.stop()
    delays = sorted(opened_at[k] - sent_at[k] for k in sent_at if k in opened_at)
    # 99% of the tasks over the time from the first record sent to the task that made
    # it 99%: below the rate asked for, the worker fell behind (the slowest 1% would
    # let one straggler stand for the whole run)
    done = sorted(opened_at.values())[int(len(delays) * 0.99) - 1]
    steady = {
        "events": len(records),
        "people": people,
        "rate_per_s": rate,
        "latency_p50_ms": statistics.median(delays),
        "latency_p99_ms": delays[int(len(delays) * 0.99) - 1],
        "latency_max_ms": delays[-1],
        "kept_up_events_per_s": len(records) * 0.99 / ((done - min(sent_at.values())) / 1000),
    }
    _progress(prefix, steady)
    return steady


async def run(
    people: int, growth: list[int], rates: list[int], rate_seconds: int, store: str = "memory://"
) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    broker = LocalKafka(scratch / "kafka", HubSettings().cache_dir, port=0, heap_mb=1024)
    info = broker.start_broker()
    bootstrap = info.bootstrap_servers
    try:
        records = await encode(population(people))
        raw_topics = TopicCatalog(prefix="raw.")
        await ensure_topics(bootstrap, raw_topics)
        await load(bootstrap, raw_topics, records)
        raw_s, raw_cpu_s = await raw_passthrough(bootstrap, raw_topics, len(records))
        logic = await in_process(records)
        one = await pipeline(bootstrap, "one.", records, 1, scratch, store=store)
        two = await pipeline(bootstrap, "two.", records, 2, scratch, store=store)
        spread = await encode(population(people, first=20_000_000, institutions=INSTITUTIONS))
        one_spread = await pipeline(bootstrap, "one4.", spread, 1, scratch, store=store)
        two_spread = await pipeline(bootstrap, "two4.", spread, 2, scratch, store=store)
        steady = [
            await latency(bootstrap, f"lat{rate}.", rate, rate_seconds, scratch, store=store)
            for rate in rates
        ]
        sizes = []
        for size in growth:
            grown = await encode(population(size, first=10_000_000))
            measured = await pipeline(bootstrap, f"g{size}.", grown, 1, scratch, store=store)
            sizes.append({"people": size, "events": len(grown), **measured})
    finally:
        broker.stop()
    raw_rate = len(records) / raw_s
    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "kafka": info.version,
        },
        "people": people,
        "events": len(records),
        "table_store": store,
        "raw_events_per_s": raw_rate,
        "pipeline_events_per_s": one["events_per_s"],
        "throughput_ratio_vs_raw": one["events_per_s"] / raw_rate,
        # CPU per event is less at the mercy of other processes than the wall clock.
        "raw_cpu_ms_per_event": raw_cpu_s * 1000 / len(records),
        "pipeline_cpu_ms_per_event": one["cpu_ms_per_event"],
        "cpu_ratio_vs_raw": raw_cpu_s * 1000 / len(records) / one["cpu_ms_per_event"],
        # The hub's own logic without Kafka or faust, for what the stream machinery adds.
        "in_process": logic,
        # the first rate asked for (the target's, 1,000/s); every rate's run in "latency"
        "latency_p50_ms": steady[0]["latency_p50_ms"],
        "latency_p99_ms": steady[0]["latency_p99_ms"],
        "latency_rate_per_s": steady[0]["rate_per_s"],
        "latency": steady,
        "rss_mb_per_100k": rss_per_100k(sizes) or one["peak_rss_mb"] * 100_000 / people,
        "worker_peak_rss_mb": one["peak_rss_mb"],
        "scaleout_ratio_2_workers": two["events_per_s"] / one["events_per_s"],
        # the same, the population spread over the four universities
        "scaleout_ratio_2_workers_4_institutions": (
            two_spread["events_per_s"] / one_spread["events_per_s"]
        ),
        "scaleout_4_institutions_events_per_s": {
            "1": one_spread["events_per_s"],
            "2": two_spread["events_per_s"],
        },
        "growth": sizes,
    }


def rss_per_100k(sizes: list[dict[str, Any]]) -> float | None:
    """A worker's peak RSS for 100,000 people, from a straight line through the growth
    runs (the fixed cost of the process is the intercept, not scaled with people)."""
    if len(sizes) < 2:
        return None
    people = [float(g["people"]) for g in sizes]
    rss = [float(g["peak_rss_mb"]) for g in sizes]
    slope, intercept = statistics.linear_regression(people, rss)
    return slope * 100_000 + intercept


def report(results: dict[str, Any]) -> str:
    """The markdown summary of a run."""
    logic = results["in_process"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {results['measured_at']} on {results['machine']['cpus']} CPUs,"
        f" Python {results['machine']['python']}, Kafka {results['machine']['kafka']};"
        f" table store {results.get('table_store', 'memory://')}.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| raw passthrough | {results['raw_events_per_s']:.0f} events/s | baseline |",
        f"| pipeline, 1 worker | {results['pipeline_events_per_s']:.0f} events/s | |",
        f"| `throughput_ratio_vs_raw` | {results['throughput_ratio_vs_raw']:.3f} | ≥ 0.5 |",
        f"| CPU per event, raw / pipeline | {results['raw_cpu_ms_per_event']:.3f} ms /"
        f" {results['pipeline_cpu_ms_per_event']:.3f} ms | |",
        f"| `cpu_ratio_vs_raw` | {results['cpu_ratio_vs_raw']:.3f} | |",
        f"| the hub's logic alone (route {logic['route_cpu_ms_per_event']:.2f}, correlate"
        f" {logic['correlate_cpu_ms_per_event']:.2f}, evaluate"
        f" {logic['evaluate_cpu_ms_per_event']:.2f}) | {logic['cpu_ms_per_event']:.3f} ms"
        f" CPU per event, {logic['events_per_cpu_s']:.0f} events per CPU second | |",
        *(
            f"| `latency_p50_ms` / `latency_p99_ms` / max at {run['rate_per_s']}/s (the worker"
            f" kept up with {run['kept_up_events_per_s']:.0f}/s) | {run['latency_p50_ms']:.0f} /"
            f" {run['latency_p99_ms']:.0f} / {run['latency_max_ms']:.0f} | p99 < 500 at 1000/s |"
            for run in results["latency"]
        ),
        f"| `rss_mb_per_100k` | {results['rss_mb_per_100k']:.0f} | < 1000 |",
        f"| `scaleout_ratio_2_workers` | {results['scaleout_ratio_2_workers']:.2f} | |",
        "| `scaleout_ratio_2_workers_4_institutions` (the population spread over the four"
        f" universities) | {results['scaleout_ratio_2_workers_4_institutions']:.2f} | |",
        "",
        "| people | events | seconds | events/s | CPU ms/event | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {g['people']} | {g['events']} | {g['seconds']:.1f} | {g['events_per_s']:.0f}"
        f" | {g['cpu_ms_per_event']:.2f} | {g['peak_rss_mb']:.0f} |"
        for g in results["growth"]
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The defaults fit today's worker on 2 cores in a few minutes; docs/benchmarks.md
    # gives the full-size arguments.
    parser.add_argument("--people", type=int, default=1_000, help="population for throughput")
    parser.add_argument(
        "--growth", type=int, nargs="*", default=[300, 1_000], help="sizes for growth"
    )
    parser.add_argument(
        "--rate",
        type=int,
        nargs="+",
        default=[100],
        help="events/s for the latency runs, one run each; the first gives latency_p99_ms",
    )
    parser.add_argument("--rate-seconds", type=int, default=5, help="length of the latency run")
    parser.add_argument(
        "--store",
        default="memory://",
        help="the workers' table store (HUB_TABLE_STORE), e.g. rocksdb:// with the rocksdb extra",
    )
    parser.add_argument(
        "--name",
        default="latest",
        help="write bench/results/NAME.json and NAME.md (e.g. rocksdb for a --store run)",
    )
    args = parser.parse_args()
    results = asyncio.run(run(args.people, args.growth, args.rate, args.rate_seconds, args.store))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(report(results))
    sys.stdout.write(report(results))


if __name__ == "__main__":
    main()
