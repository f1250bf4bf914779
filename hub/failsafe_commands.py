"""Sending an operator's failsafe decision to ``hub.failsafe-commands`` (the CLI's edge)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from hub.endpoints import kafka_bootstrap, make_pipeline, registry_url
from hub.errors import ConfigurationError
from hub.kafka_security import kafka_client_options
from hub.pipeline import FAILSAFE_COMMAND
from hub.settings import HubSettings

__all__ = ["send_decision"]


async def send_decision(
    settings: HubSettings, incident_id: str, decision: str, by: str, reason: str | None
) -> None:
    """Send CONFIRM or REJECT for ``incident_id`` (``institution|rule|n``)."""
    parts = incident_id.split("|")
    if len(parts) != 3:
        raise ConfigurationError(
            f"{incident_id!r} is not an incident id: expected institution|rule|number,"
            " as hub.failsafe shows it"
        )
    institution, rule_id, _ = parts
    pipeline = make_pipeline(settings, registry_url(settings, start=False))
    topic = pipeline.topics.name("hub.failsafe-commands")
    command = {
        "institution": institution,
        "rule_id": rule_id,
        "incident_id": incident_id,
        "decision": decision,
        "decided_by": by,
        "reason": reason,
        "decided_at": datetime.now(UTC),
    }
    value = await pipeline.codec.encode(topic, pipeline.catalog[FAILSAFE_COMMAND], command)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap(settings, start=False), **kafka_client_options()
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=f"{institution}|{rule_id}".encode(), value=value)
    finally:
        await producer.stop()
        await pipeline.codec.close()
