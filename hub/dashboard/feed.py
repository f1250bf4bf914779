"""The dashboard's edge to Kafka: it follows ``hub.tasks`` and ``hub.deadletter`` from
the beginning (with :func:`hub.topic_tail.tail`) and reads the consumer lag every few
seconds (with :func:`hub.consumer_lag.read_lag`).

Nothing here stops on an error: a failed read is kept for the health panel, logged,
and tried again. While a topic is read again from its beginning, the page keeps
showing what was read before, until the new reading has caught up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from hub.avro.codec import AvroCodec
from hub.consumer_lag import LagRow, read_lag
from hub.dashboard.state import (
    DeadLetterTally,
    TaskBoard,
    connector_health,
    lag_summary,
    summarize,
)
from hub.topic_tail import StartAt, TailedRecord, tail

__all__ = ["ConnectorReports", "DashboardFeed", "TopicReading"]

log = structlog.get_logger(__name__)

# Each connector's own report of its health (name, state, last_success_at, last_error).
ConnectorReports = Callable[[], Sequence[Mapping[str, Any]]]


def _no_reports() -> Sequence[Mapping[str, Any]]:
    return ()


@dataclass
class TopicReading:
    """How far the dashboard has read one topic."""

    topic: str
    caught_up: bool = False
    records: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "caught_up": self.caught_up,
            "records": self.records,
            "error": self.error,
        }


@dataclass
class KafkaReading:
    """Whether the cluster answered the last time the dashboard asked."""

    ok: bool | None = None  # None: not asked yet
    message: str = "not checked yet"
    checked_at: datetime | None = None


class DashboardFeed:
    """What the dashboard knows of the hub, kept current by :meth:`run`."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        codec: AvroCodec,
        tasks_topic: str,
        deadletter_topic: str,
        group_prefix: str = "",
        reads: Mapping[str, Iterable[str]] | None = None,
        lag_interval_s: float = 10.0,
        retry_s: float = 5.0,
        connector_reports: ConnectorReports = _no_reports,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.codec = codec
        self.group_prefix = group_prefix
        self.reads = reads  # the topics of groups that read them (read_lag)
        self.lag_interval_s = lag_interval_s
        self.retry_s = retry_s
        self.connector_reports = connector_reports
        self.board = TaskBoard()
        self.dead_letters = DeadLetterTally()
        self.lag_rows: list[LagRow] = []
        self.kafka = KafkaReading()
        self.tasks = TopicReading(tasks_topic)
        self.deadletter = TopicReading(deadletter_topic)

    async def run(self) -> None:
        """Follow the tasks and the dead letters, and read the lag, until cancelled."""
        await asyncio.gather(
            self._follow(self.tasks, self._fresh_board),
            self._follow(self.deadletter, self._fresh_tally),
            self._poll_lag(),
        )

    def _fresh_board(self) -> tuple[Callable[[TailedRecord], None], Callable[[], None]]:
        board = TaskBoard()

        def shown() -> None:
            self.board = board

        return (lambda record: board.apply(record.key, record.value)), shown

    def _fresh_tally(self) -> tuple[Callable[[TailedRecord], None], Callable[[], None]]:
        tally = DeadLetterTally()

        def shown() -> None:
            self.dead_letters = tally

        return (lambda record: tally.add(record.headers, record.timestamp)), shown

    async def _follow(
        self,
        reading: TopicReading,
        fresh: Callable[[], tuple[Callable[[TailedRecord], None], Callable[[], None]]],
    ) -> None:
        """Read ``reading.topic`` from its beginning into a fresh copy, which is shown
        once it has caught up; on an error, keep the last copy and start again."""
        while True:
            apply, show = fresh()

            def caught_up(show: Callable[[], None] = show) -> None:
                show()
                reading.caught_up, reading.error = True, None

            reading.records = 0
            try:
                records = tail(
                    self.bootstrap_servers,
                    reading.topic,
                    self.codec,
                    start=StartAt("beginning"),
                    follow=True,
                    caught_up=caught_up,
                )
                async for record in records:
                    apply(record)
                    reading.records += 1
            except Exception as exc:  # kept for the health panel; the loop tries again
                reading.error = f"cannot read {reading.topic}: {exc or type(exc).__name__}"
                log.warning("dashboard_read_failed", topic=reading.topic, error=str(exc))
            await asyncio.sleep(self.retry_s)

    async def _poll_lag(self) -> None:
        while True:
            now = datetime.now().astimezone()
            try:
                self.lag_rows = await asyncio.wait_for(
                    read_lag(self.bootstrap_servers, self.group_prefix, self.reads),
                    self.lag_interval_s * 3,
                )
                groups = len({row.group for row in self.lag_rows})
                self.kafka = KafkaReading(
                    True, f"answers at {self.bootstrap_servers} ({groups} consumer groups)", now
                )
            except Exception as exc:  # the health panel says so; the next poll tries again
                reason = str(exc) or type(exc).__name__
                self.kafka = KafkaReading(
                    False, f"no answer from {self.bootstrap_servers}: {reason}", now
                )
                log.warning("dashboard_lag_failed", error=reason)
            await asyncio.sleep(self.lag_interval_s)

    def summary(self, now: datetime) -> dict[str, Any]:
        """The tasks summarised, with the dead-letter and lag tiles."""
        summary = summarize(self.board.tasks(), now)
        summary["tiles"]["dead_letters"] = self.dead_letters.total
        summary["tiles"]["lag"] = lag_summary(self.lag_rows)["total"]
        summary["loading"] = not self.tasks.caught_up
        summary["source"] = self.tasks.topic
        return summary

    def health(self, now: datetime) -> dict[str, Any]:
        """Kafka, the topics read, dead letters, lag per group and the connectors."""
        return {
            "generated_at": now,
            "kafka": {
                "ok": self.kafka.ok,
                "message": self.kafka.message,
                "checked_at": self.kafka.checked_at,
            },
            "topics": [self.tasks.as_dict(), self.deadletter.as_dict()],
            "dead_letters": {"topic": self.deadletter.topic, **self.dead_letters.as_dict()},
            "lag": lag_summary(self.lag_rows),
            "connectors": connector_health(
                self.connector_reports(), self.lag_rows, self.dead_letters, self.group_prefix
            ),
        }
