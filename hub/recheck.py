"""The re-check schedule: which persons to evaluate again, and when.

Rules say when a future date will matter to a person (``next_check``: a start date
less the lead days, an end date, a role's end). The schedule keeps those moments
and hands out the persons whose moment has come, on whichever clock the hub runs:
wall time in production, event time in replays (a month of history replays in
seconds, and every deadline inside it still fires in order).
"""

from __future__ import annotations

import heapq
from datetime import datetime

__all__ = ["RecheckSchedule"]


class RecheckSchedule:
    """Due moments per person key; the newest moment for a key wins."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, bytes]] = []
        self._due: dict[bytes, datetime] = {}

    def __len__(self) -> int:
        return len(self._due)

    def set(self, key: bytes, moment: datetime | None) -> None:
        """Schedule ``key`` at ``moment`` (None: nothing scheduled for it)."""
        if moment is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) != moment:
            self._due[key] = moment
            heapq.heappush(self._heap, (moment, key))

    def pop_due(self, now: datetime) -> list[tuple[bytes, datetime]]:
        """Take every key whose moment is at or before ``now``, earliest first."""
        ready = []
        while self._heap and self._heap[0][0] <= now:
            moment, key = heapq.heappop(self._heap)
            if self._due.get(key) == moment:  # skip moments replaced since
                del self._due[key]
                ready.append((key, moment))
        return ready

    def clear(self) -> None:
        self._heap.clear()
        self._due.clear()
