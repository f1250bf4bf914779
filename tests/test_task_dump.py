"""A worker's asyncio tasks on SIGUSR1: where each awaits, through ``async for``."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from collections.abc import AsyncIterator

from hub.task_dump import awaiting, dump_tasks, install_task_dump


async def _ticks() -> AsyncIterator[int]:
    while True:
        await asyncio.sleep(60)
        yield 1


async def _reader() -> None:
    async for _ in _ticks():
        pass


async def test_a_dump_follows_the_awaits_into_an_async_generator() -> None:
    task = asyncio.create_task(_reader(), name="reader")
    await asyncio.sleep(0.01)
    try:
        where = awaiting(task.get_coro())
        assert [w.rsplit(" in ", 1)[-1] for w in where[:3]] == ["_reader", "_ticks", "sleep"]
        out = io.StringIO()
        assert dump_tasks(out) >= 2
        assert "task reader:" in out.getvalue()
        assert "in _ticks" in out.getvalue()
    finally:
        task.cancel()


async def test_sigusr1_writes_the_dump_to_stderr(capfd: object) -> None:
    install_task_dump(asyncio.get_running_loop())
    task = asyncio.create_task(_reader(), name="reader-on-signal")
    await asyncio.sleep(0.01)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.sleep(0.05)
        err = capfd.readouterr().err  # type: ignore[attr-defined]
        assert "task reader-on-signal:" in err
    finally:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR1)
        task.cancel()
