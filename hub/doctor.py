"""``hub doctor``: check what the hub needs, and say what is wrong and how to fix it.

Each check gives a :class:`Finding` (ok, warning or failure) with a fix to try. The
checks run in order and later ones are skipped when what they need is missing (no
topic check without a broker). Nothing secret is printed: settings that are secrets
are reported only as set or not set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import aiohttp

from hub.errors import HubError
from hub.kafka_security import kafka_client_options
from hub.settings import HubSettings
from hub.topics import TopicCatalog

__all__ = ["Finding", "Status", "run_doctor"]

_TIMEOUT_S = 8.0


class Status(Enum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"


@dataclass(frozen=True)
class Finding:
    """The result of one check."""

    check: str
    status: Status
    message: str
    fix: str = ""

    def lines(self) -> list[str]:
        mark = {Status.OK: "ok  ", Status.WARNING: "warn", Status.FAILED: "FAIL"}[self.status]
        shown = [f"[{mark}] {self.check}: {self.message}"]
        if self.fix and self.status is not Status.OK:
            shown.append(f"       fix: {self.fix}")
        return shown


def _settings_findings(settings: HubSettings) -> list[Finding]:
    """Settings that are allowed but unwise."""
    if settings.uses_dev_secret:
        return [
            Finding(
                "pseudonym secret",
                Status.WARNING,
                "the development secret is in use: pseudonyms can be recomputed by anyone",
                "set HUB_PSEUDONYM_SECRET to a long random value kept in your secret store",
            )
        ]
    return [Finding("pseudonym secret", Status.OK, "set (value not shown)")]


def _correlation_finding(catalog: TopicCatalog) -> Finding:
    """Whether each university is correlated on a partition (a worker) of its own."""
    from hub.correlation.partition import institutions_by_partition  # noqa: PLC0415

    topic = "hub.identity-input"
    placed = institutions_by_partition(catalog[topic].partitions)
    shared = {p: names for p, names in placed.items() if len(names) > 1}
    if not shared:
        where = ", ".join(f"{names[0]} {p}" for p, names in sorted(placed.items()))
        return Finding(
            "correlation", Status.OK, f"each university on a partition of its own ({where})"
        )
    partition, names = min(shared.items())
    return Finding(
        "correlation",
        Status.WARNING,
        f"{' and '.join(names)} share partition {partition} of {topic}: one worker"
        " correlates all their records",
        f"give {topic} at least {sum(len(n) for n in placed.values())} partitions in"
        " deploy/topics.yaml (see 'Add partitions' in docs/operations.md)",
    )


async def _kafka(bootstrap: str) -> tuple[Finding, Any]:
    from aiokafka.admin import AIOKafkaAdminClient  # noqa: PLC0415

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **kafka_client_options()
    )
    try:
        await asyncio.wait_for(admin.start(), _TIMEOUT_S)
        cluster = await asyncio.wait_for(admin.describe_cluster(), _TIMEOUT_S)
    except Exception as exc:
        await admin.close()
        return (
            Finding(
                "kafka",
                Status.FAILED,
                f"no broker answers at {bootstrap} ({str(exc) or type(exc).__name__})",
                "start it ('hub kafka start' for the embedded one) or correct"
                " HUB_KAFKA_BOOTSTRAP_SERVERS",
            ),
            None,
        )
    brokers = len(cluster.get("brokers") or [])
    return Finding("kafka", Status.OK, f"{brokers} broker(s) answer at {bootstrap}"), admin


async def _topics(admin: Any, catalog: TopicCatalog) -> Finding:
    from hub.topic_admin import plan_topics, read_topics  # noqa: PLC0415

    changes = plan_topics(catalog, await read_topics(admin, [s.name for s in catalog]))
    if not changes:
        return Finding("topics", Status.OK, "every topic matches deploy/topics.yaml")
    missing = sum(1 for c in changes if c.kind == "create")
    status = Status.FAILED if any(c.kind == "cannot" for c in changes) else Status.WARNING
    return Finding(
        "topics",
        status,
        f"{len(changes)} difference(s) from deploy/topics.yaml ({missing} topic(s) missing):"
        f" {changes[0].line()}",
        "run 'hub topics apply --dry-run' to see them all, then 'hub topics apply'",
    )


async def _registry(url: str | None) -> Finding:
    if url is None:
        return Finding("schema registry", Status.OK, "not used (single-object Avro encoding)")
    timeout = aiohttp.ClientTimeout(total=_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{url.rstrip('/')}/subjects") as response,
        ):
            if response.status != 200:
                return Finding(
                    "schema registry",
                    Status.FAILED,
                    f"{url} answers HTTP {response.status} to GET /subjects",
                    "check that HUB_SCHEMA_REGISTRY_URL is the Confluent-compatible API"
                    " (Apicurio: .../apis/ccompat/v7)",
                )
            subjects = await response.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Finding(
            "schema registry",
            Status.FAILED,
            f"no registry answers at {url} ({type(exc).__name__})",
            "start it ('hub registry start' for the embedded one), correct"
            " HUB_SCHEMA_REGISTRY_URL, or set HUB_WIRE_FORMAT=single-object",
        )
    return Finding("schema registry", Status.OK, f"{url} answers ({len(subjects)} subjects)")


async def _workers(bootstrap: str, settings: HubSettings, catalog: TopicCatalog) -> Finding:
    from hub.consumer_lag import hub_reads, read_lag, total_lag  # noqa: PLC0415

    group = settings.topic_prefix + settings.app_id
    lag = await read_lag(bootstrap, group, hub_reads(group, catalog))
    rows = [row for row in lag if row.group == group]
    if not rows:
        return Finding(
            "workers",
            Status.WARNING,
            f"consumer group {group} has committed nothing: no worker has run yet",
            "start one with 'hub worker'",
        )
    behind = total_lag(rows)[group]
    return Finding("workers", Status.OK, f"consumer group {group} is {behind} record(s) behind")


async def _dead_letters(bootstrap: str, admin: Any, catalog: TopicCatalog) -> Finding:
    from hub.partitions import partition_offsets, topic_partitions  # noqa: PLC0415

    topic = catalog.name("hub.deadletter")
    numbers = await topic_partitions(admin, topic)
    begins, ends = await partition_offsets(bootstrap, [(topic, p) for p in numbers])
    kept = sum(ends[p] - begins[p] for p in ends)
    if kept:
        return Finding(
            "dead letters",
            Status.WARNING,
            f"{kept} record(s) on {topic}",
            f"read them with 'hub tail {topic} --pretty'; the runbook in docs/operations.md"
            " says how to replay them after a fix",
        )
    return Finding("dead letters", Status.OK, f"none on {topic}")


Check = Callable[[], Awaitable[Finding]]


async def run_doctor(
    settings: HubSettings, extra_checks: list[Check] | None = None
) -> list[Finding]:
    """Every check, in order. ``extra_checks`` (e.g. the configured sources) run last."""
    from hub.endpoints import kafka_bootstrap, registry_url  # noqa: PLC0415

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the findings say it once
    findings = _settings_findings(settings)
    catalog = TopicCatalog(prefix=settings.topic_prefix)
    findings.append(_correlation_finding(catalog))
    try:
        bootstrap = kafka_bootstrap(settings, start=False)
    except HubError as exc:
        findings.append(
            Finding("kafka", Status.FAILED, str(exc), "run 'hub kafka start' or set the servers")
        )
        bootstrap = None
    if bootstrap is not None:
        kafka, admin = await _kafka(bootstrap)
        findings.append(kafka)
        if admin is not None:
            try:
                findings.append(await _topics(admin, catalog))
                findings.append(await _workers(bootstrap, settings, catalog))
                findings.append(await _dead_letters(bootstrap, admin, catalog))
            finally:
                await admin.close()
    try:
        findings.append(await _registry(registry_url(settings, start=False)))
    except HubError as exc:
        findings.append(
            Finding(
                "schema registry",
                Status.FAILED,
                str(exc),
                "run 'hub registry start' or set HUB_SCHEMA_REGISTRY_URL",
            )
        )
    for check in extra_checks or []:
        findings.append(await check())
    return findings
