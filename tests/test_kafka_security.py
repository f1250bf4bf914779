"""Kafka over SASL_SSL (SCRAM-SHA-512) and mutual TLS.

The settings are checked without a broker; the rest runs against a local broker
started with a SASL_SSL listener and an SSL listener that requires a client
certificate, both signed by a throwaway CA.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaProducer

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.embedded.certificates import LocalCertificates, make_certificates
from hub.embedded.kafka import LocalKafka, SecureListeners
from hub.errors import ConfigurationError
from hub.kafka_security import faust_credentials, kafka_client_options, load_kafka_security
from hub.settings import HubSettings
from hub.topics import TopicCatalog
from tests.factories import dfo_new_hire_body
from tests.kafka_support import TaskView, WorkerProcess, collect, dfo_connector, run_hub

SCRAM_USER = "hub-worker"
SCRAM_PASSWORD = "scram-test-password-7c1e"


class TestSettings:
    def test_plaintext_needs_no_options(self) -> None:
        assert kafka_client_options(load_kafka_security()) == {}
        assert faust_credentials(load_kafka_security()) is None

    def test_sasl_without_a_user_is_refused_naming_the_variables(self) -> None:
        with pytest.raises(ConfigurationError, match="HUB_KAFKA_SASL_USERNAME"):
            load_kafka_security(security_protocol="SASL_SSL", sasl_password="pw-never-shown")

    def test_a_certificate_without_its_key_is_refused(self, tmp_path: Path) -> None:
        certificate = tmp_path / "client.pem"
        certificate.write_text("x")
        with pytest.raises(ConfigurationError, match="both HUB_KAFKA_SSL_CERTFILE and"):
            load_kafka_security(security_protocol="SSL", ssl_certfile=certificate)

    def test_a_missing_file_is_named(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="is not a readable file"):
            load_kafka_security(security_protocol="SSL", ssl_cafile=tmp_path / "nope.pem")

    def test_the_password_never_shows(self) -> None:
        security = load_kafka_security(
            security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="pw-secret-1"
        )
        assert "pw-secret-1" not in repr(security)
        assert kafka_client_options(security)["sasl_plain_password"] == "pw-secret-1"
        credentials = faust_credentials(security)
        assert isinstance(credentials, faust.SASLCredentials)
        assert credentials.mechanism.value == "SCRAM-SHA-512"
        assert "pw-secret-1" not in repr(credentials)


@dataclass(frozen=True)
class SecureBroker:
    sasl_ssl: str
    ssl: str
    certificates: LocalCertificates

    def sasl_env(self, password: str = SCRAM_PASSWORD) -> dict[str, str]:
        return {
            "HUB_WIRE_FORMAT": "single-object",
            "HUB_KAFKA_BOOTSTRAP_SERVERS": self.sasl_ssl,
            "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "HUB_KAFKA_SASL_USERNAME": SCRAM_USER,
            "HUB_KAFKA_SASL_PASSWORD": password,
            "HUB_KAFKA_SSL_CAFILE": str(self.certificates.ca),
        }

    def mtls_env(self, *, with_certificate: bool = True) -> dict[str, str]:
        env = {
            "HUB_WIRE_FORMAT": "single-object",
            "HUB_KAFKA_BOOTSTRAP_SERVERS": self.ssl,
            "HUB_KAFKA_SECURITY_PROTOCOL": "SSL",
            "HUB_KAFKA_SSL_CAFILE": str(self.certificates.ca),
        }
        if with_certificate:
            env["HUB_KAFKA_SSL_CERTFILE"] = str(self.certificates.client_certificate)
            env["HUB_KAFKA_SSL_KEYFILE"] = str(self.certificates.client_key)
        return env


def _options(env: dict[str, str]) -> dict[str, Any]:
    fields = {
        k.removeprefix("HUB_KAFKA_").lower(): v
        for k, v in env.items()
        if k.startswith("HUB_KAFKA_") and k != "HUB_KAFKA_BOOTSTRAP_SERVERS"
    }
    return kafka_client_options(load_kafka_security(**fields))


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    directory = tmp_path_factory.mktemp("secure-kafka")
    certificates = make_certificates(directory / "certificates")
    broker = LocalKafka(
        directory / "broker",
        HubSettings().cache_dir,
        port=0,
        security=SecureListeners(certificates, SCRAM_USER, SCRAM_PASSWORD),
    )
    result = broker.start()
    ports = result.record.ports
    try:
        yield SecureBroker(
            f"127.0.0.1:{ports['sasl_ssl']}", f"127.0.0.1:{ports['ssl']}", certificates
        )
    finally:
        broker.stop()


@pytest.mark.kafka
class TestThroughSecureListeners:
    async def test_a_worker_processes_events_over_sasl_ssl(
        self, secure_broker: SecureBroker, topic_prefix: str, tmp_path: Path
    ) -> None:
        """A DFØ new hire sent over SASL_SSL opens a task that is read back over
        SASL_SSL; the worker's log never shows the password."""
        env = secure_broker.sasl_env()
        options = _options(env)
        catalog = SchemaCatalog()
        pipeline_like = _Encoding(catalog, TopicCatalog(prefix=topic_prefix))
        tasks = pipeline_like.topics.name("hub.tasks")
        applied = run_hub({**env, "HUB_TOPIC_PREFIX": topic_prefix}, "topics", "apply")
        assert applied.returncode == 0, applied.stderr
        with WorkerProcess(
            bootstrap=secure_broker.sasl_ssl,
            registry_url=None,
            prefix=topic_prefix,
            state_dir=tmp_path,
            extra_env=env,
        ) as worker:
            producer = AIOKafkaProducer(bootstrap_servers=secure_broker.sasl_ssl, **options)
            await producer.start()
            try:
                await dfo_connector(producer, pipeline_like).publish(dfo_new_hire_body())
            finally:
                await producer.stop()
            seen = await collect(
                secure_broker.sasl_ssl,
                [tasks],
                codec=pipeline_like.codec,
                decode_topics=(tasks,),
                until=lambda rs: any(r.decoded and r.decoded["state"] == "OPEN" for r in rs),
                within_s=90,
                client_options=options,
            )
            log = worker.log()
        (task,) = TaskView.of(seen, tasks).latest.values()
        assert task["rule_id"] == "access.new_hire_without_account"
        assert SCRAM_PASSWORD not in log

    def test_mutual_tls_needs_the_client_certificate(
        self, secure_broker: SecureBroker, topic_prefix: str
    ) -> None:
        env = {**secure_broker.mtls_env(), "HUB_TOPIC_PREFIX": topic_prefix}
        applied = run_hub(env, "topics", "apply")
        assert applied.returncode == 0, applied.stderr
        assert f"create          {topic_prefix}hub.tasks" in applied.stdout
        anonymous = {**secure_broker.mtls_env(with_certificate=False), "HUB_TOPIC_PREFIX": "x."}
        refused = run_hub(anonymous, "doctor")
        assert refused.returncode == 1
        assert "[FAIL] kafka: no broker answers" in refused.stdout

    def test_a_wrong_password_fails_clearly_without_showing_either(
        self, secure_broker: SecureBroker
    ) -> None:
        wrong = "not-the-password-3f9a"
        result = run_hub(secure_broker.sasl_env(password=wrong), "doctor")
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "[FAIL] kafka:" in output
        assert wrong not in output
        assert SCRAM_PASSWORD not in output


@dataclass
class _Encoding:
    """What the DFØ connector needs of a pipeline: a codec, the schemas, the topics."""

    catalog: SchemaCatalog
    topics: TopicCatalog
    secret: str = HubSettings().pseudonym_secret.get_secret_value()

    def __post_init__(self) -> None:
        self.codec = SingleObjectCodec(self.catalog)
