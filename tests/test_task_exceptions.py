"""Accepted exceptions and escalation: a known, allowed mismatch is suppressed until
its exception expires; a task past its due date escalates once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.clock import start_of_day
from hub.person_event import person_event
from hub.pipeline import Pipeline
from hub.rules import RuleSettings, rule_by_id
from hub.tasks.lifecycle import active_exception, follow_up
from hub.topics import TopicCatalog
from tests.factories import dfo_hire_event

NEW_HIRE = "access.new_hire_without_account"
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
START = date(2026, 11, 9)


def pipeline() -> Pipeline:
    catalog = SchemaCatalog()
    return Pipeline(
        codec=SingleObjectCodec(catalog),
        catalog=catalog,
        topics=TopicCatalog(),
        secret="s",
        rule_settings=RuleSettings(),
        clock="event",
        rules=(rule_by_id(NEW_HIRE),),
    )


def exception(task_id: str, expires: datetime | None) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "reason": "Starts as a visiting lecturer; account ordered",
        "accepted_by": "kari.hr",
        "accepted_at": T0,
        "expires_at": expires,
    }


def decision(
    action: str, task_id: str, expires: datetime | None = None, at: datetime = T0
) -> dict[str, Any]:
    """A SUPPRESS or UNSUPPRESS event for the person's task."""
    return person_event(
        "p-7", "uio", "", action=action, exception=exception(task_id, expires), event_time=at
    )


def opened() -> tuple[Pipeline, dict[str, Any], dict[str, Any]]:
    hub = pipeline()
    result = hub.evaluate(None, dfo_hire_event(START, T0))
    assert result.state is not None
    (task,) = result.state["tasks"]
    assert task["state"] == "OPEN"
    return hub, result.state, task


class TestExceptions:
    def test_an_exception_suppresses_the_open_task(self) -> None:
        """SUPPRESS puts the task in SUPPRESSED, carrying who accepted it and why."""
        hub, state, task = opened()
        event = person_event(
            "p-7",
            "uio",
            "",
            action="SUPPRESS",
            exception=exception(task["task_id"], T0 + timedelta(days=3)),
            event_time=T0 + timedelta(hours=1),
        )
        result = hub.evaluate(state, event)
        (transition,) = result.transitions
        assert transition.kind == "suppressed"
        assert transition.task["state"] == "SUPPRESSED"
        assert transition.task["exception"]["accepted_by"] == "kari.hr"
        assert transition.task["task_id"] == task["task_id"]

    def test_the_same_finding_again_keeps_it_suppressed(self) -> None:
        """While the exception holds, the finding coming again changes nothing."""
        hub, state, task = opened()
        state = hub.evaluate(
            state,
            decision("SUPPRESS", task["task_id"]),
        ).state
        again = hub.evaluate(state, dfo_hire_event(START, T0))
        assert again.transitions == []

    def test_expiry_reopens_the_task_when_the_mismatch_remains(self) -> None:
        """At the exception's expiry a re-check reopens the same task."""
        hub, state, task = opened()
        expires = T0 + timedelta(days=2)
        state = hub.evaluate(
            state,
            decision("SUPPRESS", task["task_id"], expires),
        ).state
        assert state is not None
        assert state["next_check"] == expires
        result = hub.evaluate(state, hub.recheck_event(state, expires))
        (transition,) = result.transitions
        assert transition.kind == "reopened"
        assert transition.task["state"] == "OPEN"
        assert transition.task["exception"] is None

    def test_unsuppress_withdraws_the_exception(self) -> None:
        """UNSUPPRESS reopens a suppressed task at once."""
        hub, state, task = opened()
        state = hub.evaluate(
            state,
            decision("SUPPRESS", task["task_id"]),
        ).state
        result = hub.evaluate(
            state,
            decision(
                "UNSUPPRESS",
                task["task_id"],
                at=T0 + timedelta(hours=2),
            ),
        )
        assert [t.kind for t in result.transitions] == ["reopened"]

    def test_a_suppressed_task_still_resolves_when_fixed(self) -> None:
        """When the data shows the fix, a suppressed task resolves like any other."""
        hub, state, task = opened()
        state = hub.evaluate(
            state,
            decision("SUPPRESS", task["task_id"]),
        ).state
        account = {
            "institution": "uio",
            "source_system": "cerebrum",
            "source_id": "a-7",
            "source_timestamp": T0 + timedelta(hours=3),
            "username": "olan",
            "status": "ACTIVE",
            "affiliations": [],
            "external_ids": [],
        }
        result = hub.evaluate(
            state,
            person_event(
                "p-7",
                "uio",
                "source.iam.account",
                record=account,
                record_ref="source.iam.account/a-7",
                event_time=account["source_timestamp"],
            ),
        )
        (transition,) = result.transitions
        assert transition.kind == "resolved"
        assert transition.task["exception"] is None

    def test_expired_exceptions_do_not_hold(self) -> None:
        """An exception holds until its expiry, and one without expiry holds for good."""
        assert active_exception(exception("t", T0 + timedelta(seconds=1)), T0)
        assert not active_exception(exception("t", T0), T0)
        assert active_exception(exception("t", None), T0 + timedelta(days=9999))
        assert not active_exception(None, T0)


class TestEscalation:
    def test_an_open_task_past_its_due_date_escalates_once(self) -> None:
        """The day after the due date the task escalates; later re-checks do nothing more."""
        hub, state, task = opened()
        moment = start_of_day(task["due_date"] + timedelta(days=1))
        assert state["next_check"] == moment
        result = hub.evaluate(state, hub.recheck_event(state, moment))
        (transition,) = result.transitions
        assert transition.kind == "escalated"
        assert transition.task["escalated"] is True
        assert transition.task["revision"] == task["revision"] + 1
        assert result.state is not None
        later = hub.evaluate(
            result.state, hub.recheck_event(result.state, moment + timedelta(days=3))
        )
        assert later.transitions == []

    def test_not_before_the_due_date_is_over(self) -> None:
        """On the due date itself the task is not yet escalated."""
        _, _, task = opened()
        on_due = start_of_day(task["due_date"]) + timedelta(hours=23)
        assert follow_up({task["task_id"]: task}, {}, on_due) == []

    def test_a_suppressed_task_does_not_escalate(self) -> None:
        """An accepted exception keeps the task from escalating."""
        _, _, task = opened()
        late = start_of_day(task["due_date"] + timedelta(days=5))
        suppressed = {**task, "state": "SUPPRESSED"}
        held = {task["task_id"]: exception(task["task_id"], None)}
        assert follow_up({task["task_id"]: suppressed}, held, late) == []
