"""Running a connector: lifecycle, checkpoints, retries, reconciliation, health.

:class:`ConnectorRuntime` drives a :class:`~connectors.sdk.connector.Connector`:

- **incremental**: it iterates ``changes(cursor)`` and publishes each item; after an item
  is on Kafka it commits the item's cursor (``connector.checkpoints``) and then calls its
  ``acknowledge``. A generator that ends is asked again after ``poll_interval_s``.
- **full reconciliation** (when the connector can list): every
  ``reconcile_interval_s`` it compares ``list_all()`` with the snapshot
  (``connector.snapshots``), publishes what changed and a tombstone for each record gone
  from the source. Incremental delivery pauses meanwhile; a change fetched before the
  reconciliation began is not published after it (it is older than the listing).
- **faults**: :class:`SourceUnavailableError` (the source or Kafka) pauses with
  exponential backoff and jitter, then resumes from the last committed cursor: nothing
  is skipped and the checkpoint does not move. Any other exception fails the run.
- **stop**: :meth:`stop` ends :meth:`run` after the item in hand; a change not yet
  acknowledged is delivered again on the next start.

A record equal to the one published before for its key (same fingerprint) is not sent
again, so duplicate notifications publish nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

from connectors.sdk.connector import Connector
from connectors.sdk.errors import ConnectorError, SourceUnavailableError
from connectors.sdk.health import ConnectorState, Health
from connectors.sdk.items import Checkpoint, Delete, Failed, Item, Upsert
from connectors.sdk.publisher import RecordPublisher
from connectors.sdk.retry import Backoff
from connectors.sdk.state import KafkaState, SnapshotEntry, fingerprint, plan_reconciliation
from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import AvroCodec
from hub.kafka_security import kafka_client_options
from hub.topics import TopicCatalog

__all__ = ["ConnectorRuntime", "Reconciliation"]

log = structlog.get_logger("connectors.sdk")
_STOPPED = object()


@dataclass(frozen=True)
class Reconciliation:
    """What one full reconciliation did."""

    listed: int
    emitted: int
    unchanged: int
    deleted: int
    dead_lettered: int
    complete: bool
    deletions_held: bool = False


async def _pull(changes: AsyncIterator[Item]) -> Item | None:
    """The next item, or None when the generator has ended."""
    try:
        return await anext(changes)
    except StopAsyncIteration:
        return None


async def _close(iterator: AsyncIterator[Item]) -> None:
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        await closer()


class ConnectorRuntime:
    """Runs one connector instance (a connector and its institution) against Kafka.

    Use it as ``async with ConnectorRuntime(...) as runtime: await runtime.run()``.
    ``producer`` may be a started ``AIOKafkaProducer`` to share; by default the runtime
    starts its own (idempotent, ``acks=all``).
    """

    def __init__(
        self,
        connector: Connector[Any],
        *,
        bootstrap: str,
        codec: AvroCodec,
        catalog: SchemaCatalog,
        topics: TopicCatalog,
        producer: Any = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.connector = connector
        self.settings = connector.settings
        self.instance = f"{connector.name}/{connector.settings.institution}"
        self.bootstrap = bootstrap
        self.codec = codec
        self.catalog = catalog
        self.topics = topics
        self.today = today
        self.backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        self.health = Health()
        self._producer = producer
        self._own_producer = producer is None
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._epoch = 0  # bumped when a reconciliation starts
        self._started = False
        self.log = log.bind(connector=connector.name, instance=self.instance)

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to Kafka, read the checkpoint and snapshot, set the connector up."""
        if self._started:
            return
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=True,
                **kafka_client_options(),
            )
            await self._producer.start()
        self.publisher = RecordPublisher(
            connector=self.connector.name,
            topic=self.connector.topic,
            schema=self.connector.schema,
            producer=self._producer,
            codec=self.codec,
            catalog=self.catalog,
            topics=self.topics,
        )
        self.state = KafkaState(
            instance=self.instance,
            bootstrap=self.bootstrap,
            producer=self._producer,
            codec=self.codec,
            catalog=self.catalog,
            topics=self.topics,
        )
        await self.state.load()
        await self.connector.setup()
        self._started = True
        self.health.state = ConnectorState.RUNNING
        self.log.info(
            "connector_started", cursor=self.state.cursor, known_records=len(self.state.entries)
        )

    async def close(self) -> None:
        """Tear the connector down and stop the producer this runtime started."""
        if self._started:
            await self.connector.teardown()
            self._started = False
        if self._own_producer and self._producer is not None:
            await self._producer.stop()
            self._producer = None
        if self.health.state is not ConnectorState.FAILED:
            self.health.state = ConnectorState.STOPPED

    async def __aenter__(self) -> ConnectorRuntime:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def stop(self) -> None:
        """Ask :meth:`run` to end after the item in hand."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self) -> None:
        """Follow the source's changes (and reconcile on schedule) until :meth:`stop`."""
        await self.start()
        tasks = [asyncio.create_task(self._follow_changes(), name=f"{self.instance} changes")]
        if self.connector.can_list() and (
            self.settings.reconcile_on_start or self.settings.reconcile_interval_s
        ):
            tasks.append(
                asyncio.create_task(self._reconcile_on_schedule(), name=f"{self.instance} full")
            )
        try:
            await asyncio.gather(*tasks)
        except Exception as exc:
            self.health.state = ConnectorState.FAILED
            self.health.last_error = f"{type(exc).__name__}: {exc}"
            self.log.exception("connector_failed", error=self.health.last_error)
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.health.state = ConnectorState.STOPPED
        self.log.info("connector_stopped", **self.health.as_dict())

    # -- incremental ------------------------------------------------------------------

    async def _follow_changes(self) -> None:
        attempt = 0
        while not self.stopping:
            try:
                ended = await self._drain(self.connector.changes(self.state.cursor))
            except SourceUnavailableError as exc:
                await self._retry_pause(exc, attempt)
                attempt += 1
                continue
            attempt = 0
            if ended:
                await self._pause(self.settings.poll_interval_s)

    async def _drain(self, changes: AsyncIterator[Item]) -> bool:
        """Deliver items until the generator ends (True) or the runtime stops (False)."""
        try:
            while True:
                epoch = self._epoch
                item = await self._next(changes)
                if item is None:
                    return True
                if item is _STOPPED:
                    return False
                assert isinstance(item, Upsert | Delete | Failed | Checkpoint)  # noqa: S101
                async with self._lock:
                    await self._deliver(item, superseded=epoch != self._epoch)
        finally:
            await _close(changes)

    async def _next(self, changes: AsyncIterator[Item]) -> object:
        """The next item, None at the end, or _STOPPED when stop() came first (the pending
        fetch is cancelled: nothing was delivered for it, so nothing is lost)."""
        pulling = asyncio.ensure_future(_pull(changes))
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({pulling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if pulling.done():
            return pulling.result()
        pulling.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pulling
        return _STOPPED

    async def deliver(self, item: Item) -> str | None:
        """Publish one item now (outside :meth:`run`); the record's key, or None."""
        await self.start()
        async with self._lock:
            return await self._deliver(item, superseded=False)

    async def _deliver(self, item: Item, *, superseded: bool) -> str | None:
        key: str | None = None
        if isinstance(item, Failed):
            await self.publisher.dead_letter(item)
            self.health.dead_lettered += 1
        elif superseded and isinstance(item, Upsert | Delete):
            self.health.superseded += 1
        elif isinstance(item, Upsert):
            key = await self._upsert(item)
        elif isinstance(item, Delete):
            await self._delete(item)
            key = item.key
        if item.cursor is not None:
            await self.state.commit(item.cursor)
        if item.acknowledge is not None:
            await item.acknowledge()
        self.health.succeeded()
        return key

    async def _upsert(self, item: Upsert) -> str | None:
        record = item.record
        key = self.connector.key(record)
        digest = fingerprint(record)
        known = self.state.entries.get(key)
        if known is not None and (known.fingerprint, known.valid_on) == (digest, item.valid_on):
            self.health.unchanged += 1
            return key
        published = await self.publisher.upsert(item, key)
        if published.dead_letter is not None:
            self.health.dead_lettered += 1
            return None
        await self.state.remember(
            SnapshotEntry(
                key=key,
                institution=str(record.get("institution") or self.settings.institution),
                source_id=str(record.get("source_id") or key),
                fingerprint=digest,
                valid_on=item.valid_on,
            )
        )
        self.health.emitted += 1
        return key

    async def _delete(self, item: Delete) -> None:
        await self.publisher.delete(item)
        await self.state.forget(item.key)
        self.health.deleted += 1

    # -- full reconciliation ----------------------------------------------------------

    async def _reconcile_on_schedule(self) -> None:
        interval = self.settings.reconcile_interval_s
        if not self.settings.reconcile_on_start:
            if interval is None:
                return
            await self._pause(interval)
        while not self.stopping:
            for attempt in range(self.settings.reconcile_attempts):
                try:
                    await self.reconcile()
                    break
                except SourceUnavailableError as exc:
                    await self._retry_pause(exc, attempt)
                    if self.stopping:
                        return
            if interval is None:
                return
            await self._pause(interval)

    async def reconcile(self) -> Reconciliation:
        """List everything, publish what changed and delete what is gone."""
        if not self.connector.can_list():
            raise ConnectorError(f"connector {self.connector.name} cannot list its source")
        await self.start()
        async with self._lock:
            self._epoch += 1
            before = (self.health.emitted, self.health.unchanged, self.health.dead_lettered)
            listed: set[str] = set()
            unkeyed = 0
            complete = True
            today = self.today()
            listing = self.connector.list_all()
            try:
                async for item in listing:
                    if self.stopping:
                        complete = False
                        break
                    if isinstance(item, Upsert):
                        key = self.connector.key(item.record)
                        listed.add(key)
                        known = self.state.entries.get(key)
                        if known is not None and known.valid_on and known.valid_on > today:
                            continue  # it shows a future day; today's listing is older
                        await self._upsert(item)
                    elif isinstance(item, Failed):
                        await self.publisher.dead_letter(item)
                        self.health.dead_lettered += 1
                        if item.key:
                            listed.add(item.key)
                        else:
                            unkeyed += 1
                    elif isinstance(item, Delete):
                        await self._delete(item)
            finally:
                await _close(listing)
            deleted, held = await self._delete_missing(listed, today, complete, unkeyed)
            self.health.reconciliations += 1
            self.health.succeeded()
        result = Reconciliation(
            listed=len(listed),
            emitted=self.health.emitted - before[0],
            unchanged=self.health.unchanged - before[1],
            deleted=deleted,
            dead_lettered=self.health.dead_lettered - before[2],
            complete=complete,
            deletions_held=held,
        )
        self.log.info("reconciled", **vars(result))
        return result

    async def _delete_missing(
        self, listed: set[str], today: date, complete: bool, unkeyed: int
    ) -> tuple[int, bool]:
        if not complete:
            return 0, False
        if unkeyed:
            self.log.warning(
                "deletions_skipped",
                reason=f"{unkeyed} listed records could not be read and have no key",
            )
            return 0, False
        plan = plan_reconciliation(
            self.state.entries,
            listed,
            today=today,
            max_fraction=self.settings.max_deletion_fraction,
        )
        if plan.held:
            self.health.held_deletions += len(plan.gone)
            self.health.last_error = plan.reason
            self.log.error("deletions_held", reason=plan.reason)
            return 0, True
        for entry in plan.gone:
            await self._delete(
                Delete(key=entry.key, institution=entry.institution, source_id=entry.source_id)
            )
        return len(plan.gone), False

    # -- waiting ----------------------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if stop() comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _retry_pause(self, exc: SourceUnavailableError, attempt: int) -> None:
        delay = self.backoff.delay(attempt)
        self.health.retries += 1
        self.health.state = ConnectorState.RETRYING
        self.health.last_error = str(exc)
        self.log.warning("source_unavailable", error=str(exc), retry_in_s=round(delay, 2))
        await self._pause(delay)
