"""The worker's tables write and read Avro, in their stores and their changelogs: a
restarted worker must read back what it wrote (faust makes a table's changelog topic
with a JSON serializer unless told otherwise)."""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from hub.app import AvroStateCodec, create_app, ensure_changelogs, rocksdb_options
from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.errors import WireFormatError
from hub.faust_consumer import SeekSafeConsumer
from hub.pipeline import PERSON_STATE, Pipeline
from hub.rules import RuleSettings
from hub.settings import load_settings
from hub.topic_admin import read_topics
from hub.topics import TopicCatalog
from tests.conftest import KafkaEndpoint
from tests.factories import dfo_hire_event, iam_account


def _pipeline(prefix: str = "x.") -> Pipeline:
    catalog = SchemaCatalog()
    return Pipeline(
        codec=SingleObjectCodec(catalog),
        catalog=catalog,
        topics=TopicCatalog(prefix=prefix),
        secret="s",
        rule_settings=RuleSettings(),
    )


def test_every_table_reads_its_changelog_with_its_avro_codec(tmp_path: Path) -> None:
    pipeline = _pipeline()
    app = create_app(
        app_id="x.hub", bootstrap_servers="127.0.0.1:1", pipeline=pipeline, datadir=tmp_path
    ).app
    assert isinstance(app.consumer, SeekSafeConsumer)  # hub.faust_consumer's fetch loop
    tables = list(app.tables.values())
    assert {t.name for t in tables} >= {
        "person-view",
        "identity",
        "reference",
        "failsafe-gate",
        "failsafe-tasks",
    }
    for table in tables:
        codec = table.value_serializer
        assert isinstance(codec, AvroStateCodec), table.name
        assert table.changelog_topic.value_serializer is codec, table.name
        assert table.changelog_topic.schema.value_serializer is codec, table.name


@pytest.mark.kafka
async def test_the_changelogs_exist_before_the_worker_starts(
    kafka: KafkaEndpoint, topic_prefix: str, tmp_path: Path
) -> None:
    """The worker makes its tables' changelog topics (compacted, as many partitions as
    the tables) before faust starts, so no table ever meets a record before its
    changelog is known."""
    pipeline = _pipeline(topic_prefix)
    hub_app = create_app(
        app_id=f"{topic_prefix}hub",
        bootstrap_servers=kafka.bootstrap_servers,
        pipeline=pipeline,
        datadir=tmp_path,
    )
    created = await ensure_changelogs(kafka.bootstrap_servers, hub_app)
    assert sorted(created) == sorted(
        f"{topic_prefix}hub-{table}-changelog"
        for table in ("person-view", "identity", "reference", "failsafe-gate", "failsafe-tasks")
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        states = await read_topics(admin, created)
    finally:
        await admin.close()
    assert {s.partitions for s in states.values()} == {4}
    assert {s.config.get("cleanup.policy") for s in states.values()} == {"compact"}
    assert await ensure_changelogs(kafka.bootstrap_servers, hub_app) == []


def test_a_person_view_is_written_with_its_records_schemas_named(tmp_path: Path) -> None:
    """The person-view codec names each record's branch of the union of every source's
    record (the writer would otherwise try them all): the same bytes, read back as the
    state that was written."""
    pipeline = _pipeline()
    app = create_app(
        app_id="x.hub", bootstrap_servers="127.0.0.1:1", pipeline=pipeline, datadir=tmp_path
    ).app
    codec = app.tables["person-view"].value_serializer
    employee = dfo_hire_event(date(2026, 12, 1), datetime(2026, 11, 20, tzinfo=UTC))
    account = iam_account()
    state = {
        "person_key": "p-7",
        "institution": "uio",
        "records": [
            {"ref": "e", "source_topic": "source.dfo.employee", "record": employee["record"]},
            {"ref": "a", "source_topic": "source.iam.account", "record": account},
        ],
    }
    tagged = pipeline.tagged_state(state)
    assert [r["record"][0] for r in tagged["records"]] == [
        "no.bott.hub.dfo.Employee",
        "no.bott.hub.iam.Account",
    ]
    assert state["records"][0]["record"] is employee["record"]  # the state is not changed
    plain = AvroStateCodec(pipeline.catalog[PERSON_STATE])
    written = codec.dumps(state)
    assert written == plain.dumps(state)
    read = codec.loads(written)
    assert [r["record"]["source_id"] for r in read["records"]] == ["7", "acc-1"]
    assert read["records"][1]["record"]["username"] == "sigridb"
    # the branch is the one the source topic names, not any that fits
    misfiled = {
        **state,
        "records": [{**state["records"][1], "source_topic": "source.dfo.employee"}],
    }
    assert plain.dumps(misfiled)
    with pytest.raises(WireFormatError, match="does not match its schema"):
        codec.dumps(misfiled)


def test_every_rocksdb_table_has_the_memory_the_settings_give(tmp_path: Path) -> None:
    """On RocksDB each table partition has two memtables and a read cache of the sizes
    the settings give, not faust's defaults (three of 64 MB and 2 GB)."""
    pytest.importorskip("rocksdict", reason="the rocksdb extra (make venv installs it)")
    app = create_app(
        app_id="x.hub",
        bootstrap_servers="127.0.0.1:1",
        pipeline=_pipeline(),
        datadir=tmp_path,
        store="rocksdb://",
        store_options=rocksdb_options(write_buffer_mb=4, block_cache_mb=8),
    ).app
    mb = 1024 * 1024
    for table in app.tables.values():
        options = table.data.rocksdb_options  # the table's store, not yet opened
        assert (
            options.write_buffer_size,
            options.max_write_buffer_number,
            options.block_cache_size,
        ) == (4 * mb, 2, 8 * mb), table.name


async def test_a_worker_fetches_with_the_wait_the_settings_give(tmp_path: Path) -> None:
    """faust fixes the fetch wait at 1,500 ms; a worker's Kafka consumer waits as long as
    ``HUB_WORKER_FETCH_WAIT_MS`` says (a record on a partition left out of the fetch in
    flight waits that long, per hop)."""
    hub_app = create_app(
        app_id="x.hub",
        bootstrap_servers="127.0.0.1:1",
        pipeline=_pipeline(),
        datadir=tmp_path,
        fetch_wait_ms=40,
    )
    consumer = hub_app.app.consumer
    kafka_consumer = consumer._thread._create_worker_consumer(hub_app.app.transport)
    assert kafka_consumer._fetch_max_wait_ms == 40
    assert load_settings().worker_fetch_wait_ms == 100


def test_a_worker_sets_the_garbage_collector_thresholds_the_settings_give(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``hub worker`` sets gc thresholds from ``HUB_WORKER_GC_THRESHOLDS`` before it
    connects to anything; 0 (the collector off) is refused with the variable's name."""
    from click.testing import CliRunner  # noqa: PLC0415

    import hub.endpoints  # noqa: PLC0415
    from hub.cli import cli  # noqa: PLC0415

    def stop_here(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("stopped before connecting")

    monkeypatch.setattr(hub.endpoints, "kafka_bootstrap", stop_here)
    before = gc.get_threshold()
    try:
        monkeypatch.setenv("HUB_WORKER_GC_THRESHOLDS", "[1234, 11, 12]")
        result = CliRunner().invoke(cli, ["worker"])
        assert isinstance(result.exception, RuntimeError), result.output
        assert gc.get_threshold() == (1234, 11, 12)
    finally:
        gc.set_threshold(*before)
    monkeypatch.delenv("HUB_WORKER_GC_THRESHOLDS")
    assert load_settings().worker_gc_thresholds == (10_000, 50, 100)
    monkeypatch.setenv("HUB_WORKER_GC_THRESHOLDS", "[0, 10, 10]")
    result = CliRunner().invoke(cli, ["worker"])
    assert "HUB_WORKER_GC_THRESHOLDS" in str(result.exception), result.output
    assert "at least 1" in str(result.exception)
    assert gc.get_threshold() == before
