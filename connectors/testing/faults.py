"""Fault injection for fake source servers and notification feeds.

:class:`FaultPlan` is an aiohttp middleware any fake server can install: while a fault
is active, matching requests get a 5xx (or any status and body: DFØ's 404 variants), a
timeout, a slow answer, or a malformed (truncated) body. Faults last for a number of
requests or seconds, or they come and go: :meth:`FaultPlan.flap` makes a source that
alternates good answers with faults for as long as it runs.

:class:`NotificationFaults` wraps a notification sender: it loses, duplicates or
reorders notifications, at random (seeded) or on request.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from aiohttp import web

__all__ = ["Fault", "FaultPlan", "Flapping", "NotificationFaults"]

FaultKind = Literal["status", "timeout", "slow", "malformed"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    """One fault: what it does, which requests it hits and for how long.

    - ``status``: answer ``status`` with ``body`` (``content_type``) instead;
    - ``timeout``: wait ``delay_s`` (longer than the client's timeout), then answer;
    - ``slow``: wait ``delay_s``, then answer normally;
    - ``malformed``: answer normally, but cut the body in half.

    ``path`` is a regular expression searched in the request path ('' hits all);
    ``times`` limits the hits, ``seconds`` the duration (from when it is added).
    """

    kind: FaultKind
    path: str = ""
    status: int = 503
    body: bytes = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
    content_type: str = "text/html"
    delay_s: float = 0.0
    times: int | None = None
    seconds: float | None = None
    hits: int = 0
    added_at: float = field(default_factory=time.monotonic)

    def active(self, now: float) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return self.seconds is None or now - self.added_at < self.seconds

    def matches(self, path: str) -> bool:
        return not self.path or re.search(self.path, path) is not None


@dataclass
class Flapping:
    """A source that flaps: ``good`` matching requests are answered, the next gets the
    first of ``faults``; ``good`` more are answered, the next gets the second; and so
    on, round the faults, for as long as it is in the plan."""

    faults: list[Fault]
    good: int = 1
    path: str = ""
    seen: int = 0

    def next_fault(self, path: str) -> Fault | None:
        if self.path and re.search(self.path, path) is None:
            return None
        turn, within = divmod(self.seen, self.good + 1)
        self.seen += 1
        return None if within < self.good else self.faults[turn % len(self.faults)]


class FaultPlan:
    """The faults a fake server injects now; tests add and clear them as they go."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.flapping: Flapping | None = None
        self.requests = 0
        self.injected = 0

    def add(self, fault: Fault) -> Fault:
        fault.added_at = time.monotonic()
        self.faults.append(fault)
        return fault

    def outage(self, seconds: float, *, status: int = 503, path: str = "") -> Fault:
        """Every matching request answers ``status`` for ``seconds``."""
        return self.add(Fault("status", path=path, status=status, seconds=seconds))

    def flap(
        self, *, good: int = 1, timeout_s: float = 1.0, status: int = 503, path: str = ""
    ) -> Flapping:
        """From now on, ``good`` good answers, then a ``status``, then ``good`` good
        answers, then a timeout (an answer after ``timeout_s``), and so on."""
        self.flapping = Flapping(
            [Fault("status", status=status), Fault("timeout", delay_s=timeout_s)], good, path
        )
        return self.flapping

    def clear(self) -> None:
        self.faults.clear()
        self.flapping = None

    def active_fault(self, path: str) -> Fault | None:
        now = time.monotonic()
        found = next((f for f in self.faults if f.active(now) and f.matches(path)), None)
        if found is None and self.flapping is not None:
            return self.flapping.next_fault(path)
        return found

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The aiohttp middleware: ``web.Application(middlewares=[plan.middleware])``."""
        self.requests += 1
        fault = self.active_fault(request.path)
        if fault is None:
            return await handler(request)
        fault.hits += 1
        self.injected += 1
        if fault.kind == "status":
            return web.Response(
                status=fault.status, body=fault.body, content_type=fault.content_type
            )
        if fault.kind in ("timeout", "slow"):
            await asyncio.sleep(fault.delay_s)
            return await handler(request)
        response = await handler(request)
        if isinstance(response, web.Response) and response.body is not None:
            body = bytes(response.body)  # type: ignore[arg-type]
            return web.Response(
                status=response.status,
                body=body[: len(body) // 2],
                content_type=response.content_type,
            )
        return response


Message = TypeVar("Message")


class NotificationFaults(Generic[Message]):
    """Sends notifications through ``send``, losing, duplicating or reordering some.

    A notification is whatever ``send`` takes: a body (DFØ), or a body with its routing
    key (:class:`connectors.fake_http.Notification`).

    Rates are chances per notification (seeded, so a run can be repeated);
    :meth:`lose_next` drops the next ``n`` for certain. A reordered notification is
    held back and sent after the next one (or at :meth:`flush`).
    """

    def __init__(
        self,
        send: Callable[[Message], Awaitable[None]],
        *,
        lose_rate: float = 0.0,
        duplicate_rate: float = 0.0,
        reorder_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.send = send
        self.lose_rate = lose_rate
        self.duplicate_rate = duplicate_rate
        self.reorder_rate = reorder_rate
        self.rng = random.Random(seed)  # noqa: S311 - test faults, not cryptography
        self.lost: list[Message] = []
        self.sent: list[Message] = []
        self._held: Message | None = None
        self._lose_next = 0

    def lose_next(self, count: int = 1) -> None:
        """The next ``count`` notifications are lost."""
        self._lose_next += count

    async def publish(self, body: Message) -> None:
        if self._lose_next > 0:
            self._lose_next -= 1
            self.lost.append(body)
            return
        if self.rng.random() < self.lose_rate:
            self.lost.append(body)
            return
        if self._held is None and self.rng.random() < self.reorder_rate:
            self._held = body
            return
        await self._deliver(body)
        await self.flush()

    async def flush(self) -> None:
        """Send a notification held back for reordering."""
        if self._held is not None:
            held, self._held = self._held, None
            await self._deliver(held)

    async def _deliver(self, body: Message) -> None:
        """Send, and perhaps send again."""
        copies = 2 if self.rng.random() < self.duplicate_rate else 1
        for _ in range(copies):
            await self.send(body)
            self.sent.append(body)
