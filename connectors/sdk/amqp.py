"""AMQP (RabbitMQ) notification feeds: consuming thin notifications, and publishing them
(for fake sources and tests).

A notification is acknowledged only when the runtime has delivered what it caused
(``Notification.ack``), so a crash or a stop before that leaves it in the queue. The
queue is durable: notifications sent while the connector is down wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustConnection

from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.items import Acknowledge

__all__ = ["AmqpPublisher", "Notification", "acknowledge_all", "batches", "notifications"]

_FAULTS = (aiormq.exceptions.AMQPError, ConnectionError, OSError, TimeoutError)


@dataclass(frozen=True)
class Notification:
    """One message from the feed."""

    body: bytes
    routing_key: str
    content_type: str | None
    redelivered: bool
    ack: Acknowledge = field(repr=False)


def _unavailable(url: str, exc: BaseException) -> SourceUnavailableError:
    host = url.rsplit("@", 1)[-1]  # never the credentials
    return SourceUnavailableError(
        f"AMQP broker {host}: {type(exc).__name__}: {exc or 'connection lost'}"
    )


async def notifications(
    url: str,
    *,
    queue: str,
    exchange: str = "",
    routing_key: str = "#",
    prefetch: int = 20,
) -> AsyncGenerator[Notification, None]:
    """Consume ``queue`` (durable; bound to the topic exchange ``exchange`` when one is
    named) until the caller stops iterating. Broker faults raise
    :class:`SourceUnavailableError`; unacknowledged messages go back to the queue when
    the generator is closed, so iterate it inside ``contextlib.aclosing``."""
    try:
        connection = await aio_pika.connect(url, timeout=10)
    except _FAULTS as exc:
        raise _unavailable(url, exc) from exc
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        declared = await channel.declare_queue(queue, durable=True)
        if exchange:
            topic = await channel.declare_exchange(
                exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            await declared.bind(topic, routing_key)
        async with declared.iterator() as messages:
            async for message in messages:
                yield Notification(
                    body=message.body,
                    routing_key=message.routing_key or "",
                    content_type=message.content_type,
                    redelivered=bool(message.redelivered),
                    ack=message.ack,
                )
    except _FAULTS as exc:
        raise _unavailable(url, exc) from exc
    finally:
        await connection.close()


async def _next(feed: AsyncIterator[Notification]) -> Notification | None:
    try:
        return await anext(feed)
    except StopAsyncIteration:
        return None


async def batches(
    feed: AsyncIterator[Notification],
    *,
    window_s: float,
    limit: int,
    wake_in: Callable[[], float | None] = lambda: None,
) -> AsyncGenerator[list[Notification], None]:
    """The notifications of ``feed`` in batches: a batch ends when none follows within
    ``window_s`` or it holds ``limit`` (at most the prefetch, or the broker stops
    sending). A source that announces one change in several messages (Greg's event per
    role and identity) is then fetched once per object, not once per message.

    ``wake_in()`` is the number of seconds until the consumer wants to act on its own
    (a scheduled re-check), or None: when that comes first, an empty batch is yielded.
    Broker faults raise :class:`SourceUnavailableError`. Iterate inside
    ``contextlib.aclosing`` (with ``feed`` closed after it), so that a fault or a stop
    hands unacknowledged messages back at once.
    """
    pending: asyncio.Future[Notification | None] | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(_next(feed))
            done, _ = await asyncio.wait({pending}, timeout=wake_in())
            if not done:
                yield []
                continue
            first, pending = pending.result(), None
            if first is None:
                return
            batch = [first]
            while len(batch) < limit:
                pending = asyncio.ensure_future(_next(feed))
                done, _ = await asyncio.wait({pending}, timeout=window_s)
                if not done:
                    break
                following, pending = pending.result(), None
                if following is None:
                    break
                batch.append(following)
            yield batch
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending


def acknowledge_all(batch: list[Notification]) -> Callable[[], Awaitable[None]]:
    """One acknowledgement for every notification of a batch (an item's ``acknowledge``)."""

    async def acknowledge() -> None:
        for notification in batch:
            await notification.ack()

    return acknowledge


class AmqpPublisher:
    """Publishes notifications to a durable topic exchange (as a source system would)."""

    def __init__(self, url: str, exchange: str) -> None:
        self.url = url
        self.exchange_name = exchange
        self._connection: AbstractRobustConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def open(self) -> None:
        try:
            self._connection = await aio_pika.connect_robust(self.url, timeout=10)
            self._channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await self._channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except _FAULTS as exc:
            raise _unavailable(self.url, exc) from exc

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def declare_queue(self, queue: str, routing_key: str = "#") -> None:
        """Declare a durable queue bound to the exchange, as a subscription set up before
        the consumer first runs (messages sent before then wait in it)."""
        if self._exchange is None:
            await self.open()
        assert self._channel is not None  # noqa: S101 - open() set it
        assert self._exchange is not None  # noqa: S101
        try:
            declared = await self._channel.declare_queue(queue, durable=True)
            await declared.bind(self._exchange, routing_key)
        except _FAULTS as exc:
            raise _unavailable(self.url, exc) from exc

    async def publish(
        self,
        body: bytes,
        routing_key: str = "",
        content_type: str = "application/octet-stream",
    ) -> None:
        """Send one persistent message and wait for the broker's confirm."""
        if self._exchange is None:
            await self.open()
        assert self._exchange is not None  # noqa: S101 - open() set it
        message = aio_pika.Message(
            body=body,
            content_type=content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            await self._exchange.publish(message, routing_key=routing_key)
        except _FAULTS as exc:
            raise _unavailable(self.url, exc) from exc

    async def __aenter__(self) -> AmqpPublisher:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
