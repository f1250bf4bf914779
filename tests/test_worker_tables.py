"""The worker's tables write and read Avro, in their stores and their changelogs: a
restarted worker must read back what it wrote (faust makes a table's changelog topic
with a JSON serializer unless told otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from hub.app import AvroStateCodec, create_app, ensure_changelogs
from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.faust_consumer import SeekSafeConsumer
from hub.pipeline import Pipeline
from hub.rules import RuleSettings
from hub.topic_admin import read_topics
from hub.topics import TopicCatalog
from tests.conftest import KafkaEndpoint


def test_every_table_reads_its_changelog_with_its_avro_codec(tmp_path: Path) -> None:
    catalog = SchemaCatalog()
    pipeline = Pipeline(
        codec=SingleObjectCodec(catalog),
        catalog=catalog,
        topics=TopicCatalog(prefix="x."),
        secret="s",
        rule_settings=RuleSettings(),
    )
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
    catalog = SchemaCatalog()
    pipeline = Pipeline(
        codec=SingleObjectCodec(catalog),
        catalog=catalog,
        topics=TopicCatalog(prefix=topic_prefix),
        secret="s",
        rule_settings=RuleSettings(),
    )
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
