"""What the dashboard shows, as pure functions of the tasks and the health readings.

Tasks are the decoded ``no.bott.hub.tasks.CorrectionTask`` records of ``hub.tasks``
(their latest state). "Today" is the Norwegian calendar date (:mod:`hub.clock`): a
task is overdue when it is open and its due date is before today, as the lifecycle
escalates it.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from hub.clock import business_date
from hub.consumer_lag import LagRow, total_lag
from hub.errors import HubError
from hub.privacy import redact_national_ids

__all__ = [
    "AGE_BUCKETS",
    "SEVERITIES",
    "STATES",
    "DashboardError",
    "DeadLetterTally",
    "TaskBoard",
    "TaskFilter",
    "age_days",
    "connector_health",
    "is_overdue",
    "lag_summary",
    "redacted",
    "select_tasks",
    "summarize",
    "task_detail",
    "task_row",
]

Task = Mapping[str, Any]

STATES = ("OPEN", "SUPPRESSED", "RESOLVED", "UNKNOWN", "PREVIEW")
SEVERITIES = ("P1", "P2", "P3")
# (label, first day, last day or None): the age of an open task in whole days.
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("today", 0, 0),
    ("1-2 days", 1, 2),
    ("3-7 days", 3, 7),
    ("8-30 days", 8, 30),
    ("over 30 days", 31, None),
)
_ROW_FIELDS = (
    "task_id",
    "rule_id",
    "state",
    "severity",
    "owner_group",
    "queue",
    "institution",
    "person_key",
    "display_name",
    "title_en",
    "title_nb",
    "due_date",
    "opened_at",
    "updated_at",
    "resolved_at",
    "revision",
    "escalated",
)
_TEXT_FIELDS = ("task_id", "rule_id", "person_key", "display_name", "title_en", "title_nb")
# Texts written for people; ids and keys are not among them (a key may hold 11 digits).
_PROSE = (
    "display_name",
    "title_nb",
    "title_en",
    "description_nb",
    "description_en",
    "suggested_fix_nb",
    "suggested_fix_en",
)
_CONNECTOR_GROUP = "connector."
_RECENT_DEAD_LETTERS = 10


class DashboardError(HubError):
    """A request to the dashboard cannot be answered as asked (a bad filter, no such task)."""


def _redact(text: str | None) -> str | None:
    return None if text is None else redact_national_ids(text)


def redacted(task: Task) -> dict[str, Any]:
    """The task with any eleven-digit number in its texts and evidence values replaced.

    Tasks carry masked values by construction; this keeps a slip upstream from
    reaching the page. Ids and pseudonymous keys are left as they are.
    """
    shown = {**task, **{name: _redact(task.get(name)) for name in _PROSE}}
    for name in ("evidence", "resolution_evidence"):
        shown[name] = [{**e, "value": _redact(e.get("value"))} for e in task.get(name) or []]
    if task.get("exception"):
        shown["exception"] = {**task["exception"], "reason": _redact(task["exception"]["reason"])}
    return shown


class TaskBoard:
    """The latest state of each task, kept from the records of ``hub.tasks`` (with
    their texts :func:`redacted`)."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def apply(self, key: bytes | None, value: Task | None) -> None:
        """One record: a task's new state, or a tombstone (``None``) that removes it."""
        if value is not None:
            self._tasks[value["task_id"]] = redacted(value)
        elif key is not None:
            self._tasks.pop(key.decode(errors="replace"), None)

    def clear(self) -> None:
        self._tasks.clear()

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def tasks(self) -> list[Task]:
        return list(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)


def is_overdue(task: Task, today: date) -> bool:
    """Open, and due before today."""
    due = task.get("due_date")
    return task["state"] == "OPEN" and due is not None and due < today


def age_days(task: Task, today: date) -> int:
    """Whole days since the task was opened, by Norwegian calendar dates."""
    return max((today - business_date(task["opened_at"])).days, 0)


def _text_of(task: Task) -> str:
    return " ".join(str(task.get(name) or "") for name in _TEXT_FIELDS).casefold()


def _one_of(name: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if not value:
        return None
    upper = value.upper()
    if upper not in allowed:
        raise DashboardError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return upper


def _flag(name: str, value: str | None) -> bool | None:
    if not value:
        return None
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise DashboardError(f"{name}={value!r} is not true or false")


@dataclass(frozen=True)
class TaskFilter:
    """Which tasks to list; an unset field lets every task through."""

    state: str | None = None
    rule: str | None = None
    severity: str | None = None
    owner: str | None = None
    institution: str | None = None
    overdue: bool | None = None
    text: str | None = None  # a word in the id, rule, person or title (any case)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> TaskFilter:
        """A filter from URL parameters; unknown parameters and bad values are errors."""
        known = {f.name for f in fields(cls)} | {"limit"}
        unknown = sorted(set(query) - known)
        if unknown:
            raise DashboardError(
                f"unknown parameter {', '.join(unknown)}; use {', '.join(sorted(known))}"
            )
        return cls(
            state=_one_of("state", query.get("state"), STATES),
            rule=query.get("rule") or None,
            severity=_one_of("severity", query.get("severity"), SEVERITIES),
            owner=query.get("owner") or None,
            institution=query.get("institution") or None,
            overdue=_flag("overdue", query.get("overdue")),
            text=(query.get("text") or "").strip() or None,
        )

    def matches(self, task: Task, today: date) -> bool:
        wanted = (
            (self.state, task["state"]),
            (self.rule, task["rule_id"]),
            (self.severity, task["severity"]),
            (self.owner, task["owner_group"]),
            (self.institution, task["institution"]),
        )
        if any(want is not None and want != have for want, have in wanted):
            return False
        if self.overdue is not None and is_overdue(task, today) != self.overdue:
            return False
        return self.text is None or self.text.casefold() in _text_of(task)


def task_row(task: Task, today: date) -> dict[str, Any]:
    """A task as the list shows it: no texts beyond the titles, no evidence."""
    row = {name: task.get(name) for name in _ROW_FIELDS}
    row["overdue"] = is_overdue(task, today)
    row["age_days"] = age_days(task, today)
    return row


def task_detail(task: Task, today: date) -> dict[str, Any]:
    """A task in full, with its evidence and resolution evidence."""
    return {**task, "overdue": is_overdue(task, today), "age_days": age_days(task, today)}


_STATE_ORDER = {state: n for n, state in enumerate(STATES)}


def _list_order(task: Task, today: date) -> tuple[Any, ...]:
    """Open before suppressed before resolved; overdue first; then severity, due date."""
    due = task.get("due_date")
    return (
        _STATE_ORDER.get(task["state"], len(STATES)),
        not is_overdue(task, today),
        task["severity"],
        due is None,
        due or date.max,
        task["rule_id"],
        task["task_id"],
    )


def select_tasks(
    tasks: Iterable[Task], chosen: TaskFilter, today: date, limit: int = 500
) -> dict[str, Any]:
    """The tasks the filter lets through, in list order, at most ``limit`` of them."""
    found = sorted(
        (t for t in tasks if chosen.matches(t, today)), key=lambda t: _list_order(t, today)
    )
    return {
        "total": len(found),
        "shown": min(len(found), limit),
        "tasks": [task_row(t, today) for t in found[:limit]],
    }


def _counts(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"key": key, "count": n} for key, n in sorted(counts.items())]


def _open_by(open_tasks: Sequence[Task], name: str, today: date) -> list[dict[str, Any]]:
    """Open tasks counted by one field, with how many of them are overdue."""
    overdue = Counter(t[name] for t in open_tasks if is_overdue(t, today))
    return [
        {**row, "overdue": overdue[row["key"]]}
        for row in _counts(Counter(t[name] for t in open_tasks))
    ]


def _age_histogram(open_tasks: Sequence[Task], today: date) -> list[dict[str, Any]]:
    ages = [age_days(t, today) for t in open_tasks]
    return [
        {
            "label": label,
            "count": sum(1 for a in ages if a >= first and (last is None or a <= last)),
        }
        for label, first, last in AGE_BUCKETS
    ]


def summarize(tasks: Iterable[Task], now: datetime) -> dict[str, Any]:
    """The tiles, the open tasks by rule, severity and owner, and their ages."""
    today = business_date(now)
    every = list(tasks)
    open_tasks = [t for t in every if t["state"] == "OPEN"]
    resolved_today = [
        t
        for t in every
        if t["state"] == "RESOLVED"
        and t.get("resolved_at") is not None
        and business_date(t["resolved_at"]) == today
    ]
    return {
        "today": today,
        "generated_at": now,
        "tiles": {
            "total": len(every),
            "open": len(open_tasks),
            "overdue": sum(1 for t in open_tasks if is_overdue(t, today)),
            "suppressed": sum(1 for t in every if t["state"] == "SUPPRESSED"),
            "resolved_today": len(resolved_today),
        },
        "by_state": _counts(Counter(t["state"] for t in every)),
        "open_by_rule": _open_by(open_tasks, "rule_id", today),
        "open_by_severity": _open_by(open_tasks, "severity", today),
        "open_by_owner": _open_by(open_tasks, "owner_group", today),
        "open_by_age": _age_histogram(open_tasks, today),
        "choices": {
            "rule": sorted({t["rule_id"] for t in every}),
            "severity": list(SEVERITIES),
            "owner": sorted({t["owner_group"] for t in every}),
            "institution": sorted({t["institution"] for t in every}),
            "state": [s for s in STATES if any(t["state"] == s for t in every)],
        },
    }


@dataclass
class DeadLetterTally:
    """Dead letters read from ``hub.deadletter``: counts by stage and connector, and the
    latest few (their headers only: where they came from and what was wrong)."""

    total: int = 0
    by_stage: Counter[str] = field(default_factory=Counter)
    by_connector: Counter[str] = field(default_factory=Counter)
    recent: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=_RECENT_DEAD_LETTERS)
    )

    def add(self, headers: Mapping[str, str], written_at: datetime | None) -> None:
        self.total += 1
        stage = headers.get("hub.stage") or "unknown"
        self.by_stage[stage] += 1
        connector = headers.get("hub.connector")
        if connector:
            self.by_connector[connector] += 1
        self.recent.appendleft(
            {
                "failed_at": headers.get("hub.failed_at") or written_at,
                "stage": stage,
                "connector": connector,
                "source_topic": headers.get("hub.source.topic"),
                "error_type": headers.get("hub.error.type"),
                "error": _redact(headers.get("hub.error")),
            }
        )

    def clear(self) -> None:
        self.total = 0
        self.by_stage.clear()
        self.by_connector.clear()
        self.recent.clear()

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_stage": _counts(self.by_stage),
            "by_connector": _counts(self.by_connector),
            "recent": list(self.recent),
        }


def lag_summary(rows: Sequence[LagRow]) -> dict[str, Any]:
    """Lag per consumer group (with its partitions) and in all."""
    totals = total_lag(list(rows))
    return {
        "total": sum(totals.values()),
        "groups": [
            {
                "group": group,
                "lag": lag,
                "partitions": [row.as_dict() for row in rows if row.group == group],
            }
            for group, lag in sorted(totals.items())
        ],
    }


def connector_health(
    reported: Sequence[Mapping[str, Any]],
    lag_rows: Sequence[LagRow],
    dead_letters: DeadLetterTally,
    group_prefix: str = "",
) -> list[dict[str, Any]]:
    """One entry per connector: what it reported of itself, its consumer group's lag
    (a group named ``<prefix>connector.<name>``) and the dead letters naming it.

    A reported entry has ``name`` and may have ``state``, ``last_success_at`` and
    ``last_error`` (the connector SDK's health). A connector known only from its group
    or its dead letters has the state ``unknown``.
    """
    entries: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        return entries.setdefault(
            name,
            {
                "name": name,
                "state": "unknown",
                "last_success_at": None,
                "last_error": None,
                "lag": None,
                "dead_letters": 0,
            },
        )

    for report in reported:
        entry(str(report["name"])).update(
            {k: report[k] for k in ("state", "last_success_at", "last_error") if k in report}
        )
    marker = group_prefix + _CONNECTOR_GROUP
    for group, lag in total_lag(list(lag_rows)).items():
        if group.startswith(marker):
            entry(group.removeprefix(marker))["lag"] = lag
    for name, count in dead_letters.by_connector.items():
        entry(name)["dead_letters"] = count
    return [entries[name] for name in sorted(entries)]
