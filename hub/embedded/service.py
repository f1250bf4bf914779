"""The launcher shared by the embedded services: the Kafka broker, the schema registry and
the RabbitMQ node of the tests."""

from __future__ import annotations

import abc
import enum
import time
from dataclasses import dataclass
from pathlib import Path

from hub.embedded.maven import file_lock
from hub.embedded.process import (
    ProcessRecord,
    find_processes,
    port_in_use,
    read_record,
    spawn,
    stop_processes,
    write_record,
)
from hub.errors import EmbeddedServiceError

__all__ = ["LocalJavaService", "ServiceState", "ServiceStatus", "StartResult"]


class ServiceState(enum.Enum):
    RUNNING = "running"
    STOPPED = "stopped"
    STALE = "stale"


@dataclass(frozen=True)
class ServiceStatus:
    """What ``status`` found, with a sentence for the operator."""

    state: ServiceState
    record: ProcessRecord | None
    message: str


@dataclass(frozen=True)
class StartResult:
    """A running service: its record, and whether this call started it."""

    record: ProcessRecord
    started: bool


class LocalJavaService(abc.ABC):
    """One instance of a java server, kept under ``instance_dir``.

    The instance directory holds the configuration, the data, the log and
    ``service.json`` (pid, ports, address). Every process whose command line names
    the instance directory belongs to it; ``stop`` ends all of them.
    """

    name: str = "service"

    def __init__(self, instance_dir: Path) -> None:
        self.instance_dir = instance_dir.resolve()
        self.state_path = self.instance_dir / "service.json"
        self.log_path = self.instance_dir / "logs" / "server.out"

    # -- what a concrete service provides ---------------------------------

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """The version of the software this launcher runs."""

    @property
    @abc.abstractmethod
    def install_dir(self) -> Path:
        """Where the fetched jars live (a cache outside the repository)."""

    @abc.abstractmethod
    def install(self) -> None:
        """Fetch what the service needs (cached after the first run)."""

    @abc.abstractmethod
    def choose_ports(self) -> dict[str, int]:
        """The ports to listen on; the first is the one clients use."""

    @abc.abstractmethod
    def command(self, ports: dict[str, int]) -> list[str]:
        """Prepare the instance directory and return the command that runs the server."""

    @abc.abstractmethod
    def address(self, ports: dict[str, int]) -> str:
        """What a client connects to (bootstrap servers, base URL)."""

    @abc.abstractmethod
    def is_ready(self, address: str) -> bool:
        """True once the server answers a real request (not just an open port)."""

    def running_version(self) -> str:
        """The version the running server reports; by default the launcher's."""
        return self.version

    # -- lifecycle ----------------------------------------------------------

    def _marker(self) -> str:
        return str(self.instance_dir) + "/"

    def status(self) -> ServiceStatus:
        record = read_record(self.state_path)
        pids = find_processes(self._marker())
        if record is not None and record.pid in pids:
            if self.is_ready(record.address):
                return ServiceStatus(
                    ServiceState.RUNNING,
                    record,
                    f"{self.name} {record.version} is running at {record.address}"
                    f" (pid {record.pid})",
                )
            return ServiceStatus(
                ServiceState.STALE,
                record,
                f"{self.name} process {record.pid} is alive but does not answer at"
                f" {record.address}; see {record.log_path}, or run 'stop' to end it",
            )
        if pids:
            return ServiceStatus(
                ServiceState.STALE,
                record,
                f"{self.name} processes {pids} of {self.instance_dir} run without a state"
                " file (left from a crashed run); run 'stop' to end them",
            )
        if record is not None:
            return ServiceStatus(
                ServiceState.STALE,
                record,
                f"{self.name} pid {record.pid} from an earlier run is gone (it crashed or"
                " was killed); 'start' clears the stale record",
            )
        return ServiceStatus(ServiceState.STOPPED, None, f"{self.name} is not running")

    def start(self, timeout: float = 120.0) -> StartResult:
        """Start the service unless it is already running; wait until it answers."""
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.instance_dir / ".lock"):
            current = self.status()
            if current.state is ServiceState.RUNNING and current.record is not None:
                return StartResult(current.record, started=False)
            if current.state is ServiceState.STALE:
                # The way out of a crashed run: end its leftovers, forget its record.
                stop_processes(find_processes(self._marker()))
                self.state_path.unlink(missing_ok=True)
            self.install()
            ports = self.choose_ports()
            for port in ports.values():
                if port_in_use(port):
                    raise EmbeddedServiceError(
                        f"cannot start {self.name}: port {port} on 127.0.0.1 is already in use"
                        " by another program. Stop that program (see 'ss -ltnp'), or choose"
                        " another port with --port."
                    )
            cmd = self.command(ports)
            proc = spawn(cmd, log_path=self.log_path, cwd=self.instance_dir)
            addr = self.address(ports)
            deadline = time.monotonic() + timeout
            while not self.is_ready(addr):
                if proc.poll() is not None:
                    raise EmbeddedServiceError(
                        f"{self.name} exited with code {proc.returncode} during startup;"
                        f" the last lines of {self.log_path}:\n{self._log_tail()}"
                    )
                if time.monotonic() > deadline:
                    stop_processes([proc.pid])
                    raise EmbeddedServiceError(
                        f"{self.name} did not answer at {addr} within {timeout:.0f}s;"
                        f" the last lines of {self.log_path}:\n{self._log_tail()}"
                    )
                time.sleep(0.3)
            record = ProcessRecord(
                name=self.name,
                pid=proc.pid,
                address=addr,
                version=self.running_version(),
                log_path=str(self.log_path),
                started_at=time.time(),
                ports=ports,
            )
            write_record(self.state_path, record)
            return StartResult(record, started=True)

    def stop(self, timeout: float = 30.0) -> list[int]:
        """Stop every process of this instance; return the pids that were ended."""
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.instance_dir / ".lock"):
            pids = find_processes(self._marker())
            stop_processes(pids, timeout=timeout)
            self.state_path.unlink(missing_ok=True)
            return pids

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
