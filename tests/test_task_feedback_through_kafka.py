"""Exceptions from the command line through the real broker: `hub tasks suppress`
suppresses an open task, `hub tasks unsuppress` reopens it, `hub tasks list` shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from tests.conftest import KafkaEndpoint
from tests.factories import dfo_new_hire_body
from tests.kafka_support import (
    TaskView,
    collect,
    dfo_connector,
    hub_pipeline,
    run_hub_async,
    task_states,
    worker_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.registry]


class TestTaskFeedback:
    async def test_suppress_and_unsuppress_from_the_cli(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        """An open task is suppressed with its reason, listed as such, then reopened."""
        pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        tasks = pipeline.topics.name("hub.tasks")
        env = {
            "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "HUB_SCHEMA_REGISTRY_URL": registry_url,
            "HUB_TOPIC_PREFIX": topic_prefix,
        }
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            await dfo_connector(producer, pipeline).publish(dfo_new_hire_body(start_in_days=5))
        finally:
            await producer.stop()
        with worker_for(kafka, registry_url, topic_prefix, tmp_path) as worker:
            seen = await collect(
                kafka.bootstrap_servers,
                [tasks],
                codec=pipeline.codec,
                decode_topics=(tasks,),
                until=lambda rs: "OPEN" in task_states(rs, tasks),
            )
            (task_id,) = TaskView.of(seen, tasks).latest
            shown = await run_hub_async(env, "tasks", "show", task_id)
            assert shown.returncode == 0, shown.stderr
            detail = json.loads(shown.stdout)
            assert (detail["task_id"], detail["state"]) == (task_id, "OPEN")
            assert any(e["field"] == "start_date" for e in detail["evidence"])
            nothing = await run_hub_async(env, "tasks", "show", "task-nope")
            assert nothing.returncode == 1
            assert "no task task-nope" in nothing.stderr
            done = await run_hub_async(
                env,
                "tasks",
                "suppress",
                task_id,
                "--by",
                "kari.hr",
                "--reason",
                "Account ordered by hand",
                "--until",
                "2099-01-01",
            )
            assert done.returncode == 0, done.stderr
            seen = await collect(
                kafka.bootstrap_servers,
                [tasks],
                codec=pipeline.codec,
                decode_topics=(tasks,),
                until=lambda rs: "SUPPRESSED" in task_states(rs, tasks),
            )
            listed = await run_hub_async(env, "tasks", "list", "--state", "SUPPRESSED")
            assert task_id in listed.stdout, listed.stderr
            again = await run_hub_async(env, "tasks", "unsuppress", task_id, "--by", "kari.hr")
            assert again.returncode == 0, again.stderr
            final = await collect(
                kafka.bootstrap_servers,
                [tasks],
                codec=pipeline.codec,
                decode_topics=(tasks,),
                until=lambda rs: (
                    task_states(rs, tasks)[-1:] == ["OPEN"]
                    and "SUPPRESSED" in task_states(rs, tasks)
                ),
            )
            log = worker.log()
        await pipeline.codec.close()
        suppressed = [r.decoded for r in seen if r.decoded and r.decoded["state"] == "SUPPRESSED"]
        assert suppressed[-1]["exception"]["accepted_by"] == "kari.hr", log
        assert suppressed[-1]["exception"]["reason"] == "Account ordered by hand"
        latest = TaskView.of(final, tasks).latest[task_id]
        assert latest["state"] == "OPEN"
        assert latest["exception"] is None
        missing = await run_hub_async(
            env, "tasks", "suppress", "task-nope", "--by", "x", "--reason", "y"
        )
        assert missing.returncode == 1
        assert "no task task-nope" in missing.stderr
