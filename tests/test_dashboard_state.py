"""The dashboard's pure part: which tasks are overdue, how old they are, the filters,
the summary tiles and tables, dead letters, lag and connector health."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.consumer_lag import LagRow
from hub.dashboard.state import (
    AGE_BUCKETS,
    DashboardError,
    DeadLetterTally,
    TaskBoard,
    TaskFilter,
    age_days,
    connector_health,
    is_overdue,
    lag_summary,
    select_tasks,
    summarize,
    task_detail,
    task_row,
)
from tests.factories import correction_task

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
TODAY = date(2026, 11, 22)


def task(number: int, **fields: Any) -> dict[str, Any]:
    return correction_task(number, NOW, **fields)


class TestOverdueAndAge:
    def test_an_open_task_due_yesterday_is_overdue_one_due_today_is_not(self) -> None:
        """Overdue means open and due before today."""
        assert is_overdue(task(1, due_date=TODAY - timedelta(days=1)), TODAY)
        assert not is_overdue(task(1, due_date=TODAY), TODAY)
        assert not is_overdue(task(1, due_date=None), TODAY)

    def test_only_open_tasks_are_overdue(self) -> None:
        """A suppressed or resolved task past its due date is not overdue."""
        past = TODAY - timedelta(days=3)
        assert not is_overdue(task(1, state="SUPPRESSED", due_date=past), TODAY)
        assert not is_overdue(task(1, state="RESOLVED", due_date=past), TODAY)

    def test_age_counts_norwegian_calendar_days(self) -> None:
        """A task opened at 23:30 UTC on the 21st was opened on the 22nd in Oslo: age 0."""
        late = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)
        assert age_days(task(1, opened_at=late), TODAY) == 0
        assert age_days(task(1, opened_at=late - timedelta(hours=1)), TODAY) == 1


class TestTaskBoard:
    def test_the_latest_record_of_a_task_wins_and_a_tombstone_removes_it(self) -> None:
        """The board keeps each task's latest state; a tombstone (None) forgets it."""
        board = TaskBoard()
        board.apply(b"task-0001", task(1))
        board.apply(b"task-0001", task(1, state="RESOLVED", revision=2))
        board.apply(b"task-0002", task(2))
        assert len(board) == 2
        assert board.get("task-0001")["state"] == "RESOLVED"  # type: ignore[index]
        board.apply(b"task-0002", None)
        assert [t["task_id"] for t in board.tasks()] == ["task-0001"]
        board.apply(None, None)  # a record without key or value changes nothing
        assert len(board) == 1

    def test_texts_are_redacted_but_ids_and_keys_are_not(self) -> None:
        """An eleven-digit number in a text or evidence value is redacted; a pseudonymous
        key that happens to hold eleven digits in a row is kept as it is."""
        board = TaskBoard()
        slip = "15059912345"
        board.apply(
            None,
            task(
                1,
                person_key="p-e12345678901f",
                display_name=f"Ola {slip}",
                description_en=f"fnr {slip}",
                evidence=[{"system": "dfo_sap", "field": "fnr", "value": slip}],
                exception={"task_id": "task-0001", "reason": f"see {slip}", "accepted_by": "x"},
            ),
        )
        shown = board.get("task-0001")
        assert shown is not None
        assert shown["person_key"] == "p-e12345678901f"
        assert slip not in repr(shown)
        assert shown["display_name"] == "Ola [redacted-nin]"
        assert shown["evidence"][0]["value"] == "[redacted-nin]"


class TestTaskFilter:
    TASKS = (
        task(1),
        task(2, severity="P2", rule_id="access.leaver_still_active", due_date=TODAY - timedelta(1)),
        task(3, severity="P3", owner_group="web", rule_id="web.profile_stale", state="SUPPRESSED"),
        task(4, institution="ntnu", state="RESOLVED", display_name="Åse Ødegård"),
    )

    def _ids(self, query: dict[str, str]) -> list[str]:
        chosen = TaskFilter.from_query(query)
        return sorted(t["task_id"] for t in self.TASKS if chosen.matches(t, TODAY))

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({}, ["task-0001", "task-0002", "task-0003", "task-0004"]),
            ({"severity": "p1"}, ["task-0001", "task-0004"]),
            ({"state": "open"}, ["task-0001", "task-0002"]),
            ({"rule": "web.profile_stale"}, ["task-0003"]),
            ({"owner": "web"}, ["task-0003"]),
            ({"institution": "ntnu"}, ["task-0004"]),
            ({"overdue": "true"}, ["task-0002"]),
            ({"overdue": "false", "state": "OPEN"}, ["task-0001"]),
            ({"text": "åse ødegård"}, ["task-0004"]),
            ({"text": f"p-{3:024x}"}, ["task-0003"]),
            ({"text": "ACCOUNT 2"}, ["task-0002"]),
            ({"severity": "", "text": "  "}, ["task-0001", "task-0002", "task-0003", "task-0004"]),
        ],
    )
    def test_each_filter_lets_through_only_its_tasks(
        self, query: dict[str, str], expected: list[str]
    ) -> None:
        """Filters combine; values are matched exactly, text in any case, blanks ignored."""
        assert self._ids(query) == expected

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"severity": "P9"}, "severity='P9' is not one of P1, P2, P3"),
            ({"state": "CLOSED"}, "state='CLOSED' is not one of OPEN"),
            ({"overdue": "maybe"}, "overdue='maybe' is not true or false"),
            ({"colour": "red"}, "unknown parameter colour"),
        ],
    )
    def test_a_bad_filter_says_what_is_allowed(self, query: dict[str, str], message: str) -> None:
        """A value the filter cannot mean is an error naming the allowed values."""
        with pytest.raises(DashboardError, match=message):
            TaskFilter.from_query(query)


class TestTaskList:
    def test_open_overdue_and_severe_tasks_come_first(self) -> None:
        """Open before suppressed before resolved; overdue first; then severity and due date."""
        tasks = [
            task(1, state="RESOLVED"),
            task(2, severity="P3"),
            task(3, state="SUPPRESSED"),
            task(4, severity="P2", due_date=TODAY - timedelta(days=2)),
            task(5, due_date=TODAY + timedelta(days=9)),
            task(6),
        ]
        found = select_tasks(tasks, TaskFilter(), TODAY)
        assert [t["task_id"][-1] for t in found["tasks"]] == list("465231")
        assert (found["total"], found["shown"]) == (6, 6)

    def test_the_list_is_cut_at_the_limit_and_says_so(self) -> None:
        """At most ``limit`` rows, with the number that matched."""
        found = select_tasks([task(n) for n in range(7)], TaskFilter(), TODAY, limit=3)
        assert (found["total"], found["shown"], len(found["tasks"])) == (7, 3, 3)

    def test_a_row_has_no_evidence_and_the_detail_has_all(self) -> None:
        """The list stays small; the detail carries the evidence and the computed fields."""
        overdue = task(1, due_date=TODAY - timedelta(days=1), opened_at=NOW - timedelta(days=4))
        row = task_row(overdue, TODAY)
        assert "evidence" not in row
        assert "description_en" not in row
        assert (row["overdue"], row["age_days"]) == (True, 4)
        detail = task_detail(overdue, TODAY)
        assert detail["evidence"] == overdue["evidence"]
        assert (detail["overdue"], detail["age_days"]) == (True, 4)


class TestSummary:
    def test_tiles_count_open_overdue_suppressed_and_resolved_today(self) -> None:
        """Resolved today means resolved on today's Oslo date, not in the last 24 hours."""
        tasks = [
            task(1),
            task(2, due_date=TODAY - timedelta(days=1)),
            task(3, state="SUPPRESSED", due_date=TODAY - timedelta(days=1)),
            task(4, state="RESOLVED", resolved_at=NOW - timedelta(hours=1)),
            # 23:00 UTC on the 21st is midnight in Oslo: today; a minute before is not.
            task(5, state="RESOLVED", resolved_at=datetime(2026, 11, 21, 23, 0, tzinfo=UTC)),
            task(6, state="RESOLVED", resolved_at=datetime(2026, 11, 21, 22, 59, tzinfo=UTC)),
        ]
        tiles = summarize(tasks, NOW)["tiles"]
        assert tiles == {
            "total": 6,
            "open": 2,
            "overdue": 1,
            "suppressed": 1,
            "resolved_today": 2,
        }

    def test_open_tasks_by_rule_severity_and_owner_with_their_overdue(self) -> None:
        """Each table counts open tasks only, and how many of them are overdue."""
        late = TODAY - timedelta(days=1)
        tasks = [
            task(1),
            task(2, due_date=late),
            task(3, severity="P3", owner_group="web", rule_id="web.profile_stale", due_date=late),
            task(4, state="SUPPRESSED", owner_group="hr"),
        ]
        summary = summarize(tasks, NOW)
        assert summary["open_by_rule"] == [
            {"key": "access.new_hire_without_account", "count": 2, "overdue": 1},
            {"key": "web.profile_stale", "count": 1, "overdue": 1},
        ]
        assert summary["open_by_severity"] == [
            {"key": "P1", "count": 2, "overdue": 1},
            {"key": "P3", "count": 1, "overdue": 1},
        ]
        assert [row["key"] for row in summary["open_by_owner"]] == ["iam", "web"]
        assert summary["by_state"] == [
            {"key": "OPEN", "count": 3},
            {"key": "SUPPRESSED", "count": 1},
        ]
        assert summary["choices"]["owner"] == ["hr", "iam", "web"]
        assert summary["choices"]["state"] == ["OPEN", "SUPPRESSED"]

    def test_ages_of_open_tasks_fall_in_one_bucket_each(self) -> None:
        """Every open task is counted in exactly one age bucket; others in none."""
        ages = [0, 1, 2, 3, 7, 8, 30, 31, 400]
        tasks = [task(n, opened_at=NOW - timedelta(days=a)) for n, a in enumerate(ages)]
        tasks.append(task(99, state="RESOLVED", opened_at=NOW - timedelta(days=3)))
        histogram = summarize(tasks, NOW)["open_by_age"]
        assert [b["label"] for b in histogram] == [label for label, _, _ in AGE_BUCKETS]
        assert [b["count"] for b in histogram] == [1, 2, 2, 2, 2]

    def test_no_tasks_gives_zeros_not_errors(self) -> None:
        """An empty hub.tasks still has a summary."""
        summary = summarize([], NOW)
        assert set(summary["tiles"].values()) == {0}
        assert summary["open_by_rule"] == []
        assert all(b["count"] == 0 for b in summary["open_by_age"])


class TestHealth:
    def test_dead_letters_are_counted_by_stage_and_connector_newest_first(self) -> None:
        """The tally counts every dead letter and keeps the latest ten, newest first."""
        tally = DeadLetterTally()
        for n in range(12):
            headers = {"hub.stage": "route", "hub.error": f"bad {n}", "hub.source.topic": "t"}
            if n % 3 == 0:
                headers |= {"hub.stage": "connector", "hub.connector": "dfo"}
            tally.add(headers, NOW)
        tally.add({}, NOW)  # a record without the hub's headers is still counted
        shown = tally.as_dict()
        assert shown["total"] == 13
        assert shown["by_stage"] == [
            {"key": "connector", "count": 4},
            {"key": "route", "count": 8},
            {"key": "unknown", "count": 1},
        ]
        assert shown["by_connector"] == [{"key": "dfo", "count": 4}]
        assert len(shown["recent"]) == 10
        assert shown["recent"][0]["failed_at"] == NOW
        assert shown["recent"][1]["error"] == "bad 11"

    def test_lag_is_summed_per_group_and_in_all(self) -> None:
        """Each group's lag is the sum over its partitions."""
        rows = [
            LagRow("g1", "t", 0, 5, 8, 3),
            LagRow("g1", "t", 1, 2, 2, 0),
            LagRow("g2", "u", 0, None, 4, 4),
        ]
        shown = lag_summary(rows)
        assert shown["total"] == 7
        assert [(g["group"], g["lag"], len(g["partitions"])) for g in shown["groups"]] == [
            ("g1", 3, 2),
            ("g2", 4, 1),
        ]

    def test_connectors_come_from_reports_groups_and_dead_letters(self) -> None:
        """A connector is listed from its own report, its consumer group or its dead letters."""
        tally = DeadLetterTally()
        tally.add({"hub.stage": "connector", "hub.connector": "dfo"}, NOW)
        rows = [
            LagRow("x.connector.greg", "x.source.greg.person", 0, 1, 3, 2),
            LagRow("x.university-hub", "x.hub.tasks", 0, 1, 1, 0),
        ]
        reported = [{"name": "greg", "state": "running", "last_success_at": NOW, "other": 1}]
        shown = connector_health(reported, rows, tally, group_prefix="x.")
        assert shown == [
            {
                "name": "dfo",
                "state": "unknown",
                "last_success_at": None,
                "last_error": None,
                "lag": None,
                "dead_letters": 1,
            },
            {
                "name": "greg",
                "state": "running",
                "last_success_at": NOW,
                "last_error": None,
                "lag": 2,
                "dead_letters": 0,
            },
        ]
        assert connector_health([], [], DeadLetterTally()) == []
