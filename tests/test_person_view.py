"""Tests for the person view, its stored state, and the pipeline's evaluate step."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastavro.validation import validate

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.correlation import person_key_for
from hub.errors import MappingError
from hub.person_view import PersonView, SourceKind, apply_record
from hub.pipeline import PERSON_EVENT, PERSON_STATE, Pipeline, state_of, view_of
from hub.rules import RuleSettings
from hub.tasks.lifecycle import Transition
from hub.topics import TopicCatalog

CATALOG = SchemaCatalog()
EMPLOYEE_SCHEMA = "no.bott.hub.dfo.Employee"
ACCOUNT_SCHEMA = "no.bott.hub.iam.Account"
SECRET = "test-secret-not-for-production"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
EMPLOYEE_ID = "234567"
START = date(2026, 11, 30)  # within 14 days of T0, T1 and T2


def with_defaults(schema_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """A record of the schema: every field's default, then ``values``."""
    fields = CATALOG[schema_name].plain["fields"]
    record = {f["name"]: copy.deepcopy(f["default"]) for f in fields if "default" in f}
    record.update(values)
    return record


def employee(stamp: datetime = T0, **values: Any) -> dict[str, Any]:
    """A complete, valid DFØ Employee record of a hire starting on START."""
    return with_defaults(
        EMPLOYEE_SCHEMA,
        {
            "institution": "uio",
            "source_id": EMPLOYEE_ID,
            "source_timestamp": stamp,
            "employee_id": EMPLOYEE_ID,
            "first_name": "Sigrid",
            "last_name": "Bjørnstad",
            "start_date": START,
            **values,
        },
    )


def account(
    stamp: datetime = T1, status: str = "ACTIVE", account_id: str = "acc-1", **values: Any
) -> dict[str, Any]:
    """A complete, valid IAM Account record linked to the employee by DFO_PID."""
    return with_defaults(
        ACCOUNT_SCHEMA,
        {
            "institution": "uio",
            "source_system": "cerebrum",
            "source_id": account_id,
            "source_timestamp": stamp,
            "iam_person_id": "cer-991",
            "username": "sigridb",
            "status": status,
            "external_ids": [{"id_type": "DFO_PID", "value": EMPLOYEE_ID}],
            **values,
        },
    )


PERSON = person_key_for(SECRET, SourceKind.DFO_EMPLOYEE, employee())


def empty_view() -> PersonView:
    """A view of the test person with nothing in it yet."""
    return PersonView(person_key=PERSON, institution="uio")


def assert_valid_state(state: dict[str, Any]) -> None:
    """Fail unless ``state`` is a valid no.bott.hub.PersonState record."""
    assert validate(state, CATALOG[PERSON_STATE].parsed, raise_errors=True)


class TestApplyRecord:
    def test_older_employee_record_never_replaces_a_newer_one(self) -> None:
        """A DFØ record with a lower source timestamp is ignored."""
        newer = employee(stamp=T1, title="Stipendiat")
        older = employee(stamp=T0, title="Gammel tittel")
        view = apply_record(empty_view(), SourceKind.DFO_EMPLOYEE, newer)
        view = apply_record(view, SourceKind.DFO_EMPLOYEE, older)
        assert view.employee == newer

    def test_newer_employee_record_replaces_an_older_one(self) -> None:
        """A DFØ record with a higher source timestamp wins."""
        older = employee(stamp=T0, title="Gammel tittel")
        newer = employee(stamp=T1, title="Stipendiat")
        view = apply_record(empty_view(), SourceKind.DFO_EMPLOYEE, older)
        view = apply_record(view, SourceKind.DFO_EMPLOYEE, newer)
        assert view.employee == newer

    def test_equal_timestamps_replace_the_employee(self) -> None:
        """A record with the same source timestamp is taken (the latest arrival wins)."""
        first = employee(stamp=T0, title="A")
        second = employee(stamp=T0, title="B")
        view = apply_record(empty_view(), SourceKind.DFO_EMPLOYEE, first)
        view = apply_record(view, SourceKind.DFO_EMPLOYEE, second)
        assert view.employee == second

    def test_older_account_record_never_replaces_a_newer_one(self) -> None:
        """An IAM record with a lower source timestamp for the same account is ignored."""
        newer = account(stamp=T2, status="ACTIVE")
        older = account(stamp=T1, status="DISABLED")
        view = apply_record(empty_view(), SourceKind.IAM_ACCOUNT, newer)
        view = apply_record(view, SourceKind.IAM_ACCOUNT, older)
        assert view.accounts == {"acc-1": newer}

    def test_equal_timestamps_replace_the_account(self) -> None:
        """An IAM record with the same source timestamp replaces the account."""
        first = account(stamp=T1, status="DISABLED")
        second = account(stamp=T1, status="ACTIVE")
        view = apply_record(empty_view(), SourceKind.IAM_ACCOUNT, first)
        view = apply_record(view, SourceKind.IAM_ACCOUNT, second)
        assert view.accounts == {"acc-1": second}

    def test_accounts_are_kept_per_account_id(self) -> None:
        """Two accounts of one person are both kept, keyed by their IAM id."""
        one = account(account_id="acc-1")
        two = account(account_id="acc-2", stamp=T0, username="sigridb2")
        view = apply_record(empty_view(), SourceKind.IAM_ACCOUNT, one)
        view = apply_record(view, SourceKind.IAM_ACCOUNT, two)
        assert view.accounts == {"acc-1": one, "acc-2": two}

    def test_other_sources_leave_the_view_unchanged(self) -> None:
        """A record from a source the view does not hold (a position) changes nothing."""
        view = apply_record(empty_view(), SourceKind.DFO_EMPLOYEE, employee())
        position = {"source_id": "30012400", "source_timestamp": T2}
        assert apply_record(view, SourceKind.DFO_POSITION, position) == view

    def test_the_given_view_is_not_modified(self) -> None:
        """apply_record returns a new view; the one passed in keeps its records."""
        original = empty_view()
        apply_record(original, SourceKind.IAM_ACCOUNT, account())
        apply_record(original, SourceKind.DFO_EMPLOYEE, employee())
        assert original.accounts == {}
        assert original.employee is None


class TestDerivedFields:
    def test_display_name_joins_first_and_last_name(self) -> None:
        """The display name is first and last name with a space."""
        view = apply_record(empty_view(), SourceKind.DFO_EMPLOYEE, employee())
        assert view.display_name == "Sigrid Bjørnstad"

    @pytest.mark.parametrize(
        ("first", "last", "expected"),
        [("Sigrid", None, "Sigrid"), (None, "Bjørnstad", "Bjørnstad"), (None, None, None)],
    )
    def test_display_name_with_missing_parts(
        self, first: str | None, last: str | None, expected: str | None
    ) -> None:
        """Missing name parts are left out; no name at all gives None, not ''."""
        record = employee(first_name=first, last_name=last)
        view = apply_record(empty_view(), SourceKind.DFO_EMPLOYEE, record)
        assert view.display_name == expected

    def test_no_display_name_without_an_employee(self) -> None:
        """A person known only from IAM has no display name from DFØ."""
        view = apply_record(empty_view(), SourceKind.IAM_ACCOUNT, account())
        assert view.display_name is None

    def test_latest_source_timestamp(self) -> None:
        """The latest source timestamp is the newest over the employee and accounts."""
        assert empty_view().latest_source_timestamp is None
        view = apply_record(empty_view(), SourceKind.DFO_EMPLOYEE, employee(stamp=T0))
        view = apply_record(view, SourceKind.IAM_ACCOUNT, account(stamp=T2))
        view = apply_record(view, SourceKind.IAM_ACCOUNT, account(stamp=T1, account_id="x"))
        assert view.latest_source_timestamp == T2


def full_view() -> PersonView:
    """A view with an employee, two accounts and a task opened by the pipeline."""
    _, transitions = make_pipeline().evaluate(None, event(employee()))
    view = apply_record(empty_view(), SourceKind.DFO_EMPLOYEE, employee())
    view = apply_record(view, SourceKind.IAM_ACCOUNT, account(status="DISABLED"))
    view = apply_record(view, SourceKind.IAM_ACCOUNT, account(account_id="acc-0", stamp=T0))
    return PersonView(
        person_key=view.person_key,
        institution=view.institution,
        employee=view.employee,
        accounts=view.accounts,
        tasks={t.task["task_id"]: t.task for t in transitions},
    )


class TestStoredState:
    def test_view_state_view_round_trip(self) -> None:
        """A view stored as state and read back is the same view."""
        view = full_view()
        assert view.tasks
        assert view_of(state_of(view)) == view

    def test_state_view_state_round_trip(self) -> None:
        """A state read as a view and stored again is the same state."""
        state = state_of(full_view())
        assert state_of(view_of(state)) == state

    def test_state_is_a_valid_person_state(self) -> None:
        """The state of a full view is a valid no.bott.hub.PersonState record."""
        assert_valid_state(state_of(full_view()))

    def test_state_of_an_empty_view_is_valid(self) -> None:
        """A view with no records yet still stores as a valid PersonState."""
        state = state_of(empty_view())
        assert state["employee"] is None
        assert_valid_state(state)

    async def test_state_survives_avro_encoding(self) -> None:
        """Encoded and decoded as PersonState, the state gives back the same view."""
        view = full_view()
        codec = SingleObjectCodec(CATALOG)
        schema = CATALOG[PERSON_STATE]
        decoded = await codec.decode(await codec.encode("t", schema, state_of(view)), schema)
        assert view_of(decoded) == view


def make_pipeline(topics: TopicCatalog | None = None) -> Pipeline:
    """A pipeline on the event-time clock with single-object encoding."""
    return Pipeline(
        codec=SingleObjectCodec(CATALOG),
        catalog=CATALOG,
        topics=topics or TopicCatalog(),
        secret=SECRET,
        rule_settings=RuleSettings(),
        clock="event",
    )


def event(record: dict[str, Any]) -> dict[str, Any]:
    """A decoded PersonEvent carrying ``record`` (an Employee or an Account)."""
    source = SourceKind.DFO_EMPLOYEE if "employee_id" in record else SourceKind.IAM_ACCOUNT
    return {
        "person_key": person_key_for(SECRET, source, record),
        "institution": "uio",
        "source_topic": source,
        "record": record,
    }


def feed(
    pipeline: Pipeline, events: list[dict[str, Any]], state: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, list[Transition]]:
    """Evaluate the events in order; the final state and every transition."""
    transitions: list[Transition] = []
    for item in events:
        state, new = pipeline.evaluate(state, item)
        transitions.extend(new)
    return state, transitions


def comparable(task: dict[str, Any]) -> dict[str, Any]:
    """A task without the fields that record when and how often it changed."""
    history = {"opened_at", "updated_at", "resolved_at", "revision"}
    return {k: v for k, v in task.items() if k not in history}


class TestPipelineEvaluate:
    def test_events_of_one_person_share_a_key(self) -> None:
        """Precondition: the employee and the account events are about one person."""
        assert event(employee())["person_key"] == event(account())["person_key"] == PERSON

    def test_new_hire_opens_one_task(self) -> None:
        """A new hire without an account gives exactly one 'opened' transition."""
        state, transitions = make_pipeline().evaluate(None, event(employee()))
        assert [t.kind for t in transitions] == ["opened"]
        assert [t["state"] for t in state["tasks"]] == ["OPEN"]
        assert state["tasks"][0]["person_key"] == PERSON
        assert state["employee"]["employee_id"] == EMPLOYEE_ID
        assert_valid_state(state)

    def test_event_clock_stamps_with_the_event_time(self) -> None:
        """On the event-time clock the task is opened at the record's source timestamp."""
        _, transitions = make_pipeline().evaluate(None, event(employee(stamp=T0)))
        assert transitions[0].task["opened_at"] == T0

    def test_active_account_resolves_the_task(self) -> None:
        """An ACTIVE IAM account for the same person resolves the open task."""
        pipeline = make_pipeline()
        state, _ = pipeline.evaluate(None, event(employee()))
        state, transitions = pipeline.evaluate(state, event(account(status="ACTIVE")))
        assert [t.kind for t in transitions] == ["resolved"]
        assert [t["state"] for t in state["tasks"]] == ["RESOLVED"]
        evidence = " ".join(e["value"] or "" for e in state["tasks"][0]["resolution_evidence"])
        assert "ACTIVE" in evidence
        assert_valid_state(state)

    def test_disabled_account_updates_but_does_not_resolve(self) -> None:
        """A DISABLED account changes the evidence of the open task, not its state."""
        pipeline = make_pipeline()
        state, _ = pipeline.evaluate(None, event(employee()))
        state, transitions = pipeline.evaluate(state, event(account(status="DISABLED")))
        assert [t.kind for t in transitions] == ["updated"]
        assert [t["state"] for t in state["tasks"]] == ["OPEN"]

    def test_replaying_the_same_events_gives_no_new_transitions(self) -> None:
        """Feeding the same events a second time changes no task (idempotent)."""
        pipeline = make_pipeline()
        events = [event(employee()), event(account(status="ACTIVE"))]
        state, first = feed(pipeline, events)
        assert [t.kind for t in first] == ["opened", "resolved"]
        replayed, second = feed(pipeline, events, state)
        assert second == []
        assert replayed == state

    def test_the_same_event_twice_gives_one_transition(self) -> None:
        """A duplicated employee event opens the task once."""
        pipeline = make_pipeline()
        _, transitions = feed(pipeline, [event(employee()), event(employee())])
        assert [t.kind for t in transitions] == ["opened"]

    def test_stale_account_record_does_not_reopen(self) -> None:
        """An older DISABLED record of an account arriving late does not reopen the task."""
        pipeline = make_pipeline()
        events = [event(employee()), event(account(stamp=T2, status="ACTIVE"))]
        state, _ = feed(pipeline, events)
        state, transitions = pipeline.evaluate(state, event(account(stamp=T1, status="DISABLED")))
        assert transitions == []
        assert state is not None
        assert [t["state"] for t in state["tasks"]] == ["RESOLVED"]

    def test_arrival_order_does_not_change_what_stays_open(self) -> None:
        """Employee then ACTIVE account, or the reverse: no task is left open either way."""
        pipeline = make_pipeline()
        emp, acc = event(employee(stamp=T0)), event(account(stamp=T1, status="ACTIVE"))
        forward, _ = feed(pipeline, [emp, acc])
        backward, _ = feed(pipeline, [acc, emp])
        assert forward is not None
        assert backward is not None
        assert [t for t in forward["tasks"] if t["state"] == "OPEN"] == []
        assert [t for t in backward["tasks"] if t["state"] == "OPEN"] == []
        assert forward["employee"] == backward["employee"]
        assert forward["accounts"] == backward["accounts"]

    def test_arrival_order_gives_the_same_open_task(self) -> None:
        """Employee and DISABLED account in either order give the same task, bar history."""
        pipeline = make_pipeline()
        emp, acc = event(employee(stamp=T0)), event(account(stamp=T1, status="DISABLED"))
        forward, _ = feed(pipeline, [emp, acc])
        backward, _ = feed(pipeline, [acc, emp])
        assert forward is not None
        assert backward is not None
        assert len(forward["tasks"]) == 1
        assert [comparable(t) for t in forward["tasks"]] == [
            comparable(t) for t in backward["tasks"]
        ]
        assert forward["tasks"][0]["state"] == "OPEN"


class TestPipelineCorrelate:
    async def test_source_record_becomes_a_person_event(self) -> None:
        """A source record is re-keyed by person and wrapped in a PersonEvent."""
        pipeline = make_pipeline(TopicCatalog(prefix="t1."))
        record = employee()
        topic = pipeline.topics.name(SourceKind.DFO_EMPLOYEE)
        value = await pipeline.codec.encode(topic, CATALOG[EMPLOYEE_SCHEMA], record)
        key, encoded = await pipeline.correlate(topic, value)
        assert key == PERSON
        decoded = await pipeline.codec.decode(encoded, CATALOG[PERSON_EVENT])
        assert decoded["person_key"] == key
        assert decoded["source_topic"] == SourceKind.DFO_EMPLOYEE
        assert decoded["record"] == record

    async def test_unknown_topic_is_a_mapping_error(self) -> None:
        """A topic that is not a source topic of this hub is refused."""
        pipeline = make_pipeline()
        value = await pipeline.codec.encode("t", CATALOG[EMPLOYEE_SCHEMA], employee())
        with pytest.raises(MappingError, match="not a source topic"):
            await pipeline.correlate("somewhere.else", value)

    async def test_tombstone_is_a_mapping_error(self) -> None:
        """A record without a value cannot be correlated."""
        pipeline = make_pipeline()
        with pytest.raises(MappingError, match="no value"):
            await pipeline.correlate(pipeline.topics.name(SourceKind.DFO_EMPLOYEE), None)

    def test_source_topics_carry_the_prefix(self) -> None:
        """The pipeline listens on the prefixed names of the employee and account topics."""
        names = make_pipeline(TopicCatalog(prefix="t1.")).source_topic_names
        assert sorted(names) == sorted(
            ["t1." + SourceKind.DFO_EMPLOYEE, "t1." + SourceKind.IAM_ACCOUNT]
        )


def test_start_is_within_the_default_lead_days() -> None:
    """Precondition for the pipeline tests: START is due within 14 days of every stamp."""
    for stamp in (T0, T1, T2):
        assert timedelta(0) <= START - stamp.date() <= timedelta(days=14)
