"""The conformance kit: the checks every connector passes, through the real broker.

Subclass :class:`ConnectorConformance` in a test module, name the connector class, and
give a ``source`` fixture that yields a :class:`SourceHarness` (a fake source the kit
can add records to, break and delete from)::

    class TestDfoEmployeeConformance(ConnectorConformance):
        connector_class = DfoEmployeeConnector

        @pytest.fixture
        async def source(self, rabbitmq, topic_prefix):
            async with fake_dfo_source("ansatt", rabbitmq, topic_prefix) as source:
                yield source

The kit's tests need the project's session fixtures ``kafka`` (``.bootstrap_servers``),
``registry_url`` and ``topic_prefix`` (see ``tests/conftest.py``). They check that the
settings validate; every record matches its Avro schema and has a key; ``stop()`` ends
``run()``; a restart resumes from the checkpoint with no loss and no duplicates; source
data that cannot be mapped goes to the dead-letter topic with the reason and the rest
keeps flowing; and a full reconciliation turns a record gone from the source into a
tombstone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import fastavro
import pytest

from connectors.sdk.connector import Connector, load_connector_settings
from connectors.sdk.health import ConnectorState
from connectors.sdk.runtime import ConnectorRuntime
from connectors.sdk.state import read_to_end
from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import AvroCodec
from hub.endpoints import make_codec
from hub.errors import ConfigurationError
from hub.source_deletion import deletion_of
from hub.topics import TopicCatalog, ensure_topics

__all__ = [
    "KIT_SETTINGS",
    "ConnectorConformance",
    "KitEnvironment",
    "SourceHarness",
    "TopicRecord",
    "kit_environment",
    "make_runtime",
    "read_topic",
    "running",
    "wait_until",
]

# Settings the kit runs connectors with: no scheduled reconciliation (the kit calls it),
# quick polls and retries.
KIT_SETTINGS: Mapping[str, object] = {
    "reconcile_interval_s": None,
    "reconcile_on_start": False,
    "poll_interval_s": 0.2,
    "retry_initial_s": 0.05,
    "retry_max_s": 0.5,
}


class SourceHarness(Protocol):
    """A fake source the kit drives. ``settings`` are the connector's settings for it."""

    settings: Mapping[str, object]

    async def add(self, count: int) -> list[str]:
        """Add ``count`` new records and announce them as the source does (a notification,
        a new line, a new run); return their keys."""

    async def add_malformed(self) -> str:
        """Add (and announce) one record the connector cannot map; return its key."""

    async def remove_silently(self, key: str) -> None:
        """Delete a record at the source without announcing it (a lost notification)."""


@dataclass(frozen=True)
class KitEnvironment:
    """The real broker and registry, and this test's own topics."""

    bootstrap: str
    topics: TopicCatalog
    catalog: SchemaCatalog
    codec: AvroCodec


@dataclass(frozen=True)
class TopicRecord:
    key: str | None
    value: bytes | None
    headers: dict[str, str]


async def read_topic(env: KitEnvironment, logical: str) -> list[TopicRecord]:
    """Every record on a topic, from the start to its current end."""
    spec = env.topics[logical]
    return [
        TopicRecord(m.key.decode() if m.key is not None else None, m.raw, dict(m.headers))
        for m in await read_to_end(env.bootstrap, spec.name, spec.partitions)
    ]


async def wait_until(
    condition: Callable[[], bool], *, within_s: float, what: str, runtime: Any = None
) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` (and the runtime's health)."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            health = runtime.health.as_dict() if runtime is not None else {}
            pytest.fail(f"within {within_s:.0f}s: {what}; health {health}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(runtime: ConnectorRuntime, stop_within_s: float = 15.0) -> AsyncIterator[None]:
    """``runtime.run()`` in a task for the block; stopped (and awaited) after it."""
    task = asyncio.create_task(runtime.run())
    try:
        yield
        if task.done():
            task.result()  # a failed run shows its exception
    finally:
        runtime.stop()
        await asyncio.wait_for(task, timeout=stop_within_s)


@contextlib.asynccontextmanager
async def kit_environment(
    bootstrap: str, registry: str, prefix: str
) -> AsyncIterator[KitEnvironment]:
    """This test's topics (created) on the real broker, and a codec for the registry."""
    catalog = SchemaCatalog()
    topics = TopicCatalog(prefix=prefix)
    await ensure_topics(bootstrap, topics)
    codec = make_codec(catalog, registry)
    try:
        yield KitEnvironment(bootstrap, topics, catalog, codec)
    finally:
        await codec.close()


def make_runtime(
    connector_class: type[Connector[Any]],
    env: KitEnvironment,
    settings: Mapping[str, object],
    **overrides: object,
) -> ConnectorRuntime:
    """A runtime for ``connector_class`` with ``settings`` and the kit's quick timings."""
    model = connector_class.settings_model
    loaded = load_connector_settings(model, **{**settings, **KIT_SETTINGS, **overrides})
    return ConnectorRuntime(
        connector_class(loaded),
        bootstrap=env.bootstrap,
        codec=env.codec,
        catalog=env.catalog,
        topics=env.topics,
    )


class ConnectorConformance:
    """The standard checks. Set ``connector_class`` and define a ``source`` fixture."""

    connector_class: ClassVar[type[Connector[Any]]]
    within_s: ClassVar[float] = 60.0

    @pytest.fixture
    def source(self) -> SourceHarness:
        raise NotImplementedError("a conformance test class defines its own source fixture")

    @pytest.fixture
    async def kit(
        self, kafka: Any, registry_url: str, topic_prefix: str
    ) -> AsyncIterator[KitEnvironment]:
        async with kit_environment(kafka.bootstrap_servers, registry_url, topic_prefix) as env:
            yield env

    def runtime(self, kit: KitEnvironment, source: SourceHarness) -> ConnectorRuntime:
        """A fresh runtime for the connector over ``source`` (a restart is a new one)."""
        return make_runtime(self.connector_class, kit, source.settings)

    # -- the checks ---------------------------------------------------------------------

    def test_declaration_matches_the_topic_catalogue(self) -> None:
        """The connector's topic exists in deploy/topics.yaml and holds its schema."""
        cls = self.connector_class
        assert cls.name
        assert cls.name == cls.name.strip().lower()
        assert TopicCatalog()[cls.topic].value_schema == cls.schema
        assert SchemaCatalog()[cls.schema].name == cls.schema

    async def test_settings_validate(self, source: SourceHarness) -> None:
        """The source's settings validate; a nonsensical one is a ConfigurationError that
        names the variable."""
        model = self.connector_class.settings_model
        settings = load_connector_settings(model, **source.settings)
        assert settings.model_config.get("frozen")
        with pytest.raises(ConfigurationError, match="POLL_INTERVAL_S"):
            load_connector_settings(model, **{**source.settings, "poll_interval_s": -1})

    async def test_records_match_their_schema_and_have_keys(
        self, kit: KitEnvironment, source: SourceHarness
    ) -> None:
        """Every record published decodes with the connector's schema and is keyed by
        ``key(record)``, never null or empty."""
        runtime = self.runtime(kit, source)
        async with runtime, running(runtime):
            keys = await source.add(3)
            await wait_until(
                lambda: runtime.health.emitted >= len(keys),
                within_s=self.within_s,
                what=f"{len(keys)} records published",
                runtime=runtime,
            )
        schema = kit.catalog[self.connector_class.schema]
        records = [r for r in await read_topic(kit, self.connector_class.topic) if r.value]
        assert {r.key for r in records} >= set(keys)
        for record in records:
            assert record.key, "a record without a key"
            assert record.value is not None
            writer, _ = await kit.codec.writer_schema(record.value)
            name = str(writer["name"])
            assert (name if "." in name else f"{writer.get('namespace')}.{name}") == schema.name
            decoded = await kit.codec.decode(record.value, schema)
            assert fastavro.validation.validate(decoded, schema.parsed, raise_errors=True)
            assert runtime.connector.key(decoded) == record.key

    async def test_stop_ends_run(self, kit: KitEnvironment, source: SourceHarness) -> None:
        """``stop()`` ends ``run()`` promptly, waiting or busy, and the state says so."""
        runtime = self.runtime(kit, source)
        async with runtime:
            task = asyncio.create_task(runtime.run())
            await source.add(2)
            await wait_until(
                lambda: runtime.health.emitted >= 1,
                within_s=self.within_s,
                what="a record published",
                runtime=runtime,
            )
            runtime.stop()
            await asyncio.wait_for(task, timeout=15)
            assert runtime.health.state is ConnectorState.STOPPED

    async def test_restart_resumes_from_the_checkpoint(
        self, kit: KitEnvironment, source: SourceHarness
    ) -> None:
        """A new runtime picks up where the last one stopped: what arrived meanwhile is
        published, nothing is lost, and nothing already published is fetched again."""
        first = self.runtime(kit, source)
        async with first, running(first):
            before = await source.add(3)
            await wait_until(
                lambda: first.health.emitted >= 3, within_s=self.within_s, what="3 published"
            )
        meanwhile = await source.add(3)
        second = self.runtime(kit, source)
        async with second, running(second):
            await wait_until(
                lambda: second.health.emitted >= 3,
                within_s=self.within_s,
                what="3 more published after the restart",
                runtime=second,
            )
            await asyncio.sleep(0.5)  # room for a wrongly re-read change to show
        records = [r for r in await read_topic(kit, self.connector_class.topic) if r.value]
        published = [r.key or "" for r in records]
        assert sorted(published) == sorted(before + meanwhile), "no loss and no duplicates"
        assert second.health.emitted == 3
        assert second.health.unchanged == 0, "the restart re-read changes it had delivered"

    async def test_unmappable_data_is_dead_lettered_and_the_rest_flows(
        self, kit: KitEnvironment, source: SourceHarness
    ) -> None:
        """Source data that cannot be mapped lands on the dead-letter topic, byte for byte,
        with the connector and the reason in its headers, is counted, and the next good
        record is still published."""
        runtime = self.runtime(kit, source)
        async with runtime, running(runtime):
            await source.add_malformed()
            good = await source.add(1)
            await wait_until(
                lambda: runtime.health.dead_lettered >= 1 and runtime.health.emitted >= 1,
                within_s=self.within_s,
                what="one dead letter and one record",
                runtime=runtime,
            )
        assert runtime.health.dead_lettered == 1
        letters = [
            r
            for r in await read_topic(kit, "hub.deadletter")
            if r.headers.get("hub.connector") == self.connector_class.name
        ]
        assert len(letters) == 1
        (letter,) = letters
        assert letter.value, "the source bytes are kept"
        assert letter.headers["hub.error"], "the reason is given"
        assert letter.headers["hub.stage"] == "connector"
        published = {r.key for r in await read_topic(kit, self.connector_class.topic)}
        assert set(good) <= published

    async def test_full_reconciliation_detects_a_deletion(
        self, kit: KitEnvironment, source: SourceHarness
    ) -> None:
        """A record gone from the source (with no notice) becomes a tombstone with the
        deletion headers at the next full reconciliation; the others stay."""
        if not self.connector_class.can_list():
            pytest.skip(f"{self.connector_class.name} cannot list its source")
        runtime = self.runtime(kit, source)
        async with runtime:
            keys = await source.add(3)
            first = await runtime.reconcile()
            assert first.complete
            assert first.emitted >= len(keys)
            await source.remove_silently(keys[0])
            second = await runtime.reconcile()
        assert (second.deleted, second.emitted) == (1, 0)
        tombstones = [
            r for r in await read_topic(kit, self.connector_class.topic) if r.value is None
        ]
        assert [r.key for r in tombstones] == [keys[0]]
        deletion = deletion_of(tombstones[0].headers)
        assert deletion is not None
        assert deletion.institution == runtime.settings.institution
        assert deletion.source_id
