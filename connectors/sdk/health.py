"""A connector's health and metrics: its state and counters, readable at any time."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["ConnectorState", "Health"]


class ConnectorState(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    RETRYING = "retrying"  # the source (or Kafka) failed; waiting to try again
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass
class Health:
    """Counters since the runtime started, and what it is doing now."""

    state: ConnectorState = ConnectorState.STARTING
    emitted: int = 0  # records published
    deleted: int = 0  # tombstones published
    unchanged: int = 0  # records equal to what was published before (not sent again)
    superseded: int = 0  # records a reconciliation had already replaced with newer data
    dead_lettered: int = 0
    retries: int = 0
    reconciliations: int = 0
    held_deletions: int = 0  # deletions a reconciliation refused (too many at once)
    last_success_at: datetime | None = None
    last_error: str | None = None

    def succeeded(self) -> None:
        self.last_success_at = datetime.now(UTC)
        if self.state is ConnectorState.RETRYING:
            self.state = ConnectorState.RUNNING

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the state as its value, timestamps as ISO text."""
        data = asdict(self)
        data["state"] = self.state.value
        data["last_success_at"] = self.last_success_at.isoformat() if self.last_success_at else None
        return data
