"""Exponential backoff with full jitter (pure: the caller sleeps)."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Pause ``attempt`` (0-based) is a random share of ``initial · 2^attempt``, capped at
    ``maximum``; at least half of it, so retries neither stampede nor spin."""

    initial: float = 1.0
    maximum: float = 60.0

    def ceiling(self, attempt: int) -> float:
        """The longest pause for this attempt."""
        return min(self.maximum, self.initial * 2.0 ** min(attempt, 32))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The pause before retry ``attempt``: between half the ceiling and the ceiling."""
        ceiling = self.ceiling(attempt)
        share = (rng or random).random()
        return ceiling / 2 + share * ceiling / 2
