"""Reprocessing after a fix: `hub replay --since` after a rule change, and
`hub deadletters replay` after the cause of dead letters is fixed. Neither opens a
second task."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from hub.deadletter import dead_letter_headers
from hub.errors import MappingError
from hub.replay import Rewind, plan_rewind
from tests.conftest import KafkaEndpoint
from tests.factories import dfo_new_hire_body
from tests.kafka_support import (
    Collected,
    WorkerProcess,
    caught_up,
    collect,
    dfo_connector,
    hub_pipeline,
    run_hub,
    worker_for,
)

RULE = "access.new_hire_without_account"


class TestPlanRewind:
    def test_partitions_move_back_to_the_moment_and_never_forward(self) -> None:
        plan = plan_rewind(
            committed={("s", 0): 10, ("s", 1): 3, ("s", 2): 7},
            at_time={("s", 0): 4, ("s", 1): 5, ("s", 2): None, ("s", 3): 0, ("s", 4): None},
            ends={("s", 0): 10, ("s", 1): 6, ("s", 2): 7, ("s", 3): 2, ("s", 4): 0},
        )
        assert plan == [
            Rewind("s", 0, 10, 4),  # back to the moment
            Rewind("s", 3, None, 0),  # never read: from the moment
        ]  # s1 read less than the moment, s2 has nothing since, s4 is empty: all stay


def _audit(records: list[Collected], topic: str) -> list[tuple[str, str]]:
    return [
        (r.decoded["task_id"], r.decoded["state"])
        for r in records
        if r.topic == topic and r.decoded
    ]


@pytest.mark.kafka
@pytest.mark.registry
class TestReplay:
    async def test_a_replay_after_a_rule_fix_resolves_without_a_second_task(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        audit = pipeline.topics.name("hub.task-events")
        env = {
            "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "HUB_SCHEMA_REGISTRY_URL": registry_url,
            "HUB_TOPIC_PREFIX": topic_prefix,
        }
        group = f"{topic_prefix}university-hub"
        before = datetime.now(UTC) - timedelta(seconds=5)
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            await dfo_connector(producer, pipeline).publish(dfo_new_hire_body(start_in_days=5))
        finally:
            await producer.stop()

        def worker(extra: dict[str, str] | None = None) -> WorkerProcess:
            return worker_for(kafka, registry_url, topic_prefix, tmp_path, extra)

        def opened(records: list[Collected]) -> bool:
            return any(state == "OPEN" for _, state in _audit(records, audit))

        with worker():
            first = await collect(
                kafka.bootstrap_servers,
                [audit],
                codec=pipeline.codec,
                decode_topics=(audit,),
                until=opened,
            )
            await caught_up(pipeline, kafka.bootstrap_servers, group)
        live = run_hub(env, "replay", "--since", before.astimezone().strftime("%Y-%m-%dT%H:%M:%S"))
        assert live.returncode == 0, live.stderr
        assert "moved" in live.stdout, live.stdout

        # The same rules again: the replay opens nothing new.
        with worker():
            await caught_up(pipeline, kafka.bootstrap_servers, group)
            again = await collect(
                kafka.bootstrap_servers,
                [audit],
                codec=pipeline.codec,
                decode_topics=(audit,),
                until=opened,
            )
        assert _audit(again, audit) == _audit(first, audit), "a replay duplicates nothing"

        # The rule is "fixed": with 2 lead days a start in 5 days is no finding yet.
        fixed = tmp_path / "institutions.yaml"
        fixed.write_text(
            f"institutions:\n  uio:\n    rules:\n      {RULE}:\n        lead_days: 2\n"
        )
        assert run_hub(env, "replay", "--since", before.strftime("%Y-%m-%d")).returncode == 0
        with worker({"HUB_INSTITUTIONS_FILE": str(fixed)}) as fixed_worker:
            try:
                final = await collect(
                    kafka.bootstrap_servers,
                    [audit],
                    codec=pipeline.codec,
                    decode_topics=(audit,),
                    until=lambda rs: "RESOLVED" in {s for _, s in _audit(rs, audit)},
                )
            except AssertionError as missing:
                log = fixed_worker.log()
                raise AssertionError(
                    f"{missing}\n--- the workers' log, its end ---\n{log[-8000:]}"
                ) from missing
        await pipeline.codec.close()
        transitions = _audit(final, audit)
        assert [state for _, state in transitions] == ["OPEN", "RESOLVED"]
        assert len({task for task, _ in transitions}) == 1, "the same task resolves"

    async def test_a_running_worker_is_not_rewound(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        await hub_pipeline(kafka, registry_url, topic_prefix)
        env = {
            "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "HUB_SCHEMA_REGISTRY_URL": registry_url,
            "HUB_TOPIC_PREFIX": topic_prefix,
        }
        with worker_for(kafka, registry_url, topic_prefix, tmp_path) as worker:
            for _ in range(120):
                if "Worker ready" in worker.log():
                    break
                await asyncio.sleep(0.5)
            refused = run_hub(env, "replay", "--since", "2026-01-01")
        assert refused.returncode == 1
        assert "running member(s): stop the workers" in refused.stderr

    async def test_dead_letters_go_back_where_they_came_from(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        """A record that failed for a reason since fixed is processed when replayed; a
        connector's raw source data is left for the connector."""
        pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        employees = pipeline.topics.name("source.dfo.employee")
        tasks = pipeline.topics.name("hub.tasks")
        dead = pipeline.topics.name("hub.deadletter")
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            # An employee record that failed in the route stage before the fix...
            encoded = await _encoded_new_hire(pipeline)
            await producer.send_and_wait(
                dead,
                key=b"234567",
                value=encoded,
                headers=dead_letter_headers(
                    source_topic=employees,
                    partition=0,
                    offset=7,
                    error=MappingError("a bug since fixed"),
                    stage="route",
                ),
            )
            # ...and a DFØ body the connector could not map.
            await producer.send_and_wait(
                dead,
                value=b'{"ansatt": "not a list"}',
                headers=dead_letter_headers(
                    source_topic="dfo:ansatte",
                    partition=None,
                    offset=None,
                    error=MappingError("no"),
                    stage="connector",
                ),
            )
        finally:
            await producer.stop()
        env = {
            "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "HUB_SCHEMA_REGISTRY_URL": registry_url,
            "HUB_TOPIC_PREFIX": topic_prefix,
        }
        dry = run_hub(env, "deadletters", "replay", "--dry-run")
        assert f"would send 1 back to {employees}" in dry.stdout, dry.stderr
        assert "left 1 from dfo:ansatte" in dry.stdout
        only_connector = run_hub(env, "deadletters", "replay", "--stage", "connector", "--dry-run")
        assert "would send" not in only_connector.stdout
        done = run_hub(env, "deadletters", "replay")
        assert f"sent 1 back to {employees}" in done.stdout, done.stderr
        with worker_for(kafka, registry_url, topic_prefix, tmp_path):
            seen = await collect(
                kafka.bootstrap_servers,
                [tasks],
                codec=pipeline.codec,
                decode_topics=(tasks,),
                until=lambda rs: any(r.decoded and r.decoded["rule_id"] == RULE for r in rs),
            )
        await pipeline.codec.close()
        assert {r.decoded["state"] for r in seen if r.decoded} == {"OPEN"}


async def _encoded_new_hire(pipeline: object) -> bytes:
    """A DFØ new hire as the connector encodes it for source.dfo.employee."""
    from connectors.dfo.mapping import map_employee  # noqa: PLC0415

    record = map_employee(
        json.loads(dfo_new_hire_body(start_in_days=5)),
        institution="uio",
        secret=pipeline.secret,  # type: ignore[attr-defined]
        fetched_at=datetime.now(UTC),
    )
    topic = pipeline.topics.name("source.dfo.employee")  # type: ignore[attr-defined]
    return await pipeline.codec.encode(  # type: ignore[attr-defined, no-any-return]
        topic,
        pipeline.catalog["no.bott.hub.dfo.Employee"],  # type: ignore[attr-defined]
        record,
    )
