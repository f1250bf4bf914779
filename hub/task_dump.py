"""What a running worker is waiting on: ``kill -USR1 <pid>`` writes the stack of every
asyncio task of every event loop in the process (faust's consumer runs a loop of its
own in a thread) to standard error.

A worker that has stopped reading while its lag grows is idle in its event loops: a
thread dump (py-spy) shows only ``select``; the tasks' stacks show which await never
returns."""

from __future__ import annotations

import asyncio
import gc
import inspect
import io
import signal
import sys
from collections.abc import Callable
from typing import TextIO

__all__ = ["awaiting", "dump_tasks", "install_task_dump"]


def _loops() -> list[asyncio.AbstractEventLoop]:
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, asyncio.AbstractEventLoop) and not o.is_closed()
    ]


def awaiting(coro: object, depth: int = 40) -> list[str]:
    """Where a suspended coroutine is, outermost first, following what each awaits
    (a task's own stack shows only its outermost frame)."""
    found: list[str] = []
    while coro is not None and len(found) < depth:
        kind = type(coro).__name__
        if kind == "async_generator_asend":  # what `async for` awaits
            coro = next((r for r in gc.get_referents(coro) if inspect.isasyncgen(r)), coro)
        elif kind == "coroutine_wrapper":  # `await x` where x.__await__ is a coroutine's
            coro = next((r for r in gc.get_referents(coro) if inspect.iscoroutine(r)), coro)
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            found.append(repr(coro)[:200])
            break
        code = frame.f_code
        found.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return found


def dump_tasks(out: TextIO | None = None, *extras: Callable[[], str]) -> int:
    """Write every pending task's stack, then what each of ``extras`` says (e.g. the
    consumer's partitions); returns how many tasks were written."""
    out = out or sys.stderr
    buffer = io.StringIO()
    written = 0
    for n, loop in enumerate(_loops()):
        try:
            tasks = list(asyncio.all_tasks(loop))
        except RuntimeError:  # the loop's task set changed while it was read: skip it
            continue
        buffer.write(f"--- event loop {n} ({len(tasks)} tasks, running {loop.is_running()})\n")
        for task in sorted(tasks, key=lambda t: t.get_name()):
            buffer.write(f"task {task.get_name()}:\n")
            for where in awaiting(task.get_coro()):
                buffer.write(f"    {where}\n")
            written += 1
    for extra in extras:
        try:
            buffer.write(extra() + "\n")
        except Exception as exc:  # a diagnostic must not take the worker down
            buffer.write(f"({extra!r} failed: {exc!r})\n")
    out.write(buffer.getvalue())
    out.flush()
    return written


def install_task_dump(loop: asyncio.AbstractEventLoop, *extras: Callable[[], str]) -> None:
    """Dump the tasks (and ``extras``) on SIGUSR1 (on platforms that have it)."""
    if hasattr(signal, "SIGUSR1"):
        loop.add_signal_handler(signal.SIGUSR1, dump_tasks, None, *extras)
