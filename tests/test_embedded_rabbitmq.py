"""The private RabbitMQ node: it answers AMQP, a second start finds it, and stop leaves
no process behind (its epmd included)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from hub.embedded.process import find_processes, port_in_use
from hub.embedded.rabbitmq import SERVER_SCRIPT, LocalRabbitMQ, amqp_answers
from hub.embedded.service import ServiceState

pytestmark = pytest.mark.skipif(
    not SERVER_SCRIPT.exists(), reason="rabbitmq-server is not installed (.ci/run installs it)"
)


def _startup_line(log: Path, within_s: float = 60.0) -> str:
    """The node's "Server startup complete; N plugins started." line. The AMQP listener
    opens a moment before the boot ends and the line is written, so wait for it."""
    deadline = time.monotonic() + within_s
    while True:
        found = re.search(r"Server startup complete; \d+ plugins started\.", log.read_text())
        if found:
            return found.group(0)
        assert time.monotonic() < deadline, f"no startup line in {log} after {within_s}s"
        time.sleep(0.2)


def test_private_node_starts_answers_and_stops_cleanly(tmp_path: Path) -> None:
    """A node of its own answers the AMQP handshake on its port; start again finds it;
    stop ends every process of the instance and its epmd."""
    node = LocalRabbitMQ(tmp_path / "rmq", port=0)
    first = node.start()
    try:
        ports = first.record.ports
        assert amqp_answers("127.0.0.1", ports["amqp"])
        assert node.status().state is ServiceState.RUNNING
        again = LocalRabbitMQ(tmp_path / "rmq", port=0).start()
        assert (again.started, again.record.pid) == (False, first.record.pid)
        assert port_in_use(ports["epmd"]), "its own epmd, on its own port"
        assert _startup_line(node.log_path).endswith("0 plugins started."), "no plugins"
    finally:
        stopped = node.stop()
    assert first.record.pid in stopped
    assert find_processes(str(node.instance_dir) + "/") == []
    assert node.status().state is ServiceState.STOPPED
    assert not port_in_use(ports["amqp"])
    assert not port_in_use(ports["epmd"])
