"""Bad input through the real broker: every malformed, truncated, wrong-typed or hostile
record lands on hub.deadletter with headers saying where it came from and why, and the
next good record is still processed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from connectors.dfo.mapping import map_employee
from hub.avro.wire import confluent_frame, confluent_unframe
from tests.conftest import KafkaEndpoint
from tests.factories import SAMPLE_FNR, dfo_new_hire_body
from tests.kafka_support import (
    TaskView,
    collect,
    dfo_connector,
    hub_pipeline,
    produce,
    task_states,
    worker_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.registry]


def _zigzag_varint(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


class TestDeadLetters:
    async def test_bad_records_become_dead_letters_and_processing_goes_on(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        """Each bad record is dead-lettered with its origin and error; the good one after
        them still opens its task."""
        pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        employees = pipeline.topics.name("source.dfo.employee")
        accounts = pipeline.topics.name("source.iam.account")
        dead = pipeline.topics.name("hub.deadletter")
        tasks = pipeline.topics.name("hub.tasks")
        employee_schema = pipeline.catalog["no.bott.hub.dfo.Employee"]
        good_employee = map_employee(
            json.loads(dfo_new_hire_body(start_in_days=3, employee_id="00777001")),
            institution="uio",
            secret=pipeline.secret,
            fetched_at=datetime.now(UTC),
        )
        good = await pipeline.codec.encode(employees, employee_schema, good_employee)
        schema_id, body = confluent_unframe(good)
        # A Position, registered under another subject, put on the employee topic.
        position = {
            "institution": "uio",
            "source_id": "30012400",
            "source_timestamp": datetime.now(UTC),
            "position_id": "30012400",
        }
        wrong_type = await pipeline.codec.encode(
            f"{topic_prefix}elsewhere", pipeline.catalog["no.bott.hub.dfo.Position"], position
        )
        bad = {
            "invalid JSON": b'{"ansatt": [{"id": "001',
            "JSON where Avro belongs": json.dumps({"employee_id": SAMPLE_FNR}).encode(),
            "truncated Avro": good[:-7],
            "wrong type": wrong_type,
            "unknown schema id": confluent_frame(2**31 - 1, body),
            "hostile length": confluent_frame(schema_id, _zigzag_varint(2**60)),
            "trailing garbage": good + b"\x00\x01\x02",
            "empty value": b"",
            "tombstone": None,
        }
        placed = await produce(
            kafka.bootstrap_servers,
            employees,
            [(f"bad-{i}".encode(), value) for i, value in enumerate(bad.values())],
        )
        account_bad = await produce(kafka.bootstrap_servers, accounts, [(b"acc", b"\x00\x00")])
        await produce(kafka.bootstrap_servers, employees, [(b"777001", good)])
        expected = len(bad) + 1
        with worker_for(kafka, registry_url, topic_prefix, tmp_path) as worker:
            seen = await collect(
                kafka.bootstrap_servers,
                [dead, tasks],
                until=lambda rs: (
                    sum(r.topic == dead for r in rs) >= expected
                    and "OPEN" in task_states(rs, tasks)
                ),
                codec=pipeline.codec,
                decode_topics=(tasks,),
            )
            log = worker.log()
        await pipeline.codec.close()
        letters = {
            (
                r.headers["hub.source.topic"],
                r.headers["hub.source.partition"],
                r.headers["hub.source.offset"],
            ): r
            for r in seen
            if r.topic == dead
        }
        assert len(letters) == expected, f"dead letters: {list(letters)}\n{log}"
        for (name, value), (partition, offset) in zip(bad.items(), placed, strict=True):
            letter = letters[(employees, str(partition), str(offset))]
            assert letter.headers["hub.stage"] == "route", name
            assert letter.headers["hub.error"], name
            assert letter.headers["hub.error.type"], name
            assert letter.value == value, f"{name}: the original bytes are kept"
            assert SAMPLE_FNR not in letter.headers["hub.error"], name
        assert (accounts, str(account_bad[0][0]), str(account_bad[0][1])) in letters
        errors = {
            name: letters[(employees, str(part), str(off))].headers["hub.error"]
            for name, (part, off) in zip(bad, placed, strict=True)
        }
        assert "looks like JSON" in errors["invalid JSON"]
        assert "truncated" in errors["truncated Avro"]
        assert "not in the registry" in errors["unknown schema id"]
        assert "trailing" in errors["trailing garbage"]
        assert "wrong type" in errors["wrong type"]
        assert len(errors["hostile length"]) < 400, "errors stay short and readable"
        assert SAMPLE_FNR not in log, "the national ID never reaches the worker's log"
        rules = {t["rule_id"] for t in TaskView.of(seen, tasks).latest.values()}
        assert "access.new_hire_without_account" in rules, "the good record still counts"

    async def test_connector_dead_letters_unmappable_dfo_bodies(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str
    ) -> None:
        """The DFØ connector sends bodies it cannot read or map to hub.deadletter, naming
        itself and the problem, and publishes nothing for them."""
        pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        dead = pipeline.topics.name("hub.deadletter")
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            connector = dfo_connector(producer, pipeline, "uio")
            wrong_date = json.loads(dfo_new_hire_body())
            wrong_date["ansatt"][0]["startdato"] = "2026-13-45"
            bodies = [b"<html>502 Bad Gateway</html>", json.dumps(wrong_date).encode()]
            results = [await connector.publish(b) for b in bodies]
            seen = await collect(
                kafka.bootstrap_servers, [dead], until=lambda rs: len(rs) >= len(bodies)
            )
        finally:
            await producer.stop()
            await pipeline.codec.close()
        assert results == [None, None]
        by_body = {r.value: r.headers for r in seen}
        assert sorted(by_body) == sorted(bodies), "each body is kept as it came"
        for headers in by_body.values():
            assert headers["hub.connector"] == "dfo-employee"
            assert headers["hub.stage"] == "connector"
            assert SAMPLE_FNR not in headers["hub.error"]
        assert "not valid JSON" in by_body[bodies[0]]["hub.error"]
        assert "startdato" in by_body[bodies[1]]["hub.error"]
        assert "234567" in by_body[bodies[1]]["hub.error"], "the error names the record"
