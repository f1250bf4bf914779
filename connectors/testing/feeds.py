"""A fake source for the conformance kit and fault tests: a fake server's store served
on a local port behind a :class:`~connectors.testing.faults.FaultPlan`, with the
notifications the store queues published to RabbitMQ through
:class:`~connectors.testing.faults.NotificationFaults`.

Each source's ``fake_server`` module builds its kit harness on :func:`fake_feed_source`
(see ``connectors/greg/fake_server.py``).
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from connectors.fake_http import Notification, RunningServer, serve_app
from connectors.sdk.amqp import AmqpPublisher
from connectors.testing.faults import FaultPlan, NotificationFaults

__all__ = ["KIT_API_KEY", "FakeFeedSource", "FeedHarness", "fake_feed_source"]

KIT_API_KEY = "kit-api-key"


class FakeStore(Protocol):
    """What a fake server's store has: its notifications, taken in order."""

    def take_notifications(self) -> list[Notification]: ...


@dataclass
class FakeFeedSource:
    """A served fake, its faults and its feed. ``settings`` are a connector's settings
    for it (base URL, key, queue …)."""

    server: RunningServer
    faults: FaultPlan
    publisher: AmqpPublisher
    take: Callable[[], list[Notification]]
    settings: dict[str, Any]
    notifications: NotificationFaults[Notification] = field(init=False)

    def __post_init__(self) -> None:
        self.notifications = NotificationFaults(self._send)

    async def _send(self, notification: Notification) -> None:
        await self.publisher.publish(
            notification.body, notification.routing_key, notification.content_type
        )

    async def announce(self) -> list[Notification]:
        """Publish what the store has queued since the last call (through the faults)."""
        taken = self.take()
        for notification in taken:
            await self.notifications.publish(notification)
        return taken


@contextlib.asynccontextmanager
async def fake_feed_source(
    store: FakeStore,
    make_app: Callable[..., web.Application],
    *,
    amqp_url: str,
    prefix: str,
    source: str,
    connector: str,
    institution: str,
    base_path: str = "/",
    binding: str = "#",
) -> AsyncIterator[FakeFeedSource]:
    """Serve ``make_app(store, middlewares=…)`` on a free port with a fault plan in
    front, and declare the queue ``<prefix><connector>`` bound to the exchange
    ``<prefix><source>`` (as a subscription is set up before the consumer first runs).
    The store must accept :data:`KIT_API_KEY`; the connector's settings are ready in
    ``settings``."""
    faults = FaultPlan()
    server = await serve_app(make_app(store, middlewares=[faults.middleware]))
    exchange, queue = f"{prefix}{source}", f"{prefix}{connector}"
    publisher = AmqpPublisher(amqp_url, exchange)
    try:
        await publisher.declare_queue(queue, binding)
        settings = {
            "base_url": f"{server.url}{base_path}",
            "api_key": KIT_API_KEY,
            "institution": institution,
            "amqp_url": amqp_url,
            "amqp_exchange": exchange,
            "amqp_queue": queue,
            "amqp_batch_window_s": 0.1,  # the fake publishes a change's messages at once
        }
        yield FakeFeedSource(server, faults, publisher, store.take_notifications, settings)
    finally:
        await publisher.close()
        await server.close()


@dataclass
class FeedHarness(abc.ABC):
    """The conformance kit's harness over a :class:`FakeFeedSource`: new records get
    numbers from 101 on, and each change is announced as the source announces it."""

    feed: FakeFeedSource
    next_id: int = 100

    @property
    def settings(self) -> dict[str, Any]:
        return self.feed.settings

    @abc.abstractmethod
    def put(self, number: int, *, broken: bool) -> str:
        """Store record ``number`` (one that cannot be mapped when ``broken``); its key."""

    @abc.abstractmethod
    async def remove_silently(self, key: str) -> None:
        """Delete a record without announcing it."""

    async def add(self, count: int) -> list[str]:
        keys = []
        for _ in range(count):
            self.next_id += 1
            keys.append(self.put(self.next_id, broken=False))
        await self.feed.announce()
        return keys

    async def add_malformed(self) -> str:
        self.next_id += 1
        key = self.put(self.next_id, broken=True)
        await self.feed.announce()
        return key
