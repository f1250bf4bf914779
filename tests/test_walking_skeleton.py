"""The walking skeleton through the real broker and registry: a DFØ new hire without an
IAM account opens a task on hub.tasks; the account arriving resolves it."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from hub.embedded.process import free_port
from hub.pipeline import Pipeline
from hub.source_deletion import SourceDeletion
from tests.conftest import KafkaEndpoint
from tests.factories import SAMPLE_FNR, dfo_new_hire_body, iam_account
from tests.kafka_support import (
    TaskView,
    collect,
    dfo_connector,
    hub_pipeline,
    task_states,
    worker_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

RULE = "access.new_hire_without_account"


class TestWalkingSkeleton:
    async def test_new_hire_task_opens_then_resolves_when_account_arrives(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        """A new hire without an account opens one P1 task; an ACTIVE account resolves it."""
        pipeline: Pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        tasks = pipeline.topics.name("hub.tasks")
        audit = pipeline.topics.name("hub.task-events")
        web_port = free_port()
        worker = worker_for(
            kafka, registry_url, topic_prefix, tmp_path, {"HUB_WORKER_WEB_PORT": str(web_port)}
        )
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            with worker:
                connector = dfo_connector(producer, pipeline, "uio")
                assert await connector.publish(dfo_new_hire_body(start_in_days=5)) == "234567"
                opened = await collect(
                    kafka.bootstrap_servers,
                    [tasks],
                    until=lambda rs: "OPEN" in task_states(rs, tasks),
                    codec=pipeline.codec,
                    decode_topics=(tasks,),
                )
                task = TaskView.of(opened, tasks).latest
                assert len(task) == 1, f"one task expected, got {task}\n{worker.log()}"
                (first,) = task.values()
                assert first["rule_id"] == RULE
                assert first["severity"] == "P1"
                assert first["display_name"] == "Sigrid Bjørnstad"
                assert first["person_key"].startswith("p-")
                assert any(e["field"] == "start_date" for e in first["evidence"])
                assert all(SAMPLE_FNR.encode() not in (r.value or b"") for r in opened)

                account = iam_account(employee_id="00234567")
                value = await pipeline.codec.encode(
                    pipeline.topics.name("source.iam.account"),
                    pipeline.catalog["no.bott.hub.iam.Account"],
                    account,
                )
                await producer.send_and_wait(
                    pipeline.topics.name("source.iam.account"), key=b"acc-1", value=value
                )
                final = await collect(
                    kafka.bootstrap_servers,
                    [tasks, audit],
                    until=lambda rs: (
                        "RESOLVED" in task_states(rs, tasks)
                        and task_states(rs, audit).count("RESOLVED") >= 1
                    ),
                    codec=pipeline.codec,
                    decode_topics=(tasks, audit),
                )
                # The account is deleted in IAM: a tombstone saying so reopens the task.
                await producer.send_and_wait(
                    pipeline.topics.name("source.iam.account"),
                    key=b"acc-1",
                    value=None,
                    headers=SourceDeletion("uio", "acc-1").headers(),
                )
                metrics = await _metrics(web_port)
                reopened = await collect(
                    kafka.bootstrap_servers,
                    [audit],
                    until=lambda rs: task_states(rs, audit)[-1:] == ["OPEN"] and len(rs) >= 3,
                    codec=pipeline.codec,
                    decode_topics=(audit,),
                )
        finally:
            await producer.stop()
            await pipeline.codec.close()
        latest = TaskView.of(final, tasks).latest
        assert list(latest) == [first["task_id"]], "the account resolves the same task"
        resolved = latest[first["task_id"]]
        assert resolved["state"] == "RESOLVED"
        assert resolved["revision"] == first["revision"] + 1
        assert resolved["resolved_at"] is not None
        assert any("sigridb: ACTIVE" in (e["value"] or "") for e in resolved["resolution_evidence"])
        assert task_states(final, audit) == ["OPEN", "RESOLVED"], "both transitions are audited"
        assert task_states(reopened, audit) == ["OPEN", "RESOLVED", "OPEN"], (
            "a deleted account reopens the same task"
        )
        assert {r.decoded["task_id"] for r in reopened} == {first["task_id"]}
        rule = f'rule="{RULE}"'
        assert metrics[f'hub_task_transitions_total{{{rule},severity="P1",state="OPEN"}}'] == 1
        assert metrics[f'hub_task_transitions_total{{{rule},severity="P1",state="RESOLVED"}}'] == 1
        assert metrics['hub_records_in_total{topic="source.dfo.employee"}'] >= 1
        assert metrics['hub_records_out_total{topic="hub.tasks"}'] == 2
        assert metrics['hub_source_to_task_seconds_count{state="OPEN"}'] == 1


async def _metrics(port: int) -> dict[str, float]:
    """The worker's /metrics, as {"name{labels}": value}."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        text = await response.text()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values
