"""Time as the universities' business rules see it.

DFØ's dates (start dates, end dates, pay periods) are Norwegian calendar dates,
so "today" is the date in Europe/Oslo, not in UTC: between midnight and 01:00
(02:00 in summer) Oslo time, UTC still says yesterday.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

__all__ = ["BUSINESS_TIMEZONE", "business_date", "start_of_day"]

BUSINESS_TIMEZONE = ZoneInfo("Europe/Oslo")


def business_date(now: datetime) -> date:
    """The Norwegian calendar date at the instant ``now`` (which must be aware)."""
    if now.tzinfo is None:
        raise ValueError("business_date needs a timezone-aware datetime")
    return now.astimezone(BUSINESS_TIMEZONE).date()


def start_of_day(day: date) -> datetime:
    """Midnight at the start of ``day`` in Norway, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=BUSINESS_TIMEZONE)
