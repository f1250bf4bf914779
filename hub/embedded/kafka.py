"""A real single-node Apache Kafka broker (KRaft) run from the jars on Maven Central.

``hub kafka start`` runs one; the tests and benchmarks use the same class with an
instance directory of their own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from hub.embedded.certificates import LocalCertificates
from hub.embedded.maven import MavenArtifact, fetch_artifacts
from hub.embedded.process import free_port, port_in_use, with_free_ports
from hub.embedded.service import LocalJavaService
from hub.errors import EmbeddedServiceError

__all__ = ["KAFKA_VERSION", "BrokerInfo", "LocalKafka", "SecureListeners", "metadata_answers"]

KAFKA_VERSION = "3.9.1"
DEFAULT_PORT = 9092

_ARTIFACTS = (
    MavenArtifact("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
    # Kafka ships no logging backend; 3.9 logs through slf4j 1.7 to reload4j.
    MavenArtifact("org.slf4j", "slf4j-reload4j", "1.7.36"),
)

# Sized for a 2-core machine: one partition for the internal topics, few threads,
# a small cleaner buffer and a small heap.
_BROKER_SETTINGS = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "inter.broker.listener.name": "PLAINTEXT",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "group.initial.rebalance.delay.ms": "0",
    "log.cleaner.dedupe.buffer.size": "1048577",
    "num.network.threads": "1",
    "num.io.threads": "2",
    "num.partitions": "1",
    "auto.create.topics.enable": "false",
}

_LOG4J = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.kafka.request.logger=WARN
"""


@dataclass(frozen=True)
class SecureListeners:
    """Two listeners besides PLAINTEXT: SASL_SSL with a SCRAM-SHA-512 user, and SSL
    that requires a client certificate (mutual TLS). Both use the test CA's broker
    certificate. PLAINTEXT stays for the controller and the embedded tools."""

    certificates: LocalCertificates
    scram_username: str
    scram_password: str

    @staticmethod
    def listeners(ports: dict[str, int]) -> str:
        return f"SASL_SSL://127.0.0.1:{ports['sasl_ssl']},SSL://127.0.0.1:{ports['ssl']}"

    def properties(self) -> dict[str, str]:
        return {
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.certificates.broker_keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.certificates.ca),
            "listener.name.ssl.ssl.client.auth": "required",
            "listener.security.protocol.map": (
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL"
            ),
        }

    def format_arguments(self) -> list[str]:
        """``kafka-storage format`` arguments that create the SCRAM user."""
        return [
            "--add-scram",
            f"SCRAM-SHA-512=[name={self.scram_username},password={self.scram_password}]",
        ]


@dataclass(frozen=True)
class BrokerInfo:
    """A running broker as a client sees it."""

    bootstrap_servers: str
    version: str
    pid: int
    started: bool


def _metadata_call(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient  # noqa: PLC0415 - only the CLI path needs it

    async def ask() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await asyncio.wait_for(admin.start(), timeout=5)
            cluster = await asyncio.wait_for(admin.describe_cluster(), timeout=5)
            return bool(cluster.get("brokers"))
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(ask())


def metadata_answers(bootstrap: str) -> bool:
    """True when the cluster at ``bootstrap`` answers a metadata request.

    Runs in a thread of its own, so it works with or without a running event loop.
    """
    host, _, port = bootstrap.split(",", maxsplit=1)[0].rpartition(":")
    if not port.isdigit() or not port_in_use(int(port), host or "127.0.0.1"):
        return False
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_metadata_call, bootstrap).result(timeout=20)


class LocalKafka(LocalJavaService):
    """A KRaft broker+controller in one JVM, with its data under ``instance_dir``."""

    name = "kafka"

    def __init__(
        self,
        instance_dir: Path,
        cache_dir: Path,
        port: int | None = None,
        heap_mb: int = 512,
        security: SecureListeners | None = None,
    ) -> None:
        super().__init__(instance_dir)
        self.lib_dir = cache_dir / f"kafka-{KAFKA_VERSION}" / "lib"
        self.port = port
        self.heap_mb = heap_mb
        self.security = security

    @property
    def version(self) -> str:
        return KAFKA_VERSION

    @property
    def install_dir(self) -> Path:
        return self.lib_dir

    def install(self) -> None:
        fetch_artifacts(self.lib_dir, _ARTIFACTS)

    def choose_ports(self) -> dict[str, int]:
        if self.port:
            client = self.port
        elif self.port is None and not port_in_use(DEFAULT_PORT):
            client = DEFAULT_PORT
        else:
            client = free_port()
        secure = ("sasl_ssl", "ssl") if self.security else ()
        return with_free_ports({"client": client}, "controller", *secure)

    def address(self, ports: dict[str, int]) -> str:
        return f"127.0.0.1:{ports['client']}"

    def is_ready(self, address: str) -> bool:
        return metadata_answers(address)

    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise EmbeddedServiceError(
                "Java 17 or later is needed to run Kafka; install it with"
                " 'apt-get install openjdk-17-jre-headless'"
            )
        return java

    def command(self, ports: dict[str, int]) -> list[str]:
        java = self._java()
        data_dir = self.instance_dir / "data"
        secure = self.security.properties() if self.security else {}
        advertised = f"PLAINTEXT://127.0.0.1:{ports['client']}"
        if self.security:
            advertised += f",{self.security.listeners(ports)}"
        props = {
            **_BROKER_SETTINGS,
            "listeners": f"{advertised},CONTROLLER://127.0.0.1:{ports['controller']}",
            "advertised.listeners": advertised,
            "controller.quorum.voters": f"1@127.0.0.1:{ports['controller']}",
            "log.dirs": str(data_dir),
            **secure,
        }
        config = self.instance_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        log4j = self.instance_dir / "log4j.properties"
        log4j.write_text(_LOG4J)
        classpath = f"{self.lib_dir}/*"
        cluster_id_path = self.instance_dir / "cluster-id"
        if not cluster_id_path.exists():
            cluster_id_path.write_text(uuid.uuid4().hex[:22])
        fmt = subprocess.run(
            [
                java,
                f"-Dlog4j.configuration=file:{log4j}",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id_path.read_text().strip(),
                "-c",
                str(config),
                "--ignore-formatted",
                *(self.security.format_arguments() if self.security else []),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            raise EmbeddedServiceError(
                f"formatting KRaft storage in {data_dir} failed:\n{fmt.stdout}{fmt.stderr}"
            )
        return [
            java,
            f"-Xms{min(256, self.heap_mb)}m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{log4j}",
            f"-Dkafka.logs.dir={self.instance_dir / 'logs'}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(config),
        ]

    def running_version(self) -> str:
        """The version the broker printed at startup ("Kafka version: 3.9.1")."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return self.version
        found = re.findall(r"Kafka version: (\S+)", text)
        return found[-1] if found else self.version

    def start_broker(self, timeout: float = 120.0) -> BrokerInfo:
        """Start (or find) the broker and describe it."""
        result = self.start(timeout=timeout)
        return BrokerInfo(
            bootstrap_servers=result.record.address,
            version=result.record.version,
            pid=result.record.pid,
            started=result.started,
        )
