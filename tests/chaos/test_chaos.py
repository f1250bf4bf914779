"""The chaos cases of issue 9, through the real broker, registry and RabbitMQ. Each
runs on a topic prefix of its own and must end as the clean run did (see
:mod:`tests.chaos.harness` for what that means): the same open tasks, no duplicate
tasks or tickets, every input record processed or dead-lettered.

``HUB_CHAOS_PEOPLE`` sets the size (default 200 for CI; 100000 by hand).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bench.run import members
from hub.embedded.kafka import LocalKafka
from hub.embedded.process import free_port
from hub.settings import HubSettings
from tests.chaos.harness import (
    FLAP_INSTITUTION,
    WITHIN_S,
    Expected,
    chaos_run,
    dfo_hires,
    is_poison,
    load,
    people,
    progress,
    settle,
    start,
    with_poison,
)
from tests.conftest import KafkaEndpoint
from tests.test_ticket_crash_through_kafka import Run

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.registry,
    pytest.mark.chaos,
    pytest.mark.timeout(int(3 * WITHIN_S)),
]


async def until(condition: Callable[[], Awaitable[bool]], what: str, run: Run) -> None:
    """Wait for ``condition`` (generously); fail with the run's logs."""
    deadline = time.monotonic() + WITHIN_S
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{run.logs()}")
        await asyncio.sleep(0.2)


async def under_way(run: Run, share: float = 0.2) -> None:
    """Wait until the workers have committed ``share`` of what is on the source topics
    and the sink has delivered a ticket (so it is past its start)."""

    async def enough() -> bool:
        return bool(run.fake.views()) and await progress(run) >= share

    await until(enough, f"{share:.0%} of the load processed and a ticket", run)


@pytest.fixture
async def case(
    kafka: KafkaEndpoint, registry_url: str, tmp_path: Path
) -> AsyncIterator[Callable[[KafkaEndpoint], Awaitable[Run]]]:
    """Makes the case's run (on the session broker, or another); stops it afterwards."""
    runs: list[Run] = []

    async def make(broker: KafkaEndpoint = kafka) -> Run:
        prefix = f"x{uuid.uuid4().hex[:8]}.chaos."
        runs.append(await chaos_run(broker, registry_url, prefix, tmp_path / f"run{len(runs)}"))
        return runs[-1]

    yield make
    for run in runs:
        for proc in run.procs:
            proc.kill()  # done; no need to wait for a graceful stop
        await run.fake.stop()
        await run.pipeline.codec.close()


def passed(got_problems: list[str]) -> None:
    assert not got_problems, "\n".join(got_problems)


async def mid_load(run: Run, expected: Expected, fault: Callable[[], Awaitable[object]]) -> None:
    """A worker and the sink; half the load; once a fifth of it is committed, the
    ``fault``; the other half; then the outcome must be the clean run's."""
    records = await people(run)
    await start(run)
    await load(run, records[: len(records) // 2])
    await under_way(run)
    await fault()
    await load(run, records[len(records) // 2 :])
    got = await settle(run, expected.of("uio"))
    passed(got.problems)


async def test_kill_9_a_worker_mid_load_and_restart_it(
    clean: Expected, case: Callable[..., Awaitable[Run]]
) -> None:
    run = await case()

    async def kill_and_restart() -> None:
        run.procs[0].kill()
        run.process("worker")

    await mid_load(run, clean, kill_and_restart)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[LocalKafka, KafkaEndpoint]]:
    """A broker of this test's own, on a fixed port, to stop and start again."""
    broker = LocalKafka(tmp_path / "kafka", HubSettings().cache_dir, port=free_port())
    info = broker.start_broker()
    try:
        yield broker, KafkaEndpoint(info.bootstrap_servers, info.version, "local jars")
    finally:
        broker.stop()


async def test_restart_the_broker_mid_load(
    clean: Expected,
    case: Callable[..., Awaitable[Run]],
    own_broker: tuple[LocalKafka, KafkaEndpoint],
) -> None:
    broker, endpoint = own_broker
    run = await case(endpoint)

    async def restart() -> None:
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(broker.start_broker)

    await mid_load(run, clean, restart)
    for proc in run.procs:
        assert proc.proc is not None
        assert proc.proc.poll() is None, f"{proc.command} ended with the broker's restart"


async def test_a_second_worker_joins_mid_load(
    clean: Expected, case: Callable[..., Awaitable[Run]], tmp_path: Path
) -> None:
    run = await case()

    async def two_members() -> bool:
        return await members(run.kafka.bootstrap_servers, run.prefix, 2)

    async def join() -> None:
        run.process("worker", state_dir=tmp_path / "second")
        await until(two_members, "the group to rebalance onto two workers", run)

    await mid_load(run, clean, join)


async def test_poison_at_one_percent_is_dead_lettered_and_the_rest_processed(
    clean: Expected, case: Callable[..., Awaitable[Run]]
) -> None:
    run = await case()
    records = with_poison(await people(run))
    await start(run)
    await load(run, records)
    got = await settle(run, clean.of("uio"))
    passed(got.problems)
    poison = [r for r in got.inputs if is_poison(r)]
    assert len(poison) == sum(1 for r in records if r.key.startswith(b"poison-")) >= 10
    errors = {got.dead[(r.topic, r.partition, r.offset)]["hub.error"] for r in poison}
    assert len(errors) >= 8, f"the poison's reasons are told apart: {errors}"


async def test_a_flapping_source_loses_and_duplicates_nothing(
    clean: Expected, case: Callable[..., Awaitable[Run]], rabbitmq: str
) -> None:
    run = await case()
    await start(run)
    numbers = await dfo_hires(run, rabbitmq, flapping=True)
    got = await settle(run, clean.of(FLAP_INSTITUTION), institution=FLAP_INSTITUTION)
    passed(got.problems)
    published = Counter(
        r.key for r in got.inputs if r.topic.endswith("source.dfo.employee") and r.value
    )
    assert sorted(k.decode() for k in published) == sorted(numbers), "nothing lost"
    assert set(published.values()) == {1}, "nothing published twice"
