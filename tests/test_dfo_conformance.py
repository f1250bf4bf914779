"""The DFØ connectors (employees, positions, org units, payroll) pass the conformance kit
through the real Kafka broker, schema registry and RabbitMQ, against the fake DFØ API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.dfo.connector import (
    DfoEmployeeConnector,
    DfoOrgUnitConnector,
    DfoPositionConnector,
)
from connectors.dfo.fake_server import (
    FakeDfoHrSource,
    FakeDfoPayrollSource,
    hr_source,
    payroll_source,
)
from connectors.dfo.payroll_connector import DfoPayrollConnector
from connectors.testing.conformance import ConnectorConformance

pytestmark = [pytest.mark.kafka, pytest.mark.registry]


class DfoHrConformance(ConnectorConformance):
    """The kit over a fake DFØ with its notification feed on RabbitMQ."""

    @pytest.fixture
    async def source(self, rabbitmq: str, topic_prefix: str) -> AsyncIterator[FakeDfoHrSource]:
        async with hr_source(self.connector_class, rabbitmq, topic_prefix) as source:
            yield source


class TestDfoEmployeeConformance(DfoHrConformance):
    connector_class = DfoEmployeeConnector


class TestDfoPositionConformance(DfoHrConformance):
    connector_class = DfoPositionConnector


class TestDfoOrgUnitConformance(DfoHrConformance):
    connector_class = DfoOrgUnitConnector


class TestDfoPayrollConformance(ConnectorConformance):
    connector_class = DfoPayrollConnector

    @pytest.fixture
    async def source(self) -> AsyncIterator[FakeDfoPayrollSource]:
        async with payroll_source() as source:
            yield source
