"""Tests for Pipeline.evaluate: person events folded into a person's state, the rules
run, and the task transitions and events for other persons that come out."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.clock import start_of_day
from hub.findings import Evidence
from hub.person_event import person_event
from hub.person_view import PersonView
from hub.pipeline import PERSON_STATE, Pipeline, state_of, view_of
from hub.privacy import mask_identifier, national_id_pseudonym
from hub.rules import Rule, RuleSettings, rule_by_id
from hub.tasks.lifecycle import Transition, task_id_for
from hub.topics import TopicCatalog

CATALOG = SchemaCatalog()
SECRET = "s"
NEW_HIRE = "access.new_hire_without_account"
DISPUTE = "identity.disputed"
A = "p-aaaaaaaaaaaaaaaaaaaaaaaa"
B = "p-bbbbbbbbbbbbbbbbbbbbbbbb"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SOON = date(2026, 11, 30)  # within the 14 lead days of T0
LATER = date(2026, 12, 30)  # 40 days after T0
# 2026-12-16 (LATER less 14 days) at 00:00 in Oslo, which is 23:00 UTC the day before.
LATER_CHECK = datetime(2026, 12, 15, 23, 0, tzinfo=UTC)
EMPLOYEE_REF = "source.dfo.employee/7"
ACCOUNT_REF = "source.iam.account/acc-1"
IAM_PERSON_REF = "source.iam.person/cer-9"

LINKED = {"status": "LINKED", "anchor": "dfo:7", "shared": [], "candidates": [], "conflicts": []}
DISPUTED = {
    "status": "DISPUTED",
    "anchor": "nin:*********54",
    "shared": ["dfo:7"],
    "candidates": [{"person_key": B, "anchor": "nin:*********45"}],
    "conflicts": [{"kind": "nin", "ours": ["nin:*********54"], "theirs": ["nin:*********45"]}],
}


def pipeline() -> Pipeline:
    """A pipeline on the event-time clock with single-object encoding, running the
    two rules these tests are about (the others have tests of their own)."""
    return Pipeline(
        codec=SingleObjectCodec(CATALOG),
        catalog=CATALOG,
        topics=TopicCatalog(),
        secret=SECRET,
        rule_settings=RuleSettings(),
        clock="event",
        rules=tuple(rule_by_id(r) for r in (NEW_HIRE, DISPUTE)),
    )


def with_defaults(schema: str, values: dict[str, Any]) -> dict[str, Any]:
    """A complete record of ``schema``: every field's default, then ``values``."""
    fields = CATALOG[schema].plain["fields"]
    record = {f["name"]: copy.deepcopy(f["default"]) for f in fields if "default" in f}
    record.update(values)
    return record


def employee(start: date | None = SOON, stamp: datetime = T0, **values: Any) -> dict[str, Any]:
    """DFØ employee 7, Sigrid Bjørnstad, starting on ``start``."""
    return with_defaults(
        "no.bott.hub.dfo.Employee",
        {
            "institution": "uio",
            "source_id": "7",
            "source_timestamp": stamp,
            "employee_id": "7",
            "first_name": "Sigrid",
            "last_name": "Bjørnstad",
            "start_date": start,
            **values,
        },
    )


def account(status: str = "ACTIVE", stamp: datetime = T0 + timedelta(hours=1)) -> dict[str, Any]:
    """IAM account acc-1 (sigridb)."""
    return with_defaults(
        "no.bott.hub.iam.Account",
        {
            "institution": "uio",
            "source_system": "cerebrum",
            "source_id": "acc-1",
            "source_timestamp": stamp,
            "iam_person_id": "cer-9",
            "username": "sigridb",
            "status": status,
            "external_ids": [{"id_type": "DFO_PID", "value": "7"}],
        },
    )


def iam_person(stamp: datetime = T0) -> dict[str, Any]:
    """IAM person cer-9, Sigrid I. Bjørnstad."""
    return with_defaults(
        "no.bott.hub.iam.Person",
        {
            "institution": "uio",
            "source_id": "cer-9",
            "source_timestamp": stamp,
            "iam_person_id": "cer-9",
            "first_name": "Sigrid I.",
            "last_name": "Bjørnstad",
        },
    )


def upsert(
    key: str, record: dict[str, Any], *, link: dict[str, Any] | None = None, seq: int = 0
) -> dict[str, Any]:
    """An UPSERT of ``record`` to person ``key`` at the record's source time."""
    if "employee_group" in record:
        source = "source.dfo.employee"
    elif "status" in record:
        source = "source.iam.account"
    else:
        source = "source.iam.person"
    return person_event(
        key,
        "uio",
        source,
        record=record,
        record_ref=f"{source}/{record['source_id']}",
        link=link,
        assignment_seq=seq,
        event_time=record["source_timestamp"],
    )


def relink(key: str, ref: str, link: dict[str, Any], seq: int, at: datetime) -> dict[str, Any]:
    """A RELINK of ``ref`` at person ``key``."""
    return person_event(
        key,
        "uio",
        ref.split("/", 1)[0],
        action="RELINK",
        record_ref=ref,
        link=link,
        assignment_seq=seq,
        event_time=at,
    )


def detach(
    key: str, ref: str, seq: int, at: datetime, moved_to: str | None = None
) -> dict[str, Any]:
    """A DETACH of ``ref`` from person ``key``, moving it to ``moved_to`` if given."""
    return person_event(
        key,
        "uio",
        ref.split("/", 1)[0],
        action="DETACH",
        record_ref=ref,
        moved_to=moved_to,
        link=LINKED if moved_to else None,
        assignment_seq=seq,
        event_time=at,
    )


def adopt(key: str, tasks: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    """An ADOPT of ``tasks`` by person ``key``."""
    return person_event(key, "uio", "", action="ADOPT", adopted_tasks=tasks, event_time=at)


def fold(
    events: Iterable[dict[str, Any]], state: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, list[Transition], list[dict[str, Any]]]:
    """Evaluate the events in order: the final state, every transition and forward."""
    hub = pipeline()
    transitions: list[Transition] = []
    forwards: list[dict[str, Any]] = []
    for event in events:
        result = hub.evaluate(state, event)
        state = result.state
        transitions.extend(result.transitions)
        forwards.extend(result.forwards)
    return state, transitions, forwards


def kinds(transitions: list[Transition]) -> list[tuple[str, str]]:
    """Each transition as (kind, rule id)."""
    return [(t.kind, t.task["rule_id"]) for t in transitions]


def tasks_of(state: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The state's tasks by task id."""
    assert state is not None
    return {t["task_id"]: t for t in state["tasks"]}


class TestNewHire:
    def test_new_hire_opens_one_task(self) -> None:
        """A hire starting within the lead days, with no account, opens one new-hire task
        stamped with the event time."""
        state, transitions, forwards = fold([upsert(A, employee())])
        assert kinds(transitions) == [("opened", NEW_HIRE)]
        task = transitions[0].task
        assert task["task_id"] == task_id_for("uio", NEW_HIRE, A)
        assert (task["state"], task["subject"], task["opened_at"]) == ("OPEN", A, T0)
        assert task["due_date"] == SOON - timedelta(days=7), "due halfway through the lead"
        assert forwards == []
        assert tasks_of(state) == {task["task_id"]: task}

    def test_state_round_trips_through_the_view(self) -> None:
        """The returned state read as a view and stored again is the same state."""
        state, _, _ = fold([upsert(A, employee(), link=LINKED, seq=1)])
        assert state is not None
        assert state_of(view_of(state)) == state
        assert [r["ref"] for r in state["records"]] == [EMPLOYEE_REF]

    def test_once_open_the_next_check_is_the_escalation(self) -> None:
        """With the finding open and no end date, the only moment left is the day after
        the task's due date, when it escalates."""
        state, _, _ = fold([upsert(A, employee())])
        assert state is not None
        (task,) = state["tasks"]
        assert state["next_check"] == start_of_day(task["due_date"] + timedelta(days=1))

    def test_re_check_the_day_after_the_employment_ends(self) -> None:
        """With an end date, the next check is 00:00 Oslo the day after it."""
        state, _, _ = fold([upsert(A, employee(end_date=date(2027, 1, 31)))])
        assert state is not None
        (task,) = state["tasks"]
        escalation = start_of_day(task["due_date"] + timedelta(days=1))
        end = datetime(2027, 1, 31, 23, 0, tzinfo=UTC)
        assert escalation < end
        assert state["next_check"] == escalation, "the earlier of escalation and the end"
        after = pipeline().evaluate(state, pipeline().recheck_event(state, escalation))
        assert after.state is not None
        assert after.state["next_check"] == end

    def test_future_hire_is_scheduled_not_reported(self) -> None:
        """A hire starting in 40 days opens no task yet and is re-checked at 00:00 Oslo
        on the start date less the lead days."""
        state, transitions, _ = fold([upsert(A, employee(start=LATER))])
        assert transitions == []
        assert state is not None
        assert state["tasks"] == []
        assert state["next_check"] == LATER_CHECK

    def test_recheck_at_the_scheduled_moment_opens_the_task(self) -> None:
        """A RECHECK at the scheduled moment opens the task, stamped with that moment."""
        state, _, _ = fold([upsert(A, employee(start=LATER))])
        assert state is not None
        result = pipeline().evaluate(state, pipeline().recheck_event(state, LATER_CHECK))
        assert kinds(result.transitions) == [("opened", NEW_HIRE)]
        assert result.transitions[0].task["opened_at"] == LATER_CHECK
        assert result.state is not None
        due = result.transitions[0].task["due_date"]
        assert result.state["next_check"] == start_of_day(due + timedelta(days=1))

    def test_recheck_just_before_the_moment_opens_nothing(self) -> None:
        """One millisecond before the scheduled moment the hire is not yet due."""
        state, _, _ = fold([upsert(A, employee(start=LATER))])
        assert state is not None
        early = LATER_CHECK - timedelta(milliseconds=1)
        result = pipeline().evaluate(state, pipeline().recheck_event(state, early))
        assert result.transitions == []
        assert result.state is not None
        assert result.state["next_check"] == LATER_CHECK

    def test_active_account_resolves_the_task(self) -> None:
        """An ACTIVE IAM account arriving for the same person resolves the task, with
        the account as the evidence of the fix."""
        state, transitions, _ = fold([upsert(A, employee()), upsert(A, account("ACTIVE"))])
        assert kinds(transitions) == [("opened", NEW_HIRE), ("resolved", NEW_HIRE)]
        (task,) = tasks_of(state).values()
        assert task["state"] == "RESOLVED"
        assert task["resolved_at"] == account()["source_timestamp"]
        assert "sigridb: ACTIVE" in [e["value"] for e in task["resolution_evidence"]]

    def test_evidence_is_gathered_only_to_resolve_a_task(self) -> None:
        """A rule's evidence is read only when an open task of it is no longer found:
        not while nothing is open, not while the task stays open."""
        asked: list[str] = []
        hub = pipeline()

        def counting(rule: Rule) -> Rule:
            def evidence(view: PersonView) -> Sequence[Evidence]:
                asked.append(rule.rule_id)
                return rule.evidence(view)

            return dataclasses.replace(rule, evidence=evidence)

        hub.rules = tuple(counting(r) for r in hub.rules)
        later = upsert(A, employee(start=LATER))
        state = hub.evaluate(None, later).state
        assert asked == [], "no task open: no evidence"
        state = hub.evaluate(None, upsert(A, employee())).state
        assert asked == [], "the task opens: no evidence"
        result = hub.evaluate(state, upsert(A, account("ACTIVE")))
        assert kinds(result.transitions) == [("resolved", NEW_HIRE)]
        assert asked == [NEW_HIRE], "the task resolves with its rule's evidence, once"
        assert result.transitions[0].task["resolution_evidence"]

    def test_the_same_events_again_change_nothing(self) -> None:
        """Evaluating the same events a second time gives no transitions and the same state."""
        events = [upsert(A, employee()), upsert(A, account("ACTIVE"))]
        state, first, _ = fold(events)
        assert len(first) == 2
        again, second, forwards = fold(events, state)
        assert (second, forwards) == ([], [])
        assert again == state


class TestDetach:
    def test_detached_record_is_carried_to_its_new_person(self) -> None:
        """A DETACH with moved_to removes the record and forwards an UPSERT carrying the
        record and its new link to the new person."""
        state, _, _ = fold(
            [upsert(A, employee(), link=LINKED, seq=1), upsert(A, account(), link=LINKED, seq=1)]
        )
        result = pipeline().evaluate(state, detach(A, ACCOUNT_REF, 2, T0, moved_to=B))
        assert result.state is not None
        assert [r["ref"] for r in result.state["records"]] == [EMPLOYEE_REF]
        (forward,) = result.forwards
        assert forward["person_key"] == B
        assert forward["action"] == "UPSERT"
        assert (forward["record_ref"], forward["source_topic"]) == (
            ACCOUNT_REF,
            "source.iam.account",
        )
        assert forward["record"] == account()
        assert forward["link"] == LINKED
        assert forward["assignment_seq"] == 2

    def test_last_record_leaving_takes_the_open_tasks_along(self) -> None:
        """When the last record moves away, the open tasks travel in the same event as the
        record (so the survivor adopts them before its rules run), and the emptied
        person is forgotten."""
        state, transitions, _ = fold(
            [
                upsert(A, employee(), link=LINKED, seq=1),
                relink(A, EMPLOYEE_REF, DISPUTED, 2, T0),
                relink(A, EMPLOYEE_REF, LINKED, 3, T0),
            ]
        )
        assert kinds(transitions) == [
            ("opened", NEW_HIRE),
            ("opened", DISPUTE),
            ("resolved", DISPUTE),
        ]
        open_task = transitions[0].task
        result = pipeline().evaluate(state, detach(A, EMPLOYEE_REF, 4, T0, moved_to=B))
        assert result.state is None
        assert result.transitions == []
        assert [f["action"] for f in result.forwards] == ["UPSERT"]
        (carried,) = result.forwards
        assert carried["person_key"] == B
        assert carried["record_ref"] == EMPLOYEE_REF
        assert carried["adopted_tasks"] == [open_task]

    def test_a_stale_detach_is_ignored(self) -> None:
        """A DETACH older (by assignment seq) than the record's latest word leaves it."""
        state, _, _ = fold([upsert(A, employee(), link=LINKED, seq=3)])
        result = pipeline().evaluate(state, detach(A, EMPLOYEE_REF, 2, T0, moved_to=B))
        assert result.state is not None
        assert [r["ref"] for r in result.state["records"]] == [EMPLOYEE_REF]
        assert result.forwards == []

    def test_person_with_nothing_left_is_forgotten(self) -> None:
        """Removing the only record of a person without tasks gives no state at all."""
        state, _, _ = fold([upsert(A, iam_person(), link=LINKED, seq=1)])
        result = pipeline().evaluate(state, detach(A, IAM_PERSON_REF, 2, T0))
        assert (result.state, result.transitions, result.forwards) == (None, [], [])


class TestAdopt:
    def test_adopted_task_keeps_its_id_and_moves_to_the_person(self) -> None:
        """An adopted task keeps its id, takes the new person as subject and person key,
        and the new person's own finding for that rule opens no second task."""
        _, opened, _ = fold([upsert(A, employee(start=LATER, stamp=LATER_CHECK))])
        (theirs,) = [t.task for t in opened]
        ours, none_yet, _ = fold([upsert(B, employee(start=LATER))])
        assert none_yet == []
        result = pipeline().evaluate(ours, adopt(B, [theirs], LATER_CHECK))
        assert kinds(result.transitions) == [("updated", NEW_HIRE)]
        moved = result.transitions[0].task
        assert moved["task_id"] == theirs["task_id"] == task_id_for("uio", NEW_HIRE, A)
        assert (moved["subject"], moved["person_key"], moved["state"]) == (B, B, "OPEN")
        assert tasks_of(result.state) == {theirs["task_id"]: moved}

    def test_adopted_task_is_found_by_rule_and_subject_later(self) -> None:
        """After adoption, the rule's finding updates the adopted task; none is opened."""
        _, opened, _ = fold([upsert(A, employee(start=LATER, stamp=LATER_CHECK))])
        ours, _, _ = fold([upsert(B, employee(start=LATER))])
        adopted = pipeline().evaluate(ours, adopt(B, [opened[0].task], LATER_CHECK))
        later = LATER_CHECK + timedelta(days=1)
        state, transitions, _ = fold([upsert(B, account("DISABLED", stamp=later))], adopted.state)
        assert kinds(transitions) == [("updated", NEW_HIRE)]
        assert transitions[0].task["task_id"] == task_id_for("uio", NEW_HIRE, A)
        assert list(tasks_of(state)) == [task_id_for("uio", NEW_HIRE, A)]

    def test_duplicate_adopted_task_resolves_into_the_continuing_one(self) -> None:
        """Adopting a task the person already has (same rule and subject) resolves the
        adopted one, naming the task that continues, and keeps only the person's own."""
        _, opened, _ = fold([upsert(A, employee())])
        theirs = opened[0].task
        ours, own, _ = fold([upsert(B, employee())])
        own_id = own[0].task["task_id"]
        at = T0 + timedelta(hours=2)
        result = pipeline().evaluate(ours, adopt(B, [theirs], at))
        assert kinds(result.transitions) == [("resolved", NEW_HIRE)]
        resolved = result.transitions[0].task
        assert (resolved["task_id"], resolved["state"]) == (theirs["task_id"], "RESOLVED")
        assert [(e["field"], e["value"]) for e in resolved["resolution_evidence"]] == [
            ("merged into task", own_id)
        ]
        assert list(tasks_of(result.state)) == [own_id]


class TestRelink:
    def test_relink_changes_only_the_link(self) -> None:
        """A RELINK replaces the record's link and seq and leaves the record itself."""
        state, _, _ = fold([upsert(A, iam_person(), link=LINKED, seq=1)])
        changed = {**LINKED, "status": "UNMATCHED", "anchor": "iam:cer-9"}
        result = pipeline().evaluate(state, relink(A, IAM_PERSON_REF, changed, 2, T0))
        assert result.state is not None
        (held,) = result.state["records"]
        assert (held["record"], held["link"], held["seq"]) == (iam_person(), changed, 2)

    def test_an_older_relink_is_ignored(self) -> None:
        """A RELINK with a lower seq than the record's latest word changes nothing."""
        state, _, _ = fold([upsert(A, iam_person(), link=LINKED, seq=5)])
        result = pipeline().evaluate(state, relink(A, IAM_PERSON_REF, DISPUTED, 4, T0))
        assert result.state == state
        assert result.transitions == []

    def test_disputed_link_opens_a_p2_task_with_masked_evidence(self) -> None:
        """A link turning DISPUTED opens an identity.disputed P2 task whose evidence names
        the record, the candidate person and the conflicting national IDs, masked."""
        state, _, _ = fold([upsert(A, iam_person(), link=LINKED, seq=1)])
        at = T0 + timedelta(hours=1)
        result = pipeline().evaluate(state, relink(A, IAM_PERSON_REF, DISPUTED, 2, at))
        assert kinds(result.transitions) == [("opened", DISPUTE)]
        task = result.transitions[0].task
        assert (task["severity"], task["subject"], task["opened_at"]) == ("P2", A, at)
        evidence = [(e["field"], e["value"]) for e in task["evidence"]]
        assert evidence == [
            ("record", IAM_PERSON_REF),
            ("candidate person", f"{B} (nin:*********45)"),
            ("conflicting nin", "nin:*********54 vs nin:*********45"),
        ]

    def test_link_back_to_linked_resolves_the_dispute(self) -> None:
        """A later RELINK to LINKED resolves the identity.disputed task."""
        _, transitions, _ = fold(
            [
                upsert(A, iam_person(), link=LINKED, seq=1),
                relink(A, IAM_PERSON_REF, DISPUTED, 2, T0),
                relink(A, IAM_PERSON_REF, LINKED, 3, T0 + timedelta(hours=1)),
            ]
        )
        assert kinds(transitions) == [("opened", DISPUTE), ("resolved", DISPUTE)]
        assert transitions[1].task["resolved_at"] == T0 + timedelta(hours=1)


class TestEncoding:
    async def test_states_and_forwards_encode(self) -> None:
        """Every state and forwarded event of a merge encodes with its Avro schema."""
        hub = pipeline()
        state, _, _ = fold([upsert(A, employee(), link=LINKED, seq=1)])
        assert state is not None
        result = hub.evaluate(state, detach(A, EMPLOYEE_REF, 2, T0, moved_to=B))
        assert [f["action"] for f in result.forwards] == ["UPSERT"]
        assert result.forwards[0]["adopted_tasks"], "the open task travels with the record"
        for forward in result.forwards:
            decoded = await hub.codec.decode(
                await hub.encode_person_event(forward), CATALOG["no.bott.hub.PersonEvent"]
            )
            assert decoded["person_key"] == B
            assert decoded["adopted_tasks"] == forward["adopted_tasks"]
        encoded = await hub.codec.encode("t", CATALOG[PERSON_STATE], state)
        assert await hub.codec.decode(encoded, CATALOG[PERSON_STATE]) == state


# -- bugs ---------------------------------------------------------------------------

DNR = "41017012345"  # a D-number


def _through_correlation(
    records: list[tuple[str, dict[str, Any]]],
) -> tuple[dict[str, dict[str, Any]], list[Transition]]:
    """Run records through a correlation stage and every person event (and forward)
    through evaluate, in order; return the states by person and all transitions."""
    hub = pipeline()
    stage = hub.new_stage()
    states: dict[str, dict[str, Any]] = {}
    transitions: list[Transition] = []

    def deliver(event: dict[str, Any]) -> None:
        if isinstance(event["record"], tuple):
            event = {**event, "record": event["record"][1]}
        result = hub.evaluate(states.get(event["person_key"]), event)
        transitions.extend(result.transitions)
        if result.state is None:
            states.pop(event["person_key"], None)
        else:
            states[event["person_key"]] = result.state
        for forward in result.forwards:
            deliver(forward)

    for source, record in records:
        for outgoing in stage.process(source, record)[1]:
            deliver(outgoing.event)
    return states, transitions


class TestFixedBugs:
    def test_open_task_follows_the_person_when_the_key_changes(self) -> None:
        """A new hire's open task keeps its id when DFØ adds their D-number."""
        before = employee()
        after = employee(
            stamp=T0 + timedelta(hours=1),
            national_id_pseudonym=national_id_pseudonym(SECRET, DNR),
            national_id_masked=mask_identifier(DNR),
        )
        states, transitions = _through_correlation(
            [("source.dfo.employee", before), ("source.dfo.employee", after)]
        )
        assert [t.kind for t in transitions if t.kind in ("opened", "resolved")] == ["opened"]
        open_ids = {
            t["task_id"] for s in states.values() for t in s["tasks"] if t["state"] == "OPEN"
        }
        assert open_ids == {transitions[0].task["task_id"]}

    def test_a_late_older_record_does_not_turn_the_clock_back(self) -> None:
        """A record older than the person's last evaluation does not reopen a task that
        was resolved at a later moment."""
        hired = employee(start=date(2026, 11, 25), end_date=date(2026, 11, 30))
        state, _, _ = fold([upsert(A, hired)])
        assert state is not None
        after_end = start_of_day(date(2026, 12, 1))
        ended = pipeline().evaluate(state, pipeline().recheck_event(state, after_end))
        assert kinds(ended.transitions) == [("resolved", NEW_HIRE)]
        late = with_defaults(
            "no.bott.hub.web.Profile",
            {
                "institution": "uio",
                "source_id": "w-7",
                "source_timestamp": T0 + timedelta(hours=1),
                "profile_id": "w-7",
                "employee_id": "7",
            },
        )
        event = person_event(
            A,
            "uio",
            "source.web.profile",
            record=late,
            record_ref="source.web.profile/w-7",
            event_time=late["source_timestamp"],
        )
        result = pipeline().evaluate(ended.state, event)
        assert result.transitions == []
