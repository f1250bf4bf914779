"""The clean run the chaos cases are compared with: computed once per session, on a
topic prefix of its own, with one worker and the ticket sink: the same load, and
after it the DFØ hires through an unfaulted fake."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.chaos.harness import (
    FLAP_INSTITUTION,
    Expected,
    chaos_run,
    dfo_hires,
    load,
    people,
    settle,
    start,
)
from tests.conftest import KafkaEndpoint


@pytest.fixture(scope="session")
async def clean(
    kafka: KafkaEndpoint,
    registry_url: str,
    rabbitmq: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Expected:
    """The clean run's open tasks, by institution."""
    prefix = f"c{uuid.uuid4().hex[:8]}.clean."
    tmp: Path = tmp_path_factory.mktemp("chaos-clean")
    run = await chaos_run(kafka, registry_url, prefix, tmp)
    try:
        await start(run)
        await load(run, await people(run))
        got = await settle(run, None)
        assert not got.problems, got.problems
        load_tasks = got.open_tasks("uio")
        # After the load has settled: the hires' recent dates move the event clock on,
        # which would change the load's tasks had they come first.
        await dfo_hires(run, rabbitmq, flapping=False)
        got = await settle(run, None)
        assert not got.problems, got.problems
        expected = Expected({"uio": load_tasks, FLAP_INSTITUTION: got.open_tasks(FLAP_INSTITUTION)})
        assert expected.of("uio"), "the load opens tasks"
        assert expected.of(FLAP_INSTITUTION), "the DFØ hires open tasks"
    finally:
        for proc in run.procs:
            proc.kill()
        await run.fake.stop()
        await run.pipeline.codec.close()
    return expected
