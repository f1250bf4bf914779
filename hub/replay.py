"""Reprocessing after a fix: ``hub replay`` and ``hub deadletters replay``.

*Replay from a time.* After a rule is fixed, the workers must judge everyone again.
:func:`rewind_group` moves the workers' consumer group back, on the source topics,
to the first record at or after a moment; the workers then read those records again
when they start. Person views keep the newest version of each record, and a task's id
comes from its institution, rule and subject, so replaying opens no second task: the
same finding leaves its task alone, and a finding the fix removed resolves it. The
group must have no running member (Kafka refuses to move a live group's offsets).

*Replay of dead letters.* After the cause of dead letters is fixed (a schema, a bug in
a stage), :func:`replay_dead_letters` sends each one back, byte for byte with its
key, to the topic it was read from. A dead letter from a connector (its source is a
source system, e.g. ``dfo:ansatte``) holds the source's raw payload, not a Kafka
record of the hub: the connector's next full reconciliation fetches it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.errors import HubError
from hub.kafka_security import kafka_client_options
from hub.partitions import Partition, partition_offsets, topics_partitions
from hub.topic_tail import StartAt, tail

__all__ = [
    "DeadLetterReplay",
    "Rewind",
    "plan_rewind",
    "replay_dead_letters",
    "rewind_group",
]


@dataclass(frozen=True)
class Rewind:
    """Where one partition's committed offset goes."""

    topic: str
    partition: int
    committed: int | None
    target: int

    def line(self) -> str:
        before = "-" if self.committed is None else str(self.committed)
        return f"{self.topic}[{self.partition}]: {before} → {self.target}"


def plan_rewind(
    committed: Mapping[Partition, int],
    at_time: Mapping[Partition, int | None],
    ends: Mapping[Partition, int],
) -> list[Rewind]:
    """Move each partition back to the first offset at or after the moment; never
    forward (a replay reads again, it skips nothing). A partition with no record since
    then stays where it is."""
    plan = []
    for partition in sorted(at_time):
        found = at_time[partition]
        current = committed.get(partition)
        if found is None and current is None:
            continue  # never read, and nothing to read since then
        target = ends.get(partition, 0) if found is None else found
        if current is not None and current >= 0:
            target = min(target, current)
        if current is None or target != current:
            plan.append(Rewind(partition[0], partition[1], current, target))
    return plan


async def _group_members(admin: Any, group: str) -> int:
    described = await admin.describe_consumer_groups([group])
    for response in described:
        for entry in response.groups:
            error_code, group_id, _state, _protocol_type, _protocol, members = entry[:6]
            if group_id == group and not error_code:
                return len(members)
    return 0


async def rewind_group(
    bootstrap_servers: str,
    group: str,
    topics: list[str],
    since: datetime,
    *,
    dry_run: bool,
) -> list[Rewind]:
    """Rewind ``group`` on ``topics`` to ``since``; return what moved (or would move)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: PLC0415
    from aiokafka.admin import AIOKafkaAdminClient  # noqa: PLC0415

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **kafka_client_options())
    await admin.start()
    try:
        members = await _group_members(admin, group)
        if members and not dry_run:
            raise HubError(
                f"consumer group {group} has {members} running member(s): stop the workers"
                " ('hub worker') before a replay, then start them again"
            )
        offsets = await admin.list_consumer_group_offsets(group)
        committed = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
        numbers = await topics_partitions(admin, list(topics))
        partitions = [(t, p) for t in topics for p in numbers[t]]
    finally:
        await admin.close()
    if not partitions:
        return []
    _, ends = await partition_offsets(bootstrap_servers, partitions)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        **kafka_client_options(),
    )
    await consumer.start()
    try:
        wanted = [TopicPartition(t, p) for t, p in partitions]
        millis = int(since.timestamp() * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(wanted, millis))
        at_time = {
            (tp.topic, tp.partition): (None if stamp is None else stamp.offset)
            for tp, stamp in found.items()
        }
        plan = plan_rewind(committed, at_time, ends)
        if plan and not dry_run:
            consumer.assign(wanted)
            await consumer.commit({TopicPartition(r.topic, r.partition): r.target for r in plan})
    finally:
        await consumer.stop()
    return plan


@dataclass
class DeadLetterReplay:
    """What a dead-letter replay did: sent back per topic, and left for connectors."""

    sent: dict[str, int]
    left: dict[str, int]


async def replay_dead_letters(
    bootstrap_servers: str,
    dead_letter_topic: str,
    hub_topics: set[str],
    *,
    since: datetime | None,
    stage: str | None,
    dry_run: bool,
) -> DeadLetterReplay:
    """Send dead letters back to the hub topic they came from (see the module doc)."""
    from aiokafka import AIOKafkaProducer  # noqa: PLC0415

    result = DeadLetterReplay({}, {})
    producer = None
    if not dry_run:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, acks="all", **kafka_client_options()
        )
        await producer.start()
    try:
        start = StartAt("time", moment=since) if since else StartAt("beginning")
        letters = tail(bootstrap_servers, dead_letter_topic, None, start=start, follow=False)
        async for letter in letters:
            if stage and letter.headers.get("hub.stage") != stage:
                continue
            origin = letter.headers.get("hub.source.topic", "")
            if origin not in hub_topics:
                result.left[origin or "(unknown)"] = result.left.get(origin or "(unknown)", 0) + 1
                continue
            if producer is not None:
                await producer.send_and_wait(origin, key=letter.key, value=letter.raw)
            result.sent[origin] = result.sent.get(origin, 0) + 1
    finally:
        if producer is not None:
            await producer.stop()
    return result
