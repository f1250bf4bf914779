"""A hub worker in a process of its own, as the demo, the scenario replay, the
benchmarks and the tests run one: the command, its environment, start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["start_worker", "stop_worker", "worker_command", "worker_env"]


def worker_command() -> list[str]:
    """``python -m hub worker`` with this interpreter."""
    return [sys.executable, "-m", "hub", "worker"]


def worker_env(
    *,
    bootstrap: str,
    prefix: str,
    state_dir: Path,
    registry_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Our environment plus the worker's settings; no registry means single-object Avro.
    The web server is off unless ``extra`` sets ``HUB_WORKER_WEB_PORT``."""
    return {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HUB_TOPIC_PREFIX": prefix,
        "HUB_STATE_DIR": str(state_dir),
        "HUB_WORKER_WEB_PORT": "0",
        **(
            {"HUB_SCHEMA_REGISTRY_URL": registry_url}
            if registry_url
            else {"HUB_WIRE_FORMAT": "single-object"}
        ),
        **(extra or {}),
    }


async def start_worker(env: Mapping[str, str], log_path: Path) -> asyncio.subprocess.Process:
    """Start a worker in its own process group, logging to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *worker_command(),
            env=dict(env),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )


async def stop_worker(worker: asyncio.subprocess.Process, grace_s: float = 30) -> None:
    """SIGTERM to the worker's process group; SIGKILL if it has not ended in time, or
    if the wait is cancelled (a demo interrupted while it stops its worker must not
    leave the worker running behind it)."""
    if worker.returncode is not None:
        return
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(worker.wait()), timeout=grace_s)
    except TimeoutError:
        _kill_group(worker.pid)
        await worker.wait()
    except BaseException:
        _kill_group(worker.pid)
        raise


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has ended meanwhile
        os.killpg(pid, signal.SIGKILL)
