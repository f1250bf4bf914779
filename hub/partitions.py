"""Where a topic's partitions are, and where each begins and ends: what ``hub lag``,
``hub tail`` and ``hub doctor`` read before they read records."""

from __future__ import annotations

import asyncio

from hub.kafka_security import kafka_client_options

__all__ = ["Partition", "partition_offsets", "topic_partitions", "topics_partitions"]

Partition = tuple[str, int]  # (topic, partition number)


async def topic_partitions(admin: object, topic: str) -> list[int]:
    """The partition numbers of ``topic`` (empty when it does not exist), asked of the
    cluster through an started ``AIOKafkaAdminClient``."""
    return (await topics_partitions(admin, [topic]))[topic]


async def topics_partitions(admin: object, topics: list[str]) -> dict[str, list[int]]:
    """The partition numbers of each of ``topics`` (empty for one that does not exist),
    in one request to the cluster."""
    found: dict[str, list[int]] = {topic: [] for topic in topics}
    if not topics:
        return found
    described = await admin.describe_topics(topics)  # type: ignore[attr-defined]
    for topic in described or []:
        if topic.get("topic") in found and not topic.get("error_code", 0):
            found[topic["topic"]] = sorted(p["partition"] for p in topic.get("partitions") or [])
    return found


async def partition_offsets(
    bootstrap_servers: str, partitions: list[Partition]
) -> tuple[dict[Partition, int], dict[Partition, int]]:
    """The first and the next offset of each partition (the end, where a write goes)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: PLC0415

    if not partitions:
        return {}, {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        **kafka_client_options(),
    )
    await consumer.start()
    # Let the consumer's background task start: stopping it before it has run once
    # raises CancelledError from aiokafka's close().
    await asyncio.sleep(0)
    try:
        wanted = [TopicPartition(t, p) for t, p in partitions]
        begins = await consumer.beginning_offsets(wanted)
        ends = await consumer.end_offsets(wanted)
    finally:
        await consumer.stop()
    return (
        {(tp.topic, tp.partition): offset for tp, offset in begins.items()},
        {(tp.topic, tp.partition): offset for tp, offset in ends.items()},
    )
