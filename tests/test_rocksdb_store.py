"""The production table store: RocksDB (``HUB_TABLE_STORE=rocksdb://``, on the
StatefulSet's volume in ``deploy/``). A worker keeps its tables on its disk, and after
``kill -9`` a worker started again on the same disk goes on where the first stopped:
the account that arrives afterwards resolves the task the first worker opened, as the
same task, published once."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from hub.pipeline import Pipeline
from tests.conftest import KafkaEndpoint
from tests.factories import dfo_new_hire_body, iam_account
from tests.kafka_support import (
    Collected,
    TaskView,
    caught_up,
    collect,
    dfo_connector,
    hub_pipeline,
    task_states,
    worker_for,
)

pytest.importorskip("rocksdict", reason="the rocksdb extra (make venv installs it)")
pytestmark = [pytest.mark.kafka, pytest.mark.registry]

# The killed worker's membership lasts a session timeout: the next one waits that long.
ROCKSDB = {"HUB_TABLE_STORE": "rocksdb://", "HUB_WORKER_SESSION_TIMEOUT_SECONDS": "8"}


async def _tasks_until(kafka: KafkaEndpoint, pipeline: Pipeline, state: str) -> list[Collected]:
    """hub.tasks from the start, read until a task in ``state`` is among them."""
    tasks = pipeline.topics.name("hub.tasks")
    return await collect(
        kafka.bootstrap_servers,
        [tasks],
        until=lambda rs: state in task_states(rs, tasks),
        codec=pipeline.codec,
        decode_topics=(tasks,),
    )


def _table_dirs(state_dir: Path) -> set[str]:
    """The tables a worker keeps in RocksDB under ``state_dir``: one database
    directory per table and partition (faust names them ``<table>-<partition>.db``)."""
    return {p.name.rsplit("-", 1)[0] for p in state_dir.rglob("*.db") if p.is_dir()}


async def test_a_worker_on_rocksdb_goes_on_from_its_disk_after_kill_9(
    kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    pipeline: Pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
    tasks = pipeline.topics.name("hub.tasks")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        first = worker_for(kafka, registry_url, topic_prefix, tmp_path, ROCKSDB)
        with first:
            await dfo_connector(producer, pipeline, "uio").publish(
                dfo_new_hire_body(start_in_days=5)
            )
            opened = await _tasks_until(kafka, pipeline, "OPEN")
            # killed once it has settled (its tables and offsets written): killed just
            # after publishing, it would publish the task again on restart, as any
            # store would (at least once; the same revision, which the sink takes once)
            await caught_up(pipeline, kafka.bootstrap_servers, f"{topic_prefix}university-hub")
            first.kill()
        on_disk = _table_dirs(tmp_path)
        assert {"person-view", "identity", "failsafe-tasks"} <= on_disk, f"on disk: {on_disk}"
        (task,) = TaskView.of(opened, tasks).latest.values()

        account = iam_account(employee_id="00234567")
        accounts = pipeline.topics.name("source.iam.account")
        value = await pipeline.codec.encode(
            accounts, pipeline.catalog["no.bott.hub.iam.Account"], account
        )
        await producer.send_and_wait(accounts, key=b"acc-1", value=value)
        with worker_for(kafka, registry_url, topic_prefix, tmp_path, ROCKSDB):
            try:
                final = await _tasks_until(kafka, pipeline, "RESOLVED")
            except AssertionError as exc:  # both workers write to one log file
                raise AssertionError(f"{exc}\n{first.log()[-4000:]}") from exc
            log = first.log()
    finally:
        await producer.stop()
        await pipeline.codec.close()
    latest = TaskView.of(final, tasks).latest
    assert list(latest) == [task["task_id"]], f"the same task, not a new one\n{log[-3000:]}"
    resolved = latest[task["task_id"]]
    assert resolved["revision"] == task["revision"] + 1
    assert task_states(final, tasks) == ["OPEN", "RESOLVED"], "no task published twice"
