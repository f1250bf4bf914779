"""Shared fixtures: one real Kafka broker and one real schema registry per test session.

Kafka comes from, in order:
1. ``KAFKA_BOOTSTRAP_SERVERS``, when set (an existing cluster);
2. testcontainers, when a Docker daemon answers;
3. the local jar broker of ``hub kafka start`` (the case on our machines).

The registry comes from ``SCHEMA_REGISTRY_URL`` when set, else the embedded
Apicurio launcher. RabbitMQ (for the AMQP notification feeds) comes from ``AMQP_URL``
when set, else a private node of Debian's ``rabbitmq-server``. Each test gets topics
(and queues) of its own through a prefix.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.testing.conformance import KitEnvironment, kit_environment
from hub.embedded.kafka import KAFKA_VERSION, LocalKafka
from hub.embedded.rabbitmq import LocalRabbitMQ
from hub.embedded.registry import LocalRegistry
from hub.settings import HubSettings


@dataclass(frozen=True)
class KafkaEndpoint:
    bootstrap_servers: str
    version: str
    kind: str


def _cache_dir() -> Path:
    return HubSettings().cache_dir


def _docker_answers() -> bool:
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


_SERVICES: list[str] = []


def _report(request: pytest.FixtureRequest, line: str) -> None:
    _SERVICES.append(line)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


# ``make test`` runs two pytest-xdist processes (``--dist loadgroup``). The files named
# here keep their tests in one process, one after another: those that start workers,
# sinks and brokers of their own and wait on them against deadlines (side by side on
# two cores they starve each other), and those with an expensive module fixture (split
# across processes it would run twice).
_XDIST_GROUPS = {
    "tests/chaos/test_chaos.py": "own-processes",
    "tests/test_ticket_crash_through_kafka.py": "own-processes",
    "tests/test_demo.py": "own-processes",
    "tests/test_replay.py": "own-processes",
    "tests/test_scenario_files.py": "scenario-files",
    "tests/test_kafka_security.py": "secure-broker",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parents[1]
    for item in items:
        group = _XDIST_GROUPS.get(item.path.resolve().relative_to(root).as_posix())
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker: hand the services it started to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["services"] = list(_SERVICES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """In the pytest-xdist controller: collect each worker's services for the summary."""
    output = getattr(node, "workeroutput", None) or {}
    worker = getattr(getattr(node, "gateway", None), "id", "?")
    _SERVICES.extend(f"[{worker}] {line}" for line in output.get("services", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which real broker and registry the tests went through."""
    if _SERVICES:
        terminalreporter.section("services under test")
        for line in _SERVICES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def kafka(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KafkaEndpoint]:
    """A real Kafka broker for the whole session."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        endpoint = KafkaEndpoint(external, "external", "KAFKA_BOOTSTRAP_SERVERS")
        _report(request, f"kafka: existing cluster at {external}")
        yield endpoint
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer  # noqa: PLC0415

        with KafkaContainer(f"apache/kafka:{KAFKA_VERSION}").with_kraft() as container:
            endpoint = KafkaEndpoint(
                container.get_bootstrap_server(), KAFKA_VERSION, "testcontainers"
            )
            _report(request, f"kafka: Apache Kafka {KAFKA_VERSION} in Docker")
            yield endpoint
        return
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), _cache_dir(), port=0)
    info = broker.start_broker()
    _report(
        request,
        f"kafka: Apache Kafka {info.version} (local jars, pid {info.pid})"
        f" at {info.bootstrap_servers}",
    )
    try:
        yield KafkaEndpoint(info.bootstrap_servers, info.version, "local jars")
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def registry_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real Confluent-compatible schema registry for the whole session."""
    external = os.environ.get("SCHEMA_REGISTRY_URL")
    if external:
        _report(request, f"registry: existing registry at {external}")
        yield external
        return
    registry = LocalRegistry(tmp_path_factory.mktemp("registry"), _cache_dir(), port=0)
    result = registry.start()
    _report(
        request,
        f"registry: Apicurio Registry {result.record.version} (local jars) at"
        f" {result.record.address}",
    )
    try:
        yield result.record.address
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def rabbitmq(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real RabbitMQ broker for the whole session: its AMQP URL."""
    external = os.environ.get("AMQP_URL")
    if external:
        _report(request, "rabbitmq: existing broker from AMQP_URL")
        yield external
        return
    node = LocalRabbitMQ(tmp_path_factory.mktemp("rabbitmq"), port=0)
    result = node.start()
    _report(
        request,
        f"rabbitmq: RabbitMQ {result.record.version} (Debian package, private node, pid"
        f" {result.record.pid}) at 127.0.0.1:{result.record.ports['amqp']}",
    )
    try:
        yield result.record.address
    finally:
        node.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix of this test's own, so tests never share topics or groups."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
async def kit(
    kafka: KafkaEndpoint, registry_url: str, topic_prefix: str
) -> AsyncIterator[KitEnvironment]:
    """This test's topics on the real broker and a codec for the registry (the connector
    conformance kit's environment), for connector tests outside the kit."""
    async with kit_environment(kafka.bootstrap_servers, registry_url, topic_prefix) as env:
        yield env
