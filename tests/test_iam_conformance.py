"""The Greg, Cerebrum and Felles IAM connectors pass the conformance kit through the real
Kafka broker, schema registry and RabbitMQ, against their fake sources."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.cerebrum.connector import CerebrumAccountConnector, CerebrumPersonConnector
from connectors.cerebrum.fake_server import CerebrumSource, cerebrum_source
from connectors.felles_iam.connector import (
    FellesIamAccountConnector,
    FellesIamPersonConnector,
)
from connectors.felles_iam.fake_server import FellesIamSource, felles_iam_source
from connectors.greg.connector import GregPersonConnector
from connectors.greg.fake_server import GregSource, greg_source
from connectors.testing.conformance import ConnectorConformance

pytestmark = [pytest.mark.kafka, pytest.mark.registry]


class TestGregPersonConformance(ConnectorConformance):
    connector_class = GregPersonConnector

    @pytest.fixture
    async def source(self, rabbitmq: str, topic_prefix: str) -> AsyncIterator[GregSource]:
        async with greg_source(rabbitmq, topic_prefix) as source:
            yield source


class FellesIamConformance(ConnectorConformance):
    @pytest.fixture
    async def source(self, rabbitmq: str, topic_prefix: str) -> AsyncIterator[FellesIamSource]:
        name = self.connector_class.name
        async with felles_iam_source(rabbitmq, topic_prefix, name) as source:
            yield source


class TestFellesIamAccountConformance(FellesIamConformance):
    connector_class = FellesIamAccountConnector


class TestFellesIamPersonConformance(FellesIamConformance):
    connector_class = FellesIamPersonConnector


class CerebrumConformance(ConnectorConformance):
    @pytest.fixture
    async def source(self, rabbitmq: str, topic_prefix: str) -> AsyncIterator[CerebrumSource]:
        name = self.connector_class.name
        async with cerebrum_source(rabbitmq, topic_prefix, name) as source:
            yield source


class TestCerebrumPersonConformance(CerebrumConformance):
    connector_class = CerebrumPersonConnector


class TestCerebrumAccountConformance(CerebrumConformance):
    connector_class = CerebrumAccountConnector
