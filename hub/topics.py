"""The hub's topics, as ``deploy/topics.yaml`` declares them, and creating them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ConfigurationError
from hub.kafka_security import kafka_client_options

__all__ = [
    "TOPICS_FILE",
    "TopicCatalog",
    "TopicSpec",
    "create_topics",
    "ensure_topic_specs",
    "ensure_topics",
]

TOPICS_FILE = Path(__file__).resolve().parents[1] / "deploy" / "topics.yaml"


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its logical name, its name on the cluster and its configuration."""

    logical_name: str
    name: str
    partitions: int
    replication_factor: int
    cleanup_policy: str
    retention_ms: int | None
    value_schema: str | None
    description: str

    def config(self) -> dict[str, str]:
        config = {"cleanup.policy": self.cleanup_policy}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        return config


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    partitions: int = Field(default=1, ge=1, le=10_000)
    replication_factor: int = Field(default=1, ge=1, le=16)


class _TopicEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    description: str = ""
    key: str = ""
    value_schema: str | None = None
    cleanup_policy: Literal["delete", "compact", "compact,delete"] = "delete"
    retention_ms: int | None = Field(default=None, ge=-1)
    partitions: int | None = Field(default=None, ge=1, le=10_000)
    replication_factor: int | None = Field(default=None, ge=1, le=16)


class _TopicsFile(BaseModel):
    """The shape of deploy/topics.yaml."""

    model_config = ConfigDict(extra="forbid", strict=True)

    defaults: _Defaults = Field(default_factory=_Defaults)
    topics: dict[str, _TopicEntry]


class TopicCatalog:
    """The topics of ``deploy/topics.yaml``, named with a prefix (empty in production)."""

    def __init__(self, prefix: str = "", path: Path = TOPICS_FILE) -> None:
        try:
            raw: Any = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read the topic catalogue {path}: {exc}") from exc
        try:
            declared = _TopicsFile.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {err['input']!r})"
                for err in exc.errors()
            )
            raise ConfigurationError(f"{path}: {problems}") from None
        self.prefix = prefix
        self._specs: dict[str, TopicSpec] = {}
        for logical, entry in declared.topics.items():
            self._specs[logical] = TopicSpec(
                logical_name=logical,
                name=prefix + logical,
                partitions=entry.partitions or declared.defaults.partitions,
                replication_factor=entry.replication_factor or declared.defaults.replication_factor,
                cleanup_policy=entry.cleanup_policy,
                retention_ms=entry.retention_ms,
                value_schema=entry.value_schema,
                description=entry.description,
            )

    def __getitem__(self, logical_name: str) -> TopicSpec:
        try:
            return self._specs[logical_name]
        except KeyError:
            raise ConfigurationError(f"no topic {logical_name!r} in the topic catalogue") from None

    def __iter__(self) -> Any:
        return iter(self._specs.values())

    def name(self, logical_name: str) -> str:
        """The topic's name on the cluster."""
        return self[logical_name].name


async def ensure_topics(bootstrap_servers: str, catalog: TopicCatalog) -> list[str]:
    """Create the catalogue's topics that do not exist yet; return the names created."""
    return await ensure_topic_specs(bootstrap_servers, list(catalog))


async def ensure_topic_specs(bootstrap_servers: str, specs: list[TopicSpec]) -> list[str]:
    """Create the topics of ``specs`` that do not exist yet; return the names created."""
    from aiokafka.admin import AIOKafkaAdminClient  # noqa: PLC0415

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **kafka_client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        await create_topics(admin, missing)
        return [spec.name for spec in missing]
    finally:
        await admin.close()


async def create_topics(admin: Any, specs: list[TopicSpec]) -> None:
    """Create topics as declared, and wait until each partition has a leader."""
    from aiokafka.admin import NewTopic  # noqa: PLC0415

    if not specs:
        return
    await admin.create_topics(
        [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                topic_configs=spec.config(),
            )
            for spec in specs
        ]
    )
    await _wait_for_leaders(admin, [spec.name for spec in specs])


async def _wait_for_leaders(admin: Any, names: list[str], within_s: float = 30.0) -> None:
    """Wait until every partition of the new topics has a leader, so the first send
    does not meet NOT_LEADER errors."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while loop.time() < deadline:
        described = await admin.describe_topics(names)
        if all(
            topic.get("error_code", 0) == 0
            and topic.get("partitions")
            and all(p.get("leader", -1) >= 0 for p in topic["partitions"])
            for topic in described
        ):
            # The metadata names a leader a moment before the leader has loaded the new
            # partitions; the first sends would meet NOT_LEADER retries without this.
            await asyncio.sleep(1.0)
            return
        await asyncio.sleep(0.2)
