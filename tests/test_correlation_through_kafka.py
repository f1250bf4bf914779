"""Correlation through the real broker (topics of 4 partitions, two institutions): the
same records in two arrival orders give the same persons, links and disputes, and no
raw national ID or passport number reaches any topic or log after the connector."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from hub.avro.wire import read_body, single_object_unframe
from hub.pipeline import PERSON_STATE, Pipeline
from hub.privacy import mask_identifier, national_id_pseudonym, pseudonym
from tests.conftest import KafkaEndpoint
from tests.factories import DATA
from tests.kafka_support import WorkerProcess, dfo_connector, hub_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

FNR_A = "01017012345"  # Kari, hired, earlier a guest
FNR_TYPO = "01017012354"  # the same number with two digits swapped, in IAM
FNR_C = "15038512345"  # an employee at UiB
PASSPORT_A = "FK1234567"
RAW_NUMBERS = (FNR_A, FNR_TYPO, FNR_C, PASSPORT_A)
NOW = datetime.now(UTC).replace(microsecond=0)


def _dfo_body(number: str, fnr: str, institution_domain: str) -> bytes:
    body = json.loads((DATA / "dfo" / "ansatt_regular.json").read_text())
    person = body["ansatt"][0]
    person.update(
        {"id": number, "fnr": fnr, "startdato": (NOW.date() + timedelta(days=4)).isoformat()}
    )
    person["dfoBrukerident"] = f"X@{institution_domain}"
    return json.dumps(body).encode()


def _records(secret: str) -> list[tuple[str, dict[str, Any]]]:
    """Canonical records as the other connectors would publish them."""
    nin_a = national_id_pseudonym(secret, FNR_A)
    return [
        (
            "source.greg.person",
            {
                "institution": "uio",
                "source_system": "greg",
                "source_id": "31",
                "source_timestamp": NOW - timedelta(days=90),
                "greg_id": "31",
                "first_name": "Kari",
                "last_name": "Nordmann",
                "national_id_pseudonym": nin_a,
                "national_id_masked": mask_identifier(FNR_A),
                "passports": [
                    {
                        "country": "NO",
                        "pseudonym": pseudonym(secret, "passport", f"NO-{PASSPORT_A}"),
                        "masked": mask_identifier(PASSPORT_A),
                    }
                ],
                "roles": [],
                "consents": [],
                "identities": [],
            },
        ),
        (
            "source.iam.person",
            {
                "institution": "uio",
                "source_system": "cerebrum",
                "source_id": "9001",
                "source_timestamp": NOW,
                "iam_person_id": "9001",
                "style": "cerebrum",
                "national_id_pseudonym": nin_a,
                "national_id_masked": mask_identifier(FNR_A),
                "external_ids": [{"id_type": "GREG_PID", "value": "31"}],
                "usernames": ["karin"],
                "primary_username": "karin",
            },
        ),
        (
            "source.iam.person",
            {  # points at Kari's employee number, wrong national ID
                "institution": "uio",
                "source_system": "cerebrum",
                "source_id": "9002",
                "source_timestamp": NOW,
                "iam_person_id": "9002",
                "style": "cerebrum",
                "national_id_pseudonym": national_id_pseudonym(secret, FNR_TYPO),
                "national_id_masked": mask_identifier(FNR_TYPO),
                "external_ids": [{"id_type": "DFO_PID", "value": "00123456"}],
            },
        ),
        (
            "source.iam.account",
            {
                "institution": "uio",
                "source_system": "cerebrum",
                "source_id": "acc-karin",
                "source_timestamp": NOW,
                "iam_person_id": "9001",
                "username": "karin",
                "feide_principal_name": "karin@uio.no",
                "status": "ACTIVE",
            },
        ),
        (
            "source.dfo.position",
            {
                "institution": "uio",
                "source_id": "30012345",
                "position_id": "30012345",
                "source_timestamp": NOW,
                "holders": [{"employee_id": "123456"}, {"employee_id": "777"}],
            },
        ),
    ]


async def _run(
    kafka: KafkaEndpoint, registry_url: str, prefix: str, tmp_path: Path, reverse: bool
) -> tuple[Pipeline, dict[str, list[tuple[str, str]]], str]:
    """Publish the scenario in one order, run a worker until it is quiet, and return
    the final person views as {person key: [(record ref, link status)]}."""
    pipeline = await hub_pipeline(kafka, registry_url, prefix)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    connector = dfo_connector(producer, pipeline, "uio")
    uib = dfo_connector(producer, pipeline, "uib")
    steps: list[Any] = [
        ("dfo", connector, _dfo_body("00123456", FNR_A, "uio.no")),
        ("dfo", uib, _dfo_body("00555001", FNR_C, "uib.no")),
        *[("avro", source, record) for source, record in _records(pipeline.secret)],
    ]
    if reverse:
        steps = list(reversed(steps)) + steps[:2]  # another order, with duplicates
    for kind, target, payload in steps:
        if kind == "dfo":
            await target.publish(payload)
        else:
            schema = pipeline.topics[target].value_schema
            topic = pipeline.topics.name(target)
            value = await pipeline.codec.encode(topic, pipeline.catalog[schema], payload)
            await producer.send_and_wait(topic, key=payload["source_id"].encode(), value=value)
    await producer.stop()
    changelog = f"{prefix}university-hub-person-view-changelog"
    with WorkerProcess(
        bootstrap=kafka.bootstrap_servers,
        registry_url=registry_url,
        prefix=prefix,
        state_dir=tmp_path / prefix,
    ) as worker:
        views = await _quiet_views(kafka.bootstrap_servers, changelog, pipeline)
        log = worker.log()
    return pipeline, views, log


async def _quiet_views(
    bootstrap: str, changelog: str, pipeline: Pipeline, quiet_s: float = 6.0, within_s: float = 120
) -> dict[str, list[tuple[str, str]]]:
    """Read the person-view changelog until nothing new comes for ``quiet_s``."""
    schema = pipeline.catalog[PERSON_STATE]
    deadline = time.monotonic() + within_s
    while True:
        try:
            consumer = AIOKafkaConsumer(
                changelog, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
            )
            await consumer.start()
            break
        except Exception:
            await asyncio.sleep(1)
            if time.monotonic() > deadline:
                raise
    latest: dict[bytes, Any] = {}
    last_change = time.monotonic()
    try:
        while time.monotonic() - last_change < quiet_s or not latest:
            assert time.monotonic() < deadline, "the worker never went quiet"
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for m in messages:
                    last_change = time.monotonic()
                    if m.value is None:
                        latest.pop(m.key, None)
                    else:
                        _, body = single_object_unframe(m.value)
                        latest[m.key] = read_body(schema.parsed, schema.parsed, body)
    finally:
        await consumer.stop()
    return {
        state["person_key"]: sorted(
            (r["ref"], (r["link"] or {}).get("status", "")) for r in state["records"]
        )
        for state in latest.values()
        if state["records"]
    }


async def _partitions_by_key(bootstrap: str, topic: str) -> dict[bytes, set[int]]:
    """The partitions each key's records are on, the topic read to its end."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: dict[bytes, set[int]] = {}
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
        pending = {tp for tp, end in ends.items() if end > 0}
        while pending:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, messages in batch.items():
                for m in messages:
                    found.setdefault(m.key or b"", set()).add(m.partition)
                    if m.offset + 1 >= ends[tp]:
                        pending.discard(tp)
    finally:
        await consumer.stop()
    return found


async def _all_topic_bytes(bootstrap: str, prefix: str) -> dict[str, bytes]:
    """Every key, value and header byte on every topic of the run, read to the end."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    names = [t for t in await admin.list_topics() if t.startswith(prefix)]
    await admin.close()
    consumer = AIOKafkaConsumer(
        *names, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: dict[str, bytes] = {}
    try:
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp, end in ends.items() if end > 0}
        while pending:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, messages in batch.items():
                for m in messages:
                    blob = (m.key or b"") + (m.value or b"") + b"".join(v for _, v in m.headers)
                    found[m.topic] = found.get(m.topic, b"") + blob
                    if m.offset + 1 >= ends[tp]:
                        pending.discard(tp)
    finally:
        await consumer.stop()
    return found


class TestCorrelationThroughKafka:
    async def test_two_arrival_orders_give_the_same_persons_and_no_raw_numbers_leak(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        """Forward and reversed (with duplicates) arrival give identical person views;
        the guest, hire, IAM person, account and position meet in one person; the
        mistyped IAM person is disputed; and no topic or log holds a raw number."""
        first = f"{topic_prefix}a."
        second = f"{topic_prefix}b."
        pipeline, forward, log_forward = await _run(kafka, registry_url, first, tmp_path, False)
        _, backward, log_backward = await _run(kafka, registry_url, second, tmp_path, True)
        assert forward == backward, "the arrival order changed who is who"

        kari = [
            key for key, refs in forward.items() if ("source.dfo.employee/123456", "LINKED") in refs
        ]
        assert len(kari) == 1
        refs = dict(forward[kari[0]])
        assert refs["source.greg.person/31"] == "LINKED"
        assert refs["source.iam.person/9001"] == "LINKED"
        assert refs["source.iam.account/acc-karin"] == "LINKED"
        assert "source.dfo.position/30012345#123456" in refs
        disputed = [
            key for key, r in forward.items() if ("source.iam.person/9002", "DISPUTED") in r
        ]
        assert len(disputed) == 1
        assert disputed[0] != kari[0], "the typo is kept apart"
        uib = [
            key
            for key, r in forward.items()
            if any(ref.startswith("source.dfo.employee/555001") for ref, _ in r)
        ]
        assert len(uib) == 1
        assert uib[0] != kari[0]
        holder = [
            key
            for key, r in forward.items()
            if ("source.dfo.position/30012345#777", "UNMATCHED") in r
        ]
        assert len(holder) == 1, "the co-holder HR never sent is a person of its own"

        # Kafka's hash would put UiB on partition 2 of 4, with UiT and NTNU; the
        # institutions take the partitions in order (hub.correlation.partition).
        placed = await _partitions_by_key(kafka.bootstrap_servers, f"{first}hub.identity-input")
        assert placed == {b"uib": {0}, b"uio": {1}}

        for prefix, log in ((first, log_forward), (second, log_backward)):
            topics = await _all_topic_bytes(kafka.bootstrap_servers, prefix)
            assert f"{prefix}hub.person-events" in topics
            assert f"{prefix}hub.tasks" in topics
            for topic, blob in topics.items():
                for raw in RAW_NUMBERS:
                    assert raw.encode() not in blob, f"{raw} reached {topic}"
            for raw in RAW_NUMBERS:
                assert raw not in log, f"{raw} reached the worker's log"
        await pipeline.codec.close()
