"""The first, minimal DFØ connector: native ``ansatte/v2`` JSON in, Avro records out.

It maps an employee body with :func:`connectors.dfo.mapping.map_employee` and
publishes it on ``source.dfo.employee``, keyed by employee number. A body that
cannot be mapped goes, as it came, to ``hub.deadletter`` with the reason. The
HTTP client, the AMQP change feed and checkpoints come with the connector SDK.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import structlog

from connectors.dfo.mapping import map_employee
from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import AvroCodec
from hub.deadletter import dead_letter_headers
from hub.errors import HubError
from hub.topics import TopicCatalog

__all__ = ["CONNECTOR_NAME", "DfoEmployeeConnector"]

CONNECTOR_NAME = "dfo"
EMPLOYEE_SCHEMA = "no.bott.hub.dfo.Employee"
log = structlog.get_logger("connectors.dfo")


class DfoEmployeeConnector:
    """Publishes DFØ employees. ``producer`` is a started ``AIOKafkaProducer``."""

    def __init__(
        self,
        *,
        producer: Any,
        codec: AvroCodec,
        catalog: SchemaCatalog,
        topics: TopicCatalog,
        institution: str,
        secret: str,
    ) -> None:
        self.producer = producer
        self.codec = codec
        self.schema = catalog[EMPLOYEE_SCHEMA]
        self.topic = topics.name("source.dfo.employee")
        self.dead_letters = topics.name("hub.deadletter")
        self.institution = institution
        self.secret = secret

    async def publish(self, body: bytes, *, fetched_at: datetime | None = None) -> str | None:
        """Map and publish one ``GET ansatte/v2/{id}`` response body.

        Returns the employee number, or None when the body went to the dead-letter topic.
        """
        try:
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise HubError(f"DFØ ansatt: the body is not valid JSON ({exc})") from None
            record = map_employee(
                payload,
                institution=self.institution,
                secret=self.secret,
                fetched_at=fetched_at or datetime.now(UTC),
            )
            value = await self.codec.encode(self.topic, self.schema, record)
        except HubError as exc:
            log.warning("dead_letter", connector=CONNECTOR_NAME, error=str(exc))
            await self.producer.send_and_wait(
                self.dead_letters,
                value=body,
                headers=dead_letter_headers(
                    source_topic="dfo:ansatte",
                    partition=None,
                    offset=None,
                    error=exc,
                    stage="connector",
                    connector=CONNECTOR_NAME,
                ),
            )
            return None
        employee_id = str(record["employee_id"])
        await self.producer.send_and_wait(self.topic, key=employee_id.encode(), value=value)
        return employee_id
