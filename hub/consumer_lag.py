"""Consumer lag per group and partition (``hub lag``): how far each consumer group is
behind the end of the partitions it reads.

:func:`lag_rows` is pure (committed offsets and end offsets in, rows out);
:func:`read_lag` asks the cluster, for every partition of each topic a group has
committed on, and of each topic the hub's workers read (:func:`hub_reads`): a partition
the group has not committed on lags by all it holds. :class:`GroupLag`
answers "has the worker caught up" (a replay's barriers, the benchmarks, the chaos
suite): it also counts the topics the worker reads that it has not committed on at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from hub.errors import HubError
from hub.kafka_security import kafka_client_options
from hub.partitions import Partition, partition_offsets, topics_partitions
from hub.topics import TopicCatalog

__all__ = [
    "WORKER_INPUTS",
    "GroupLag",
    "LagRow",
    "hub_reads",
    "lag_rows",
    "read_lag",
    "standing_still",
    "total_lag",
    "uncommitted",
    "worker_inputs",
]

# The hub's own topics a worker reads (besides the source topics).
WORKER_INPUTS = (
    "hub.identity-input",
    "hub.person-events",
    "hub.task-proposals",
    "hub.failsafe-commands",
    "hub.task-feedback",
)
Progress = Callable[[int, int], None]


def worker_inputs(logical_names: Iterable[str], name: Callable[[str], str]) -> list[str]:
    """The topics a hub worker reads: every source topic among ``logical_names`` and the
    hub's own inputs, by their physical ``name``."""
    sources = [n for n in logical_names if n.startswith("source.")]
    return sorted({name(n) for n in (*sources, *WORKER_INPUTS)})


def hub_reads(group: str, topics: TopicCatalog) -> dict[str, list[str]]:
    """For :func:`read_lag`: the hub workers' ``group`` and every topic it reads, so that
    a topic it has never committed on shows too."""
    return {group: worker_inputs((spec.logical_name for spec in topics), topics.name)}


@dataclass(frozen=True)
class LagRow:
    """One partition a group reads: where it is, where the end is, and the gap."""

    group: str
    topic: str
    partition: int
    committed: int | None  # None: the group has committed nothing here yet
    end: int
    lag: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def lag_rows(
    group: str,
    committed: Mapping[Partition, int],
    ends: Mapping[Partition, int],
    begins: Mapping[Partition, int] | None = None,
) -> list[LagRow]:
    """The lag of ``group`` on each partition in ``committed``, in topic order.

    A partition without a commit (``-1``) lags by everything in it: from its first
    offset (``begins``, else 0) to its end.
    """
    rows = []
    for (topic, partition), offset in sorted(committed.items()):
        end = ends.get((topic, partition), 0)
        position = offset if offset >= 0 else None
        start = position if position is not None else (begins or {}).get((topic, partition), 0)
        rows.append(LagRow(group, topic, partition, position, end, max(end - start, 0)))
    return rows


def uncommitted(
    committed: Mapping[Partition, int],
    partitions: Mapping[str, list[int]],
    reads: Iterable[str] = (),
) -> dict[Partition, int]:
    """``committed`` with ``-1`` for each partition (``partitions`` by topic) of its
    topics, and of the topics the group ``reads``, that the group has not committed on:
    a stuck reader that never committed there must show, not vanish."""
    every = {
        (topic, number): -1
        for topic in {t for t, _ in committed} | set(reads)
        for number in partitions.get(topic, [])
    }
    return {**every, **committed}


def standing_still(
    previous: Mapping[Partition, int | None], rows: Iterable[LagRow]
) -> tuple[dict[Partition, int | None], list[tuple[Partition, int]]]:
    """Which partitions lag with a committed offset that has not moved since the last
    look (``previous``): their reader is stuck. Returns this look, to pass next time,
    and the stuck partitions with their committed offsets."""
    look = {(r.topic, r.partition): r.committed for r in rows if r.lag > 0}
    stuck = [
        (partition, committed)
        for partition, committed in sorted(look.items())
        if committed is not None and previous.get(partition) == committed
    ]
    return look, stuck


def total_lag(rows: list[LagRow]) -> dict[str, int]:
    """The sum of the lag of each group."""
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.group] = totals.get(row.group, 0) + row.lag
    return totals


async def read_lag(
    bootstrap_servers: str,
    group_prefix: str = "",
    reads: Mapping[str, Iterable[str]] | None = None,
) -> list[LagRow]:
    """Lag of every consumer group whose id starts with ``group_prefix``, on every
    partition of each topic the group has committed on or ``reads`` says it reads
    (by group; :func:`hub_reads`). A group is listed once it exists."""
    reads = reads or {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **kafka_client_options())
    await admin.start()
    try:
        listed = [str(found[0]) for found in await admin.list_consumer_groups()]
        groups = sorted(g for g in listed if g.startswith(group_prefix))
        committed: dict[str, dict[Partition, int]] = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            committed[group] = {(tp.topic, tp.partition): m.offset for tp, m in offsets.items()}
        topics = sorted(
            {topic for found in committed.values() for topic, _ in found}
            | {topic for group in groups for topic in reads.get(group, ())}
        )
        numbers = await topics_partitions(admin, topics)
    finally:
        await admin.close()
    committed = {
        group: uncommitted(found, numbers, reads.get(group, ()))
        for group, found in committed.items()
    }
    partitions = sorted({p for found in committed.values() for p in found})
    begins, ends = await partition_offsets(bootstrap_servers, partitions)
    return [row for group in groups for row in lag_rows(group, committed[group], ends, begins)]


class GroupLag:
    """How far a consumer group is behind on the topics it reads, asked of the cluster
    through one admin client and one consumer kept open. A partition the group has not
    committed on yet lags by all it holds."""

    def __init__(self, bootstrap: str, group: str, topics: list[str]) -> None:
        options = kafka_client_options()
        self.group, self.topics = group, topics
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **options
        )
        self.partitions: list[TopicPartition] = []

    async def start(self) -> None:
        await self.admin.start()
        await self.consumer.start()
        await asyncio.sleep(0)  # aiokafka's close() fails on a consumer that never ran
        numbers = await topics_partitions(self.admin, self.topics)
        self.partitions += [
            TopicPartition(topic, number) for topic in self.topics for number in numbers[topic]
        ]

    async def close(self) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def __aenter__(self) -> GroupLag:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def total(self) -> int:
        """The records the group has still to read, over every partition of its topics."""
        try:
            offsets = await self.admin.list_consumer_group_offsets(self.group)
        except GroupCoordinatorNotAvailableError:
            offsets = {}  # the broker has no coordinator for the group yet: nothing committed
        committed = {(tp.topic, tp.partition): max(m.offset, 0) for tp, m in offsets.items()}
        ends = await self.consumer.end_offsets(self.partitions)
        wanted = {
            (tp.topic, tp.partition): committed.get((tp.topic, tp.partition), 0) for tp in ends
        }
        by_partition = {(tp.topic, tp.partition): end for tp, end in ends.items()}
        return sum(row.lag for row in lag_rows(self.group, wanted, by_partition))

    async def settle(
        self, quiet_s: float, limit_s: float, progress: Progress | None = None
    ) -> None:
        """Wait until the group has read everything, and stays so for ``quiet_s`` (a
        worker's re-check or forward may still add records); ``progress(read, total)``
        hears how much of the lag found at first the group has read."""
        deadline = time.monotonic() + limit_s
        calm_since: float | None = None
        first: int | None = None
        while time.monotonic() < deadline:
            behind = await self.total()
            if progress is not None:
                first = max(first or 0, behind)
                progress(first - behind, first)
            if behind == 0:
                calm_since = calm_since or time.monotonic()
                if time.monotonic() - calm_since >= quiet_s:
                    return
            else:
                calm_since = None
            await asyncio.sleep(0.01)
        raise HubError(f"the hub had not caught up within {limit_s:.0f}s")
