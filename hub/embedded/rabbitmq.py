"""A private RabbitMQ node from Debian's ``rabbitmq-server`` package, for tests and demos.

Everything the node owns lives under its instance directory: its own node name, AMQP
port, distribution port and epmd port (so it never meets a system node or its epmd),
its own configuration, plugin list (none: no management listener on 15672), Mnesia
data, logs, Erlang cookie (``HOME``) and a wrapper script whose command line names the
instance, so ``status`` and ``stop`` find its processes as they find Kafka's.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

from hub.embedded.process import free_port, port_in_use, read_record, with_free_ports
from hub.embedded.service import LocalJavaService
from hub.errors import EmbeddedServiceError

__all__ = ["RABBITMQ_HOME", "LocalRabbitMQ", "amqp_answers"]

RABBITMQ_HOME = Path("/usr/lib/rabbitmq")
SERVER_SCRIPT = RABBITMQ_HOME / "bin" / "rabbitmq-server"
DEFAULT_PORT = 5672
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
_METHOD_FRAME = 1


def amqp_answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when ``host:port`` answers the AMQP 0-9-1 protocol header with a method frame
    (Connection.Start): the broker accepts clients, not just TCP connections."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_AMQP_HEADER)
            first = sock.recv(1)
    except OSError:
        return False
    return first == bytes([_METHOD_FRAME])


class LocalRabbitMQ(LocalJavaService):
    """One RabbitMQ node (an Erlang VM, not a JVM: the launcher is the same) under
    ``instance_dir``; clients connect as guest over loopback."""

    name = "rabbitmq"

    def __init__(self, instance_dir: Path, port: int | None = None) -> None:
        super().__init__(instance_dir)
        self.port = port
        digest = hashlib.sha256(str(self.instance_dir).encode()).hexdigest()[:10]
        self.node_name = f"hub-{digest}@localhost"

    @property
    def version(self) -> str:
        found = sorted(RABBITMQ_HOME.glob("lib/rabbitmq_server-*"))
        return found[-1].name.removeprefix("rabbitmq_server-") if found else "unknown"

    @property
    def install_dir(self) -> Path:
        return RABBITMQ_HOME

    def install(self) -> None:
        """RabbitMQ comes from Debian's package; say how to get it when it is missing."""
        if not SERVER_SCRIPT.exists():
            raise EmbeddedServiceError(
                f"RabbitMQ is not installed ({SERVER_SCRIPT} is missing); install it with"
                " 'apt-get install rabbitmq-server' (.ci/run does)"
            )

    def choose_ports(self) -> dict[str, int]:
        if self.port:
            amqp = self.port
        elif self.port is None and not port_in_use(DEFAULT_PORT):
            amqp = DEFAULT_PORT
        else:
            amqp = free_port()
        return with_free_ports({"amqp": amqp}, "dist", "epmd")

    def address(self, ports: dict[str, int]) -> str:
        return f"amqp://guest:guest@127.0.0.1:{ports['amqp']}/"

    def is_ready(self, address: str) -> bool:
        host_port = address.rsplit("@", 1)[-1].rstrip("/")
        host, _, port = host_port.rpartition(":")
        return port.isdigit() and amqp_answers(host, int(port))

    def command(self, ports: dict[str, int]) -> list[str]:
        self.install()
        home = self.instance_dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        (self.instance_dir / "enabled_plugins").write_text("[].\n")
        (self.instance_dir / "rabbitmq-env.conf").write_text("")
        (self.instance_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{ports['amqp']}\n"
            "loopback_users.guest = true\n"
            "vm_memory_high_watermark.absolute = 512MiB\n"
            "disk_free_limit.absolute = 50MB\n"
        )
        env = {
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(ports["amqp"]),
            "RABBITMQ_DIST_PORT": str(ports["dist"]),
            "ERL_EPMD_PORT": str(ports["epmd"]),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self.instance_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.instance_dir / "logs"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_CONFIG_FILE": str(self.instance_dir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.instance_dir / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.instance_dir / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.instance_dir / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.instance_dir / "plugins-expand"),
            "RABBITMQ_PID_FILE": str(self.instance_dir / "rabbitmq.pid"),
        }
        wrapper = self.instance_dir / "run-rabbitmq.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        # Not exec: the shell stays the group leader whose command line names the instance.
        wrapper.write_text(f"#!/bin/sh\n{exports}{shlex.quote(str(SERVER_SCRIPT))}\n")
        return ["/bin/sh", str(wrapper)]

    def stop(self, timeout: float = 30.0) -> list[int]:
        """Stop the node, then the private epmd it started (a daemon of its own)."""
        record = read_record(self.state_path)
        pids = super().stop(timeout=timeout)
        epmd = shutil.which("epmd")
        if record is not None and "epmd" in record.ports and epmd is not None:
            subprocess.run(
                [epmd, "-port", str(record.ports["epmd"]), "-kill"],
                capture_output=True,
                check=False,
                timeout=10,
            )
        return pids
