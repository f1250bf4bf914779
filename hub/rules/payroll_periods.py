"""Pay periods, months and payroll cut-offs, and amounts in kroner: the calendar the
payroll rules share.

A pay period is a calendar month written ``YYYY-MM``. A payroll cut-off is a day of the
month (the ``cutoff_day``, e.g. the 10th), or the month's last day when it is shorter.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from hub.errors import ConfigurationError
from hub.rules.settings import RuleSettings

__all__ = [
    "add_months",
    "by_period",
    "cutoff_on_or_after",
    "day_param",
    "month_day",
    "next_cutoff",
    "nok_en",
    "nok_nb",
    "period_bounds",
    "period_label",
]

Record = dict[str, Any]

_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")


def period_bounds(period: str | None) -> tuple[date, date] | None:
    """The first and last day of a ``YYYY-MM`` pay period; None when it is not one."""
    match = _PERIOD.fullmatch((period or "").strip())
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 1:
        return None
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def period_label(day: date) -> str:
    """The ``YYYY-MM`` pay period ``day`` falls in."""
    return f"{day.year:04d}-{day.month:02d}"


def by_period(results: Iterable[Record]) -> dict[tuple[date, date], list[Record]]:
    """Payroll results by their pay period's first and last day (bad periods left out)."""
    periods: dict[tuple[date, date], list[Record]] = {}
    for result in results:
        bounds = period_bounds(result.get("period"))
        if bounds is not None:
            periods.setdefault(bounds, []).append(result)
    return periods


def add_months(first: date, months: int) -> date:
    """The first day of the month ``months`` after (or before) ``first``'s month."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_day(first: date, day: int) -> date:
    """Day ``day`` of ``first``'s month, or its last day if the month is shorter."""
    return date(first.year, first.month, min(day, calendar.monthrange(first.year, first.month)[1]))


def next_cutoff(after: date, cutoff_day: int, *, on_or_after: bool = False) -> date:
    """The first payroll cut-off (day ``cutoff_day`` of a month, or its last day in a
    shorter month) strictly after ``after``, or on or after it when ``on_or_after``."""
    this_month = month_day(after.replace(day=1), cutoff_day)
    if this_month > after or (on_or_after and this_month == after):
        return this_month
    return month_day(add_months(after.replace(day=1), 1), cutoff_day)


def cutoff_on_or_after(day: date, cutoff_day: int) -> date:
    """The first payroll cut-off on or after ``day``."""
    return next_cutoff(day, cutoff_day, on_or_after=True)


def day_param(settings: RuleSettings, rule_id: str, name: str, default: int) -> int:
    """A day-of-month parameter, checked to lie between 1 and 31."""
    value = settings.param(rule_id, name, default)
    if not 1 <= value <= 31:
        raise ConfigurationError(
            f"rule {rule_id}: parameter {name!r} should be a day of the month, 1-31, not {value}"
        )
    return value


def nok_nb(amount: float) -> str:
    """An amount as Norwegian text: ``12 345,50 kr``."""
    return f"{amount:,.2f} kr".replace(",", " ").replace(".", ",")


def nok_en(amount: float) -> str:
    """An amount as English text: ``NOK 12,345.50``."""
    return f"NOK {amount:,.2f}"
