"""The ticket sink: ``hub.tasks`` in, tickets in RT, TOPdesk or ServiceNow out.

One loop reads ``hub.tasks`` in a consumer group of its own and, for each task:

1. routes it (the institution's ``ticket_system``, the owner group's queue);
2. asks the system for the ticket's state: the remembered ticket
   (``hub.ticket-refs``), or else a ticket that carries the task id (so a ticket
   filed just before a crash is found, not filed twice);
3. carries out :func:`hub.tickets.plan.plan_delivery` (create, comment, set status),
   each request retried with backoff on 5xx, timeouts and refused connections;
4. remembers the ticket and the delivered revision on ``hub.ticket-refs``;
5. commits the task's offset, and only then moves on.

A 4xx rejection sends the task's record to ``hub.deadletter`` (stage
``ticket-sink``) with the reason, and the loop goes on. A system still unavailable
after the retries stops the sink with an error, the task uncommitted: it is delivered
when the sink runs again. Every ``readback`` seconds the tickets of open tasks are
read back, and one a person resolved while the data still shows the problem is
reopened with a comment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from hub.avro.registry import RegistryUnavailableError
from hub.compacted import latest_by_key
from hub.deadletter import message_dead_letter_headers
from hub.errors import HubError
from hub.kafka_security import kafka_client_options
from hub.pipeline import TASK, Pipeline
from hub.tickets.plan import (
    DELIVERED_STATES,
    Action,
    Comment,
    Create,
    Route,
    SetStatus,
    plan_delivery,
    route_for,
)
from hub.tickets.refs import REF_SCHEMA, REFS_TOPIC, ref_record, synced_of
from hub.tickets.retry import RetryPolicy
from hub.tickets.system import (
    NewTicket,
    RemoteTicket,
    TicketRejectedError,
    TicketSystem,
    TicketSystemError,
    TicketSystemUnavailableError,
)

__all__ = ["STAGE", "TicketSink"]

STAGE = "ticket-sink"
log = structlog.get_logger("hub.tickets")
Record = dict[str, Any]


class _ReloadRefs(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions may come from another sink: read the refs afresh when they do."""

    def __init__(self, sink: TicketSink) -> None:
        self.sink = sink

    async def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.sink.load_refs()


class TicketSink:
    """Delivers tasks to ticket systems; :meth:`run` until ``stop`` is set."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        bootstrap: str,
        systems: Mapping[str, TicketSystem],
        group_id: str,
        retry: RetryPolicy,
        readback_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pipeline = pipeline
        self.bootstrap = bootstrap
        self.systems = systems
        self.group_id = group_id
        self.retry = retry
        self.readback_s = readback_s
        self.clock = clock
        topics = pipeline.topics
        self.tasks_topic = topics.name("hub.tasks")
        self.refs_topic = topics.name(REFS_TOPIC)
        self.dead_letters = topics.name("hub.deadletter")
        self.refs: dict[str, Record] = {}
        self.latest: dict[str, Record] = {}  # each task's latest state, for read-back
        self.handled = 0  # records of hub.tasks handled (and committed) since start
        self._producer: AIOKafkaProducer | None = None

    # Kafka I/O -------------------------------------------------------------
    async def load_refs(self) -> None:
        self.refs = await latest_by_key(self.bootstrap, self.refs_topic, self.pipeline.codec)
        log.info("ticket_refs_loaded", refs=len(self.refs))

    async def _decode_task(self, value: bytes) -> Record:
        schema = self.pipeline.catalog[TASK]
        task: Record = await self.retry.run(
            lambda: self.pipeline.codec.decode(value, schema),
            "decode task",
            retry_on=(RegistryUnavailableError,),
        )
        return task

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise HubError("the ticket sink is not running")
        return self._producer

    async def _remember(self, ref: Record) -> None:
        value = await self.pipeline.codec.encode(
            self.refs_topic, self.pipeline.catalog[REF_SCHEMA], ref
        )
        await self.producer.send_and_wait(self.refs_topic, key=ref["task_id"].encode(), value=value)
        self.refs[ref["task_id"]] = ref

    async def _dead_letter(self, message: Any, exc: HubError, system: str | None) -> None:
        log.warning(
            "ticket_dead_letter",
            task=(message.key or b"").decode(errors="replace"),
            system=system,
            error=str(exc),
            error_type=type(exc).__name__,
        )
        headers = message_dead_letter_headers(message, error=exc, stage=STAGE, connector=system)
        await self.producer.send_and_wait(
            self.dead_letters, key=message.key, value=message.value, headers=headers
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver tasks until ``stop`` is set (or a system stays unavailable)."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", **kafka_client_options()
        )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **kafka_client_options(),
        )
        await self._producer.start()
        try:
            tasks = await latest_by_key(self.bootstrap, self.tasks_topic, self.pipeline.codec)
            self.latest = {task["task_id"]: task for task in tasks.values()}
            await self.load_refs()
            consumer.subscribe([self.tasks_topic], listener=_ReloadRefs(self))
            await consumer.start()
            log.info("ticket_sink_started", topic=self.tasks_topic, group=self.group_id)
            loop = asyncio.get_running_loop()
            next_readback = loop.time() + self.readback_s
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=100)
                for tp, messages in batch.items():
                    for message in messages:
                        await self._handle(message)
                        await consumer.commit(
                            {TopicPartition(tp.topic, tp.partition): message.offset + 1}
                        )
                        self.handled += 1
                if loop.time() >= next_readback:
                    await self.read_back()
                    next_readback = loop.time() + self.readback_s
        finally:
            await consumer.stop()
            await self._producer.stop()
            for system in self.systems.values():
                await system.close()

    async def _handle(self, message: Any) -> None:
        if message.value is None:
            return
        system: str | None = None
        try:
            task = await self._decode_task(message.value)
            self.latest[task["task_id"]] = task
            route = route_for(task, self.pipeline.settings_for(task["institution"]))
            system = route.system
            await self.deliver(task, route)
        except TicketSystemUnavailableError:
            raise  # after the retries: stop, uncommitted
        except RegistryUnavailableError:
            raise
        except HubError as exc:
            await self._dead_letter(message, exc, system)

    # Delivery ----------------------------------------------------------------
    def _system(self, name: str) -> TicketSystem:
        system = self.systems.get(name)
        if system is None:
            raise TicketSystemError(
                f"the ticket system {name!r} is not configured for this sink"
                f" (set HUB_{name.upper()}_URL and its credentials)"
            )
        return system

    async def _remote(
        self, system: TicketSystem, ref: Record | None, task_id: str
    ) -> RemoteTicket | None:
        if ref is not None and ref["system"] == system.name:
            try:
                return await self.retry.run(lambda: system.get(ref["ticket_id"]), "get ticket")
            except TicketRejectedError as exc:
                if exc.status != 404:
                    raise
                log.warning("ticket_gone", task_id=task_id, ticket_id=ref["ticket_id"])
        return await self.retry.run(lambda: system.find(task_id), "find ticket")

    async def _find_or_create(self, system: TicketSystem, ticket: NewTicket) -> RemoteTicket:
        """Create, unless an earlier try that seemed to fail did create it."""
        found = await system.find(ticket.task_id)
        return found if found is not None else await system.create(ticket)

    async def deliver(self, task: Record, route: Route) -> None:
        """Bring ``task``'s ticket in line with it, and remember what was delivered."""
        if task["state"] not in DELIVERED_STATES:
            return
        ref = self.refs.get(task["task_id"])
        if ref is not None and task["revision"] <= ref["synced_revision"]:
            return  # delivered before (a replay)
        system = self._system(route.system)
        remote = await self._remote(system, ref, task["task_id"])
        synced = synced_of(ref) if remote is not None and ref is not None else None
        remote = await self._carry_out(
            system, task, plan_delivery(task, synced, remote, route.queue), remote
        )
        if remote is not None:
            await self._remember(ref_record(task, route, remote, self.clock()))

    async def _act(
        self, system: TicketSystem, action: Action, remote: RemoteTicket | None
    ) -> RemoteTicket:
        if isinstance(action, Create):
            return await self._find_or_create(system, action.ticket)
        if remote is None:
            raise TicketSystemError(f"{system.name}: no ticket to {type(action).__name__}")
        if isinstance(action, Comment):
            await system.comment(remote.ticket_id, action.text)
        else:
            await system.set_status(remote.ticket_id, action.status, action.note)
        return remote

    async def _carry_out(
        self,
        system: TicketSystem,
        task: Record,
        actions: list[Action],
        remote: RemoteTicket | None,
    ) -> RemoteTicket | None:
        for action in actions:
            what = type(action).__name__.lower()
            remote = await self.retry.run(partial(self._act, system, action, remote), what)
            log.info(
                f"ticket_{what}",
                task_id=task["task_id"],
                system=system.name,
                ticket_id=remote.ticket_id,
                **({"status": action.status} if isinstance(action, SetStatus) else {}),
            )
        return remote

    async def read_back(self) -> None:
        """Read back the tickets of open tasks; reopen those a person resolved."""
        for task_id, ref in list(self.refs.items()):
            task = self.latest.get(task_id)
            if (
                ref["synced_state"] != "OPEN"
                or task is None
                or task["state"] != "OPEN"
                or task["revision"] != ref["synced_revision"]
            ):
                continue  # not open, or a delivery is on its way
            try:
                system = self._system(ref["system"])
                remote = await system.get(ref["ticket_id"])
                if remote.status != "resolved":
                    continue
                log.info("ticket_resolved_by_person", task_id=task_id, ticket_id=remote.ticket_id)
                actions = plan_delivery(task, synced_of(ref), remote, ref["queue"] or "")
                await self._carry_out(system, task, actions, remote)
            except TicketSystemError as exc:
                log.warning("ticket_readback_failed", task_id=task_id, error=str(exc))
