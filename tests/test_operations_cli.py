"""The operator's commands: `hub topics apply`, `hub tail`, `hub lag`, `hub tasks show`
and `hub doctor`. Pure parts are tested directly; the commands through the real broker."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from hub.consumer_lag import hub_reads, lag_rows, standing_still, total_lag, uncommitted
from hub.doctor import Finding, Status
from hub.errors import HubError
from hub.settings import HubSettings
from hub.topic_admin import TopicState, plan_topics
from hub.topic_tail import StartAt, TailedRecord, parse_start, render
from hub.topics import TopicCatalog, ensure_topics
from tests.conftest import KafkaEndpoint
from tests.kafka_support import produce, run_hub

CATALOG = TopicCatalog(prefix="x.")


def _as_declared(**overrides: TopicState) -> dict[str, TopicState]:
    states = {
        spec.name: TopicState(spec.name, spec.partitions, spec.replication_factor, spec.config())
        for spec in CATALOG
    }
    states.update(overrides)
    return states


class TestPlanTopics:
    def test_a_cluster_that_matches_needs_nothing(self) -> None:
        assert plan_topics(CATALOG, _as_declared()) == []

    def test_missing_topics_are_created_with_their_settings(self) -> None:
        existing = _as_declared()
        del existing["x.hub.tasks"]
        (change,) = plan_topics(CATALOG, existing)
        assert (change.kind, change.topic) == ("create", "x.hub.tasks")
        assert change.config["cleanup.policy"] == "compact"

    def test_partitions_grow_but_never_shrink(self) -> None:
        spec = CATALOG["hub.tasks"]
        fewer = TopicState(spec.name, spec.partitions - 1, 1, spec.config())
        more = TopicState(spec.name, spec.partitions + 2, 1, spec.config())
        (grow,) = plan_topics(CATALOG, _as_declared(**{spec.name: fewer}))
        assert grow.kind == "add-partitions"
        (shrink,) = plan_topics(CATALOG, _as_declared(**{spec.name: more}))
        assert shrink.kind == "cannot"
        assert "cannot remove partitions" in shrink.detail

    def test_a_changed_policy_is_set_back_keeping_the_operators_other_settings(self) -> None:
        spec = CATALOG["hub.tasks"]
        drifted = TopicState(
            spec.name, spec.partitions, 1, {"cleanup.policy": "delete", "segment.ms": "600000"}
        )
        (change,) = plan_topics(CATALOG, _as_declared(**{spec.name: drifted}))
        assert change.kind == "set-config"
        assert "cleanup.policy delete → compact" in change.detail
        assert change.config == {"cleanup.policy": "compact", "segment.ms": "600000"}

    def test_another_replication_factor_needs_a_person(self) -> None:
        spec = CATALOG["hub.tasks"]
        state = TopicState(spec.name, spec.partitions, 3, spec.config())
        (change,) = plan_topics(CATALOG, _as_declared(**{spec.name: state}))
        assert change.kind == "cannot"
        assert "kafka-reassign-partitions" in change.detail


class TestLagRows:
    def test_lag_is_the_gap_to_the_end_and_uncommitted_lags_by_all(self) -> None:
        rows = lag_rows("g", {("t", 0): 5, ("t", 1): -1}, {("t", 0): 8, ("t", 1): 4})
        assert [(r.partition, r.committed, r.lag) for r in rows] == [(0, 5, 3), (1, None, 4)]
        assert total_lag(rows) == {"g": 7}

    def test_an_uncommitted_partition_lags_from_its_first_offset(self) -> None:
        """A compacted or expired partition begins past 0: its lag is what it holds."""
        rows = lag_rows("g", {("t", 0): -1}, {("t", 0): 10}, begins={("t", 0): 6})
        assert [(r.committed, r.lag) for r in rows] == [(None, 4)]

    def test_every_partition_of_a_topic_committed_on_is_counted(self) -> None:
        """A reader stuck before its first commit on a partition shows there."""
        found = uncommitted({("t", 1): 5}, {"t": [0, 1, 2], "other": [0]})
        assert found == {("t", 0): -1, ("t", 1): 5, ("t", 2): -1}

    def test_a_topic_the_group_reads_but_never_committed_on_is_counted(self) -> None:
        """The hub's workers read known topics: one they never committed on lags too."""
        partitions = {"t": [0, 1], "other": [0, 1], "unread": [0]}
        found = uncommitted({("t", 1): 5}, partitions, reads=["other", "missing"])
        assert found == {("t", 0): -1, ("t", 1): 5, ("other", 0): -1, ("other", 1): -1}

    def test_the_hub_group_reads_every_source_and_its_own_inputs(self) -> None:
        reads = hub_reads("x.university-hub", TopicCatalog(prefix="x."))
        (topics,) = reads.values()
        assert list(reads) == ["x.university-hub"]
        assert {"x.hub.identity-input", "x.hub.person-events", "x.source.dfo.employee"} <= set(
            topics
        )
        assert "x.hub.tasks" not in topics, "written, not read"


class TestStandingStill:
    def test_a_lagging_partition_whose_commit_has_not_moved_is_stuck(self) -> None:
        first = lag_rows("g", {("t", 0): 5, ("t", 1): 2, ("t", 2): 9}, {("t", 0): 8, ("t", 1): 4})
        looked, stuck = standing_still({}, first)
        assert stuck == [], "one look says nothing yet"
        later = lag_rows("g", {("t", 0): 5, ("t", 1): 3, ("t", 2): 9}, {("t", 0): 8, ("t", 1): 4})
        looked, stuck = standing_still(looked, later)
        assert stuck == [(("t", 0), 5)]  # t1 moved on; t2 has nothing to read
        caught_up = lag_rows("g", {("t", 0): 8}, {("t", 0): 8})
        assert standing_still(looked, caught_up) == ({}, [])


class TestTailFormatting:
    @pytest.mark.parametrize(
        ("offset", "since", "expected"),
        [
            (None, None, StartAt("beginning")),
            ("end", None, StartAt("end")),
            ("42", None, StartAt("offset", offset=42)),
            ("-10", None, StartAt("from-end", offset=10)),
        ],
    )
    def test_start_positions(self, offset: str | None, since: None, expected: StartAt) -> None:
        assert parse_start(offset, since) == expected

    def test_bad_start_positions_say_what_is_allowed(self) -> None:
        with pytest.raises(HubError, match="is not 'beginning', 'end'"):
            parse_start("yesterday", None)
        with pytest.raises(HubError, match="not both"):
            parse_start("end", datetime.now(UTC))

    def test_a_record_renders_as_one_json_line_with_plain_values(self) -> None:
        record = TailedRecord(
            "t", 0, 7, None, b"k", {"h": "v"}, {"when": datetime(2026, 1, 2, tzinfo=UTC)}, None
        )
        line = json.loads(render(record, "json"))
        assert line["value"] == {"when": "2026-01-02T00:00:00+00:00"}
        assert (line["key"], line["offset"], line["headers"]) == ("k", 7, {"h": "v"})

    def test_bytes_that_are_not_avro_are_shown_and_said_to_be(self) -> None:
        record = TailedRecord("t", 0, 1, None, b"\xff", {}, None, b"{bad json", "not Avro")
        line = json.loads(render(record, "json"))
        assert line["raw"] == "{bad json"
        assert line["not_avro"] == "not Avro"
        assert line["key"] == {"base64": "/w=="}
        assert render(record, "pretty").startswith("── t[0]@1")


class TestDoctorFindings:
    def test_a_failure_says_how_to_fix_it(self) -> None:
        lines = Finding("kafka", Status.FAILED, "no broker", "start it").lines()
        assert lines == ["[FAIL] kafka: no broker", "       fix: start it"]
        assert Finding("kafka", Status.OK, "fine", "unused").lines() == ["[ok  ] kafka: fine"]


def _lag_json(kafka: KafkaEndpoint, prefix: str) -> list[dict[str, Any]]:
    """``hub lag --json``: a row per group and partition."""
    shown = run_hub(_env(kafka, prefix), "lag", "--json")
    assert shown.returncode == 0, shown.stderr
    return [json.loads(line) for line in shown.stdout.splitlines()]


def _env(kafka: KafkaEndpoint, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "HUB_TOPIC_PREFIX": prefix,
        "HUB_WIRE_FORMAT": "single-object",
        "HUB_LOG_LEVEL": "WARNING",
        **extra,
    }


@pytest.mark.kafka
class TestThroughTheBroker:
    def test_topics_apply_creates_then_repairs_drift(
        self, kafka: KafkaEndpoint, topic_prefix: str
    ) -> None:
        env = _env(kafka, topic_prefix)
        dry = run_hub(env, "topics", "apply", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"would create          {topic_prefix}hub.tasks" in dry.stdout
        done = run_hub(env, "topics", "apply")
        assert done.returncode == 0, done.stderr
        assert run_hub(env, "topics", "apply", "--dry-run").stdout.strip() == (
            "the topics match deploy/topics.yaml"
        )

        async def drift() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
            await admin.start()
            try:
                await admin.alter_configs(
                    [
                        ConfigResource(
                            ConfigResourceType.TOPIC,
                            f"{topic_prefix}hub.tasks",
                            configs={"cleanup.policy": "delete", "segment.ms": "600000"},
                        )
                    ]
                )
            finally:
                await admin.close()

        asyncio.run(drift())
        drifted = run_hub(env, "topics", "apply", "--dry-run")
        assert "cleanup.policy delete → compact" in drifted.stdout, drifted.stdout
        assert run_hub(env, "topics", "apply").returncode == 0
        again = run_hub(env, "topics", "apply", "--dry-run")
        assert again.stdout.strip() == "the topics match deploy/topics.yaml", again.stdout
        doctor = run_hub(env, "doctor")
        assert "[ok  ] topics: every topic matches" in doctor.stdout, doctor.stderr

    def test_tail_decodes_avro_and_shows_dead_letters_as_they_came(
        self, kafka: KafkaEndpoint, topic_prefix: str
    ) -> None:
        from hub.avro.catalog import SchemaCatalog  # noqa: PLC0415
        from hub.avro.codec import SingleObjectCodec  # noqa: PLC0415
        from tests.factories import iam_account  # noqa: PLC0415

        catalog = TopicCatalog(prefix=topic_prefix)
        asyncio.run(ensure_topics(kafka.bootstrap_servers, catalog))
        codec = SingleObjectCodec(SchemaCatalog())
        accounts = catalog.name("source.iam.account")
        values = [
            asyncio.run(
                codec.encode(
                    accounts,
                    SchemaCatalog()["no.bott.hub.iam.Account"],
                    iam_account(username=f"user{i}", account_id=f"acc-{i}"),
                )
            )
            for i in range(3)
        ]
        asyncio.run(produce(kafka.bootstrap_servers, accounts, [(b"acc", v) for v in values]))
        asyncio.run(
            produce(kafka.bootstrap_servers, catalog.name("hub.deadletter"), [(None, b"{oops")])
        )
        env = _env(kafka, topic_prefix)
        shown = run_hub(env, "tail", "source.iam.account")
        assert shown.returncode == 0, shown.stderr
        lines = [json.loads(line) for line in shown.stdout.splitlines()]
        assert [line["value"]["username"] for line in lines] == ["user0", "user1", "user2"]
        last = run_hub(env, "tail", "source.iam.account", "--offset", "-1")
        assert [json.loads(x)["value"]["username"] for x in last.stdout.splitlines()] == ["user2"]
        one = run_hub(env, "tail", accounts, "-n", "1", "--pretty")
        assert one.stdout.startswith(f"── {accounts}[")
        assert '"username": "user0"' in one.stdout
        dead = run_hub(env, "tail", "hub.deadletter")
        (letter,) = [json.loads(line) for line in dead.stdout.splitlines()]
        assert letter["raw"] == "{oops"
        assert letter["not_avro"]
        missing = run_hub(env, "tail", "no.such.topic")
        assert missing.returncode == 1
        assert "no topic 'no.such.topic'" in missing.stderr

    def test_lag_shows_how_far_behind_a_group_is(
        self, kafka: KafkaEndpoint, topic_prefix: str
    ) -> None:
        catalog = TopicCatalog(prefix=topic_prefix)
        asyncio.run(ensure_topics(kafka.bootstrap_servers, catalog))
        topic = catalog.name("hub.deadletter")
        asyncio.run(produce(kafka.bootstrap_servers, topic, [(b"k", b"v")] * 5))

        async def read_two() -> None:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=kafka.bootstrap_servers,
                group_id=f"{topic_prefix}readers",
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                max_poll_records=2,
            )
            await consumer.start()
            try:
                batch = await consumer.getmany(timeout_ms=5000, max_records=2)
                # only where it read: the other partitions stay without a commit
                await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
            finally:
                await consumer.stop()

        asyncio.run(read_two())
        rows = _lag_json(kafka, topic_prefix)
        (row,) = [r for r in rows if r["end"]]
        assert {r["lag"] for r in rows if not r["end"]} <= {0}
        # every partition of the topic, also those the group never committed on
        readers = [r for r in rows if r["group"] == f"{topic_prefix}readers"]
        partitions = catalog["hub.deadletter"].partitions
        assert partitions > 1
        assert sorted(r["partition"] for r in readers) == list(range(partitions))
        assert [r["committed"] for r in readers if r is not row] == [None] * (partitions - 1)
        assert (row["group"], row["committed"], row["end"], row["lag"]) == (
            f"{topic_prefix}readers",
            2,
            5,
            3,
        )
        table = run_hub(_env(kafka, topic_prefix), "lag")
        assert f"total lag of {topic_prefix}readers: 3" in table.stdout

    def test_lag_shows_a_worker_input_the_workers_never_committed_on(
        self, kafka: KafkaEndpoint, topic_prefix: str
    ) -> None:
        """The workers' group committed on one topic; records wait on another input of
        theirs: ``hub lag`` lists that one too, with no commit and its records as lag."""
        catalog = TopicCatalog(prefix=topic_prefix)
        asyncio.run(ensure_topics(kafka.bootstrap_servers, catalog))
        group = topic_prefix + HubSettings().app_id
        waiting = catalog.name("hub.task-feedback")
        asyncio.run(produce(kafka.bootstrap_servers, waiting, [(b"k", b"v")] * 3))

        async def commit_elsewhere() -> None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=kafka.bootstrap_servers, group_id=group, enable_auto_commit=False
            )
            await consumer.start()
            try:
                partition = TopicPartition(catalog.name("hub.person-events"), 0)
                consumer.assign([partition])
                await consumer.commit({partition: 0})
            finally:
                await consumer.stop()

        asyncio.run(commit_elsewhere())
        rows = _lag_json(kafka, topic_prefix)
        feedback = [r for r in rows if r["group"] == group and r["topic"] == waiting]
        assert len(feedback) == catalog["hub.task-feedback"].partitions
        assert {r["committed"] for r in feedback} == {None}
        assert sum(r["lag"] for r in feedback) == 3

    def test_doctor_flags_missing_topics_and_never_prints_secrets(
        self, kafka: KafkaEndpoint, topic_prefix: str
    ) -> None:
        secret = "s3cret-pseudonym-key-for-the-doctor-test"
        env = _env(kafka, topic_prefix, HUB_PSEUDONYM_SECRET=secret)
        result = run_hub(env, "doctor")
        output = result.stdout + result.stderr
        assert result.returncode == 0, output  # warnings only
        assert "[ok  ] kafka: 1 broker(s) answer" in output
        assert "[warn] topics:" in output
        assert "fix: run 'hub topics apply --dry-run'" in output
        assert "[ok  ] pseudonym secret: set (value not shown)" in output
        assert secret not in output


def test_doctor_against_a_stopped_broker_fails_with_a_fix() -> None:
    result = run_hub(
        {"HUB_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "HUB_WIRE_FORMAT": "single-object"},
        "doctor",
    )
    assert result.returncode == 1
    assert "[FAIL] kafka: no broker answers at 127.0.0.1:9" in result.stdout
    assert "fix: start it ('hub kafka start'" in result.stdout
    # what needs no broker is still checked
    assert "[ok  ] correlation: each university on a partition of its own" in result.stdout
    assert "Traceback" not in result.stderr
