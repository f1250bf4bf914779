"""Where the hub's Kafka and registry are: configured ones, or the embedded defaults.

Unset ``HUB_KAFKA_BOOTSTRAP_SERVERS`` means the embedded broker of ``hub kafka
start``; unset ``HUB_SCHEMA_REGISTRY_URL`` means the embedded registry of ``hub
registry start`` (unless ``HUB_WIRE_FORMAT=single-object``).
"""

from __future__ import annotations

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import AvroCodec, ConfluentCodec, SingleObjectCodec
from hub.avro.registry import RegistryClient
from hub.embedded.kafka import LocalKafka
from hub.embedded.registry import LocalRegistry
from hub.embedded.service import ServiceState
from hub.errors import ConfigurationError
from hub.pipeline import Pipeline
from hub.rules import RULES
from hub.rules.settings import load_institution_settings
from hub.settings import HubSettings
from hub.topics import TopicCatalog

__all__ = [
    "embedded_kafka",
    "embedded_registry",
    "kafka_bootstrap",
    "make_codec",
    "make_pipeline",
    "registry_url",
]


def embedded_kafka(settings: HubSettings, port: int | None = None) -> LocalKafka:
    return LocalKafka(settings.state_dir / "kafka", settings.cache_dir, port=port)


def embedded_registry(settings: HubSettings, port: int | None = None) -> LocalRegistry:
    return LocalRegistry(settings.state_dir / "registry", settings.cache_dir, port=port)


def kafka_bootstrap(settings: HubSettings, *, start: bool) -> str:
    """The configured bootstrap servers, or the embedded broker's (started if ``start``)."""
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    broker = embedded_kafka(settings)
    if start:
        return broker.start_broker().bootstrap_servers
    status = broker.status()
    if status.state is not ServiceState.RUNNING or status.record is None:
        raise ConfigurationError(
            f"no Kafka: HUB_KAFKA_BOOTSTRAP_SERVERS is unset and {status.message}."
            " Run 'hub kafka start', or set HUB_KAFKA_BOOTSTRAP_SERVERS."
        )
    return status.record.address


def registry_url(settings: HubSettings, *, start: bool) -> str | None:
    """The registry's Confluent API URL, or None for single-object encoding."""
    if settings.wire_format == "single-object":
        return None
    if settings.schema_registry_url:
        return settings.schema_registry_url
    registry = embedded_registry(settings)
    if start:
        return registry.start().record.address
    status = registry.status()
    if status.state is ServiceState.RUNNING and status.record is not None:
        return status.record.address
    if settings.wire_format == "confluent":
        raise ConfigurationError(
            f"no schema registry: HUB_SCHEMA_REGISTRY_URL is unset and {status.message}."
            " Run 'hub registry start', set HUB_SCHEMA_REGISTRY_URL, or set"
            " HUB_WIRE_FORMAT=single-object."
        )
    return None


def make_codec(catalog: SchemaCatalog, url: str | None) -> AvroCodec:
    """Confluent framing against the registry at ``url``; single-object without one."""
    if url is None:
        return SingleObjectCodec(catalog)
    return ConfluentCodec(catalog, RegistryClient(url))


def make_pipeline(settings: HubSettings, url: str | None) -> Pipeline:
    """The processing steps, configured from settings."""
    catalog = SchemaCatalog()
    return Pipeline(
        codec=make_codec(catalog, url),
        catalog=catalog,
        topics=TopicCatalog(prefix=settings.topic_prefix),
        secret=settings.pseudonym_secret.get_secret_value(),
        rule_settings=load_institution_settings(
            (rule.rule_id for rule in RULES), settings.institutions_file
        ),
        clock=settings.clock,
    )
