"""The hub's topics, as ``deploy/topics.yaml`` declares them, and creating them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hub.errors import ConfigurationError

__all__ = ["TOPICS_FILE", "TopicSpec", "TopicCatalog", "ensure_topics"]

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


class TopicCatalog:
    """The topics of ``deploy/topics.yaml``, named with a prefix (empty in production)."""

    def __init__(self, prefix: str = "", path: Path = TOPICS_FILE) -> None:
        try:
            raw: Any = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read the topic catalogue {path}: {exc}") from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("topics"), dict):
            raise ConfigurationError(f"{path}: expected a mapping with a 'topics' mapping")
        defaults = raw.get("defaults") or {}
        self.prefix = prefix
        self._specs: dict[str, TopicSpec] = {}
        for logical, body in raw["topics"].items():
            body = body or {}
            policy = body.get("cleanup_policy", "delete")
            if policy not in ("delete", "compact", "compact,delete"):
                raise ConfigurationError(f"{path}: topic {logical}: bad cleanup_policy {policy!r}")
            self._specs[logical] = TopicSpec(
                logical_name=logical,
                name=prefix + logical,
                partitions=int(body.get("partitions", defaults.get("partitions", 1))),
                replication_factor=int(
                    body.get("replication_factor", defaults.get("replication_factor", 1))
                ),
                cleanup_policy=policy,
                retention_ms=body.get("retention_ms"),
                value_schema=body.get("value_schema"),
                description=str(body.get("description", "")),
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
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: PLC0415

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in catalog if spec.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=spec.name,
                        num_partitions=spec.partitions,
                        replication_factor=spec.replication_factor,
                        topic_configs=spec.config(),
                    )
                    for spec in missing
                ]
            )
        return [spec.name for spec in missing]
    finally:
        await admin.close()
