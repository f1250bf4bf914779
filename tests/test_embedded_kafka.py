"""The embedded broker's launcher, through the ``hub kafka`` command line: one broker
however often it is started, nothing left after stop, clear words on stale state."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.embedded.kafka import KAFKA_VERSION, metadata_answers
from hub.embedded.process import find_processes, free_port
from hub.settings import HubSettings

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[1]


class Cli:
    """Runs ``python -m hub`` with a state directory of the test's own."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.env = {
            **os.environ,
            "HUB_STATE_DIR": str(state_dir),
            "HUB_CACHE_DIR": str(HubSettings().cache_dir),
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hub", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def broker_pids(self) -> list[int]:
        return find_processes(str((self.state_dir / "kafka").resolve()) + "/")


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path / "state")
    try:
        yield runner
    finally:
        runner("kafka", "stop")


class TestKafkaCommand:
    def test_start_twice_runs_one_broker_and_stop_leaves_no_java(self, cli: Cli) -> None:
        """A second start finds the first broker; stop ends every java process of it."""
        port = free_port()
        first = cli("kafka", "start", "--port", str(port))
        assert first.returncode == 0, first.stderr
        assert f"kafka {KAFKA_VERSION} started at 127.0.0.1:{port}" in first.stdout
        assert metadata_answers(f"127.0.0.1:{port}"), "ready means a metadata call answers"
        pids = cli.broker_pids()
        assert len(pids) == 1

        second = cli("kafka", "start", "--port", str(port))
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        assert cli.broker_pids() == pids, "no second broker"

        status = cli("kafka", "status")
        assert status.returncode == 0
        assert f"running at 127.0.0.1:{port}" in status.stdout

        stop = cli("kafka", "stop")
        assert stop.returncode == 0, stop.stderr
        assert cli.broker_pids() == []
        java = subprocess.run(["pgrep", "-f", str(cli.state_dir)], capture_output=True, check=False)
        assert java.stdout == b"", "no java process of this instance is left"
        assert cli("kafka", "status").returncode == 3

    def test_stale_record_from_a_crash_is_reported_and_cleared(self, cli: Cli) -> None:
        """A state file naming a dead pid is called stale, and start recovers from it."""
        dead = subprocess.Popen(["true"])
        dead.wait()
        instance = cli.state_dir / "kafka"
        instance.mkdir(parents=True)
        (instance / "service.json").write_text(
            json.dumps(
                {
                    "name": "kafka",
                    "pid": dead.pid,
                    "address": "127.0.0.1:1",
                    "version": KAFKA_VERSION,
                    "log_path": "x",
                    "started_at": 0,
                    "ports": {"client": 1},
                }
            )
        )
        status = cli("kafka", "status")
        assert status.returncode == 4
        assert "crashed" in status.stdout
        start = cli("kafka", "start", "--port", "0")
        assert start.returncode == 0, start.stderr
        assert "started" in start.stdout
        assert len(cli.broker_pids()) == 1

    def test_port_taken_by_another_program_is_a_clear_error(self, cli: Cli) -> None:
        """Starting on a port someone else listens on fails at once and says what to do."""
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            port = squatter.getsockname()[1]
            result = cli("kafka", "start", "--port", str(port))
        assert result.returncode == 1
        assert f"port {port}" in result.stderr
        assert "already in use" in result.stderr
        assert "--port" in result.stderr
        assert cli.broker_pids() == []
