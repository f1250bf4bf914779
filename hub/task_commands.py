"""The CLI's edge for tasks: reading the latest tasks from ``hub.tasks`` and sending
decisions (accept or withdraw an exception) to ``hub.task-feedback``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from hub.compacted import latest_by_key
from hub.endpoints import kafka_bootstrap, make_pipeline, registry_url
from hub.errors import HubError
from hub.kafka_security import kafka_client_options
from hub.pipeline import TASK_FEEDBACK
from hub.settings import HubSettings

__all__ = ["latest_tasks", "send_feedback"]


async def latest_tasks(settings: HubSettings) -> dict[str, dict[str, Any]]:
    """Every task's latest state, read from the compacted hub.tasks to its end."""
    pipeline = make_pipeline(settings, registry_url(settings, start=False))
    try:
        found = await latest_by_key(
            kafka_bootstrap(settings, start=False),
            pipeline.topics.name("hub.tasks"),
            pipeline.codec,
        )
    finally:
        await pipeline.codec.close()
    return {task["task_id"]: task for task in found.values()}


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
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap(settings, start=False), **kafka_client_options()
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=task_id.encode(), value=value)
    finally:
        await producer.stop()
        await pipeline.codec.close()
    return task
