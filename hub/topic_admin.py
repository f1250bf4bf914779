"""Bring a cluster's topics in line with ``deploy/topics.yaml`` (``hub topics apply``).

:func:`plan_topics` compares the catalogue with what the cluster has and says what to
change; it is pure. :func:`apply_topics` reads the cluster, plans, and (unless it is a
dry run) makes the changes Kafka allows:

- a missing topic is created with its partitions and configuration;
- a topic with fewer partitions than declared gets more (keys move partition: the
  runbook in docs/operations.md says when that is safe);
- ``cleanup.policy`` and ``retention.ms`` are set where they differ. Other dynamic
  settings an operator gave a topic are kept.

Kafka cannot take partitions away or change a replication factor in place; such a
difference is reported as ``cannot`` and left to a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hub.kafka_security import kafka_client_options
from hub.topics import TopicCatalog, TopicSpec, create_topics

__all__ = ["TopicChange", "TopicState", "apply_topics", "plan_topics", "read_topics"]

ChangeKind = Literal["create", "add-partitions", "set-config", "cannot"]
_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself


@dataclass(frozen=True)
class TopicState:
    """A topic as the cluster has it: partitions, replication and the settings given
    to the topic itself (not the broker's defaults)."""

    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicChange:
    """One difference between the catalogue and the cluster, and what to do about it."""

    kind: ChangeKind
    topic: str
    detail: str
    spec: TopicSpec
    config: Mapping[str, str] = field(default_factory=dict)  # the full config to set

    def line(self) -> str:
        return f"{self.kind:15} {self.topic}: {self.detail}"


def plan_topics(catalog: TopicCatalog, existing: Mapping[str, TopicState]) -> list[TopicChange]:
    """The changes that make the cluster's topics match the catalogue, topic by topic."""
    changes: list[TopicChange] = []
    for spec in catalog:
        state = existing.get(spec.name)
        if state is None:
            detail = f"{spec.partitions} partitions, " + _describe(spec.config())
            changes.append(TopicChange("create", spec.name, detail, spec, spec.config()))
            continue
        if state.partitions < spec.partitions:
            changes.append(
                TopicChange(
                    "add-partitions",
                    spec.name,
                    f"{state.partitions} → {spec.partitions} partitions",
                    spec,
                )
            )
        elif state.partitions > spec.partitions:
            changes.append(
                TopicChange(
                    "cannot",
                    spec.name,
                    f"has {state.partitions} partitions, the catalogue says {spec.partitions};"
                    " Kafka cannot remove partitions (raise the catalogue's number instead)",
                    spec,
                )
            )
        if state.replication_factor != spec.replication_factor:
            changes.append(
                TopicChange(
                    "cannot",
                    spec.name,
                    f"replication factor {state.replication_factor}, the catalogue says"
                    f" {spec.replication_factor}; reassign partitions with"
                    " kafka-reassign-partitions.sh",
                    spec,
                )
            )
        wanted = spec.config()
        differing = {k: v for k, v in wanted.items() if state.config.get(k) != v}
        if differing:
            shown = ", ".join(
                f"{k} {state.config.get(k, '(broker default)')} → {v}"
                for k, v in sorted(differing.items())
            )
            changes.append(
                TopicChange("set-config", spec.name, shown, spec, {**state.config, **wanted})
            )
    return changes


def _describe(config: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items()))


async def read_topics(admin: Any, names: list[str]) -> dict[str, TopicState]:
    """The named topics that exist on the cluster, with their own settings."""
    from aiokafka.admin.config_resource import (  # noqa: PLC0415
        ConfigResource,
        ConfigResourceType,
    )

    present = sorted(set(await admin.list_topics()) & set(names))
    if not present:
        return {}
    described = await admin.describe_topics(present)
    shapes: dict[str, tuple[int, int]] = {}
    for topic in described:
        partitions = topic.get("partitions") or []
        replicas = max((len(p.get("replicas") or []) for p in partitions), default=0)
        shapes[topic["topic"]] = (len(partitions), replicas)
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in present]
    )
    configs: dict[str, dict[str, str]] = {name: {} for name in present}
    for response in responses:
        for resource in response.resources:
            _error_code, _message, _kind, name, entries = resource[:5]
            configs[name] = _own_settings(entries, response.API_VERSION)
    return {
        name: TopicState(name, shapes[name][0], shapes[name][1], configs.get(name, {}))
        for name in present
        if name in shapes
    }


def _own_settings(entries: list[tuple[Any, ...]], version: int) -> dict[str, str]:
    """The settings given to the topic itself, from DescribeConfigs entries."""
    own: dict[str, str] = {}
    for entry in entries:
        name, value = entry[0], entry[1]
        if version == 0:
            is_default = bool(entry[3])
            set_here = not is_default
        else:
            set_here = entry[3] == _DYNAMIC_TOPIC_CONFIG
        if set_here and value is not None:
            own[str(name)] = str(value)
    return own


async def apply_topics(
    bootstrap_servers: str, catalog: TopicCatalog, *, dry_run: bool
) -> list[TopicChange]:
    """Plan the changes against the cluster and, unless ``dry_run``, make them."""
    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions  # noqa: PLC0415
    from aiokafka.admin.config_resource import (  # noqa: PLC0415
        ConfigResource,
        ConfigResourceType,
    )

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **kafka_client_options())
    await admin.start()
    try:
        existing = await read_topics(admin, [spec.name for spec in catalog])
        changes = plan_topics(catalog, existing)
        if dry_run:
            return changes
        await create_topics(admin, [c.spec for c in changes if c.kind == "create"])
        growth = {
            c.topic: NewPartitions(total_count=c.spec.partitions)
            for c in changes
            if c.kind == "add-partitions"
        }
        if growth:
            await admin.create_partitions(growth)
        settings = [
            ConfigResource(ConfigResourceType.TOPIC, c.topic, configs=dict(c.config))
            for c in changes
            if c.kind == "set-config"
        ]
        if settings:
            await admin.alter_configs(settings)
        return changes
    finally:
        await admin.close()
