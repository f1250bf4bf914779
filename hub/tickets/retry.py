"""Trying a ticket system again: exponential backoff with jitter, a bounded number of
times. Only :class:`TicketSystemUnavailableError` is retried (and, for decoding, an
unreachable registry); a rejection is final."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from hub.tickets.system import TicketSystemUnavailableError

__all__ = ["RetryPolicy", "backoff_delay"]

T = TypeVar("T")
log = structlog.get_logger("hub.tickets")


def backoff_delay(attempt: int, *, base: float, cap: float, draw: float) -> float:
    """The wait before retry ``attempt`` (0 for the first): half of
    ``min(cap, base * 2**attempt)`` for sure and the other half scaled by ``draw``
    (a number in [0, 1)), so that many clients do not retry in step.

    >>> [backoff_delay(a, base=0.5, cap=4.0, draw=0.0) for a in range(5)]
    [0.25, 0.5, 1.0, 2.0, 2.0]
    >>> backoff_delay(10, base=0.5, cap=4.0, draw=0.999) < 4.0
    True
    """
    ceiling = min(cap, base * 2.0**attempt)
    return ceiling / 2 + ceiling / 2 * draw


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try again."""

    attempts: int = 8
    base_s: float = 0.5
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    async def run(
        self,
        step: Callable[[], Awaitable[T]],
        what: str,
        retry_on: tuple[type[Exception], ...] = (TicketSystemUnavailableError,),
    ) -> T:
        """Run ``step``; on an error of ``retry_on`` wait and run it again, at most
        ``attempts`` times in all, then let the last error through."""
        attempt = 0
        while True:
            try:
                return await step()
            except retry_on as exc:
                attempt += 1
                if attempt >= self.attempts:
                    raise
                delay = backoff_delay(
                    attempt - 1, base=self.base_s, cap=self.cap_s, draw=self.rng.random()
                )
                log.warning(
                    "ticket_system_retry",
                    what=what,
                    error=str(exc),
                    attempt=attempt,
                    retry_in_s=round(delay, 3),
                )
                await asyncio.sleep(delay)
