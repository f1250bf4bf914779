"""The CLI's edge for tasks: reading the latest tasks from ``hub.tasks`` and sending
decisions (accept or withdraw an exception) to ``hub.task-feedback``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.endpoints import kafka_bootstrap, make_pipeline, registry_url
from hub.errors import HubError
from hub.pipeline import TASK_FEEDBACK
from hub.settings import HubSettings

__all__ = ["latest_tasks", "send_feedback"]


async def latest_tasks(settings: HubSettings) -> dict[str, dict[str, Any]]:
    """Every task's latest state, read from the compacted hub.tasks to its end."""
    pipeline = make_pipeline(settings, registry_url(settings, start=False))
    topic = pipeline.topics.name("hub.tasks")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap(settings, start=False),
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    latest: dict[str, dict[str, Any]] = {}
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
        pending = {tp for tp, end in ends.items() if end > 0}
        while pending:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, messages in batch.items():
                for message in messages:
                    if message.value is not None:
                        task = await pipeline.codec.decode_any(message.value)
                        latest[task["task_id"]] = task
                    if message.offset + 1 >= ends[tp]:
                        pending.discard(tp)
    finally:
        await consumer.stop()
        await pipeline.codec.close()
    return latest


async def send_feedback(
    settings: HubSettings,
    task_id: str,
    action: str,
    *,
    decided_by: str,
    reason: str | None,
    expires_at: datetime | None,
) -> dict[str, Any]:
    """Send SUPPRESS or UNSUPPRESS for a task; return the task it was about."""
    task = (await latest_tasks(settings)).get(task_id)
    if task is None:
        raise HubError(f"no task {task_id} on hub.tasks; 'hub tasks list' shows the tasks")
    pipeline = make_pipeline(settings, registry_url(settings, start=False))
    topic = pipeline.topics.name("hub.task-feedback")
    feedback = {
        "action": action,
        "task_id": task_id,
        "person_key": task["person_key"] or task["subject"].split("/", 1)[0],
        "institution": task["institution"],
        "reason": reason,
        "decided_by": decided_by,
        "decided_at": datetime.now(UTC),
        "expires_at": expires_at,
    }
    value = await pipeline.codec.encode(topic, pipeline.catalog[TASK_FEEDBACK], feedback)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap(settings, start=False))
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=task_id.encode(), value=value)
    finally:
        await producer.stop()
        await pipeline.codec.close()
    return task
