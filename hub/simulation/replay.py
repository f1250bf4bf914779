"""``hub scenario run``: a scenario through the fake sources, connectors, Kafka and hub.

Each event goes into its source's fake (its in-memory store, served over HTTP) and
reaches Kafka the way that source's connectors in :mod:`connectors.catalog` bring it
(:mod:`hub.simulation.sources` says which, per source): a connector that follows the
source's notifications gets the notifications the fake queued, handed to its own
handler; a polled connector asks the fake what changed since its cursor. Either way the
connector fetches and maps the object itself and its
:class:`~connectors.sdk.ConnectorRuntime` publishes it (tombstones included).

The connectors and the fakes run on the event clock: a record's ``source_timestamp``
is its event's ``at``, and the hub worker runs on the event-time clock
(``HUB_CLOCK=event``), so three months replay as fast as the machine allows and give
the same tasks every time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from connectors import fake_http
from connectors.api_source import ApiSourceConnector
from connectors.catalog import connector_class
from connectors.dfo.connector import DfoConnector
from connectors.sdk import ConnectorRuntime, load_connector_settings
from connectors.sdk.amqp import Notification
from connectors.sdk.connector import Connector
from connectors.sdk.items import Item
from hub.clock import business_date
from hub.compacted import latest_by_key
from hub.consumer_lag import WORKER_INPUTS, GroupLag, Progress
from hub.errors import HubError
from hub.kafka_security import kafka_client_options
from hub.pipeline import Pipeline
from hub.reference import REFERENCE_SOURCES
from hub.settings import HubSettings
from hub.simulation.scenario_file import Event, Scenario
from hub.simulation.sources import SOURCE_TABLE, ServedFake, SourceSpec
from hub.topics import ensure_topics
from hub.worker_process import start_worker, worker_env

__all__ = ["ReplayReport", "collect_tasks", "replay", "start_replay_worker"]

Checkpoint = Callable[[datetime], Awaitable[bool]]


@dataclass
class ReplayReport:
    """What a replay sent, by which path, and how fast."""

    events: Counter[str] = field(default_factory=Counter)
    paths: dict[str, str] = field(default_factory=dict)
    seconds_sending: float = 0.0
    seconds_settling: float = 0.0
    barriers: int = 0
    seconds_at_barriers: float = 0.0  # part of seconds_sending: waiting for the worker

    @property
    def total(self) -> int:
        return sum(self.events.values())


class EventClock:
    """The replay's time: the ``at`` of the event in hand (the connectors' and fakes'
    clock)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        if self.at is None:
            raise HubError("the replay's clock is read before its first event")
        return self.at


async def _acknowledged() -> None:
    """The feed's acknowledgement: nothing to do without a broker in between."""


async def _on_notifications(
    connector: Connector[Any], batch: Sequence[fake_http.Notification]
) -> list[Item]:
    """What a feed connector makes of a batch of its source's notifications, through its
    own handler (as if they came over AMQP)."""
    if isinstance(connector, DfoConnector):
        return [item for n in batch for item in await connector.on_message(n.body)]
    if not isinstance(connector, ApiSourceConnector):
        raise HubError(f"{connector.name} follows no notification feed")
    messages = [
        Notification(n.body, n.routing_key, n.content_type, False, _acknowledged) for n in batch
    ]
    return list(await connector.on_batch(messages))


class _EventTimedProducer:
    """The replay's producer as the connectors see it.

    - A tombstone is stamped with the event clock. The hub dates a source deletion by
      its Kafka timestamp (a tombstone has no record to carry a ``source_timestamp``),
      so a wall-clock stamp would move a worker on the event clock to today's date and
      fire every rule due before it.
    - ``send_and_wait`` does not wait: the connectors' runtimes wait for each record and
      checkpoint (a restarted connector must not skip one), which a replay, restarted
      from its file, need not do. One producer keeps each partition's order; the replay
      waits for everything sent (:meth:`delivered`) at each day's barrier."""

    def __init__(self, producer: AIOKafkaProducer, clock: EventClock) -> None:
        self.producer, self.clock = producer, clock
        self.pending: list[Any] = []

    async def send_and_wait(self, topic: str, **kwargs: Any) -> None:
        if kwargs.get("value") is None and kwargs.get("timestamp_ms") is None:
            kwargs["timestamp_ms"] = int(self.clock().timestamp() * 1000)
        self.pending.append(await self.producer.send(topic, **kwargs))

    async def delivered(self) -> None:
        """Wait for every record sent so far; a failed delivery raises."""
        pending, self.pending = self.pending, []
        await asyncio.gather(*pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)


@dataclass
class _Source:
    """One source in the replay: its served fake and its connectors' runtimes."""

    spec: SourceSpec
    fake: ServedFake
    runtimes: dict[str, ConnectorRuntime]

    async def send(self, event: Event) -> None:
        """Apply the event to the fake, then let the connectors bring what changed."""
        await self.spec.kinds[event.kind].apply(self.fake.store, event)
        await self.follow()
        if event.delete and self.spec.deletions_by_reconciliation:
            for name in self.spec.polled:
                await self.runtimes[name].reconcile()

    async def follow(self) -> None:
        batch = self.fake.take()
        for name in self.spec.feed if batch else ():
            runtime = self.runtimes[name]
            for item in await _on_notifications(runtime.connector, batch):
                await runtime.deliver(item)
        for name in self.spec.polled:
            runtime = self.runtimes[name]
            async for item in runtime.connector.changes(runtime.state.cursor):
                await runtime.deliver(item)

    async def wake(self) -> None:
        """Feed connectors that scheduled work for a time now passed (Cerebrum's ``nbf``)
        are woken as their feed would wake them."""
        for name in self.spec.feed:
            runtime = self.runtimes[name]
            connector = runtime.connector
            if isinstance(connector, ApiSourceConnector) and connector.wake_in() == 0:
                for item in await _on_notifications(connector, []):
                    await runtime.deliver(item)

    async def stop(self) -> None:
        for runtime in self.runtimes.values():
            await runtime.close()
        await self.fake.close()


async def _start_source(
    name: str,
    *,
    clock: EventClock,
    pipeline: Pipeline,
    bootstrap: str,
    producer: Any,
    institution: str,
) -> _Source:
    spec = SOURCE_TABLE[name]
    fake = await spec.serve(clock, institution)
    source = _Source(spec, fake, {})
    try:
        for connector_name in spec.connectors:
            cls = connector_class(connector_name)
            settings = load_connector_settings(
                cls.settings_model,
                **{
                    "institution": institution,
                    "pseudonym_secret": pipeline.secret,
                    "reconcile_interval_s": None,
                    **fake.settings,
                },
            )
            connector = cls(settings)
            connector.clock = clock
            runtime = ConnectorRuntime(
                connector,
                bootstrap=bootstrap,
                codec=pipeline.codec,
                catalog=pipeline.catalog,
                topics=pipeline.topics,
                producer=producer,
                today=lambda: business_date(clock()),
            )
            source.runtimes[connector_name] = runtime
            await runtime.start()
    except BaseException:
        await source.stop()
        raise
    return source


def _barrier_window(scenario: Scenario) -> timedelta | None:
    minutes = scenario.meta.get("barrier_minutes")
    if minutes is None:
        return None
    if not isinstance(minutes, int | float) or isinstance(minutes, bool) or minutes <= 0:
        raise HubError(f"meta barrier_minutes must be a positive number, not {minutes!r}")
    return timedelta(minutes=minutes)


def _worker_inputs(pipeline: Pipeline) -> list[str]:
    names = [pipeline.topics.name(t) for t in (*WORKER_INPUTS, *REFERENCE_SOURCES)]
    return sorted({*pipeline.source_topic_names, *names})


async def replay(
    scenario: Scenario,
    pipeline: Pipeline,
    settings: HubSettings,
    bootstrap: str,
    *,
    progress: Progress | None = None,
    settling: Progress | None = None,
    checkpoint: Checkpoint | None = None,
    settle_limit_s: float = 600.0,
) -> ReplayReport:
    """Send every event of ``scenario`` through its source's fake and connectors to
    Kafka, in time order, and wait until the worker has processed them.

    At the end of each simulated day with events the replay waits until the worker has
    read everything (a barrier): the worker reads its partitions at its own pace, and a
    later day's records must not overtake an earlier day's. With ``barrier_minutes`` in
    the scenario's meta there is a barrier also before an event that many minutes after
    the first since the last barrier: the worker's event clock is the newest event time
    it has read, so within a window it can run ahead of records still unread on another
    topic by up to the window, which must stay below the rules' grace periods for
    scenarios whose records of one person arrive from several topics within a day.
    After each barrier, ``checkpoint(moment)`` (the next event's time) may act as an
    operator would; when it says it sent something, the replay waits for the worker
    again. ``settling`` hears the worker catch up at the end."""
    await ensure_topics(bootstrap, pipeline.topics)
    institution = str(scenario.meta.get("institution") or settings.institution)
    report = ReplayReport()
    events = scenario.sorted_events()
    used = sorted({event.source for event in events})
    report.paths = {
        name: f"fake {name} → {', '.join(SOURCE_TABLE[name].connectors)} (SDK runtime)"
        for name in used
    }
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, **kafka_client_options()
    )
    lag = GroupLag(bootstrap, settings.topic_prefix + settings.app_id, _worker_inputs(pipeline))
    clock = EventClock()
    timed = _EventTimedProducer(producer, clock)
    sources: dict[str, _Source] = {}
    began = time.monotonic()
    await producer.start()
    try:
        await lag.start()
        for name in used:
            sources[name] = await _start_source(
                name,
                clock=clock,
                pipeline=pipeline,
                bootstrap=bootstrap,
                producer=timed,
                institution=institution,
            )
        window = _barrier_window(scenario)
        day: date | None = None
        opened: datetime | None = None  # the first event after the last barrier
        for number, event in enumerate(events, start=1):
            if opened is not None and (
                business_date(event.at) != day or (window and event.at - opened >= window)
            ):
                waited = time.monotonic()
                await timed.delivered()
                await lag.settle(0.0, settle_limit_s)
                report.barriers += 1
                if checkpoint is not None and await checkpoint(event.at):
                    await lag.settle(0.0, settle_limit_s)
                report.seconds_at_barriers += time.monotonic() - waited
                opened = None
            day = business_date(event.at)
            opened = opened or event.at
            clock.at = event.at
            for source in sources.values():
                await source.wake()
            await sources[event.source].send(event)
            report.events[f"{event.source}/{event.kind}"] += 1
            if progress is not None and (number % 500 == 0 or number == len(events)):
                progress(number, len(events))
        await timed.delivered()
        report.seconds_sending = time.monotonic() - began
        settled = time.monotonic()
        await lag.settle(3.0, settle_limit_s, settling)
        report.seconds_settling = time.monotonic() - settled
    finally:
        for source in sources.values():
            await source.stop()
        await lag.close()
        await producer.stop()
    return report


async def collect_tasks(pipeline: Pipeline, bootstrap: str) -> list[dict[str, Any]]:
    """The latest version of every task on ``hub.tasks``."""
    latest = await latest_by_key(bootstrap, pipeline.topics.name("hub.tasks"), pipeline.codec)
    return [dict(task) for task in latest.values()]


async def start_replay_worker(
    settings: HubSettings, bootstrap: str, registry: str | None, log_path: Path
) -> asyncio.subprocess.Process:
    """A hub worker on the event clock, in its own process group, logging to ``log_path``."""
    env = worker_env(
        bootstrap=bootstrap,
        prefix=settings.topic_prefix,
        state_dir=log_path.parent,
        registry_url=registry,
        extra={
            "HUB_CLOCK": "event",
            "HUB_PSEUDONYM_SECRET": settings.pseudonym_secret.get_secret_value(),
            "HUB_WORKER_COMMIT_INTERVAL_SECONDS": "0.02",  # a barrier waits for the commits
        },
    )
    return await start_worker(env, log_path)
