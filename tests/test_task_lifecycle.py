"""Tests for the task lifecycle: task ids, and open, update, resolve and reopen."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastavro.validation import validate

from hub.avro.catalog import SchemaCatalog
from hub.findings import Evidence, Finding, Severity
from hub.tasks.lifecycle import Transition, reconcile, task_id_for

RULE = "access.new_hire_without_account"
OTHER_RULE = "profile.title_mismatch"
INSTITUTION = "uio"
PERSON = "p-0123456789abcdef01234567"
SEEN_AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
T3 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
T4 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TASK_SCHEMA = SchemaCatalog()["no.bott.hub.tasks.CorrectionTask"].parsed

Tasks = dict[str, dict[str, Any]]


def finding(
    *,
    rule_id: str = RULE,
    subject: str = PERSON,
    accounts: str = "none",
    stamp: datetime = SEEN_AT,
    name: str = "Sigrid Bjørnstad",
) -> Finding:
    """A finding whose evidence says what IAM knows about the person's accounts."""
    return Finding(
        rule_id=rule_id,
        subject=subject,
        severity=Severity.P1,
        owner_group="iam",
        due_date=date(2026, 12, 1),
        display_name=name,
        title_nb=f"Nytilsatt uten konto: {name}",
        title_en=f"New hire without an account: {name}",
        description_nb="Beskrivelse",
        description_en="Description",
        suggested_fix_nb="Opprett kontoen",
        suggested_fix_en="Create the account",
        evidence=(
            Evidence("dfo_sap", "start_date", "2026-12-01", stamp),
            Evidence("iam", "accounts", accounts, stamp),
        ),
    )


FIXED = (Evidence("cerebrum", "account acc-1 status", "sigridb: ACTIVE", T2),)


def run(
    tasks: Mapping[str, dict[str, Any]],
    findings: Sequence[Finding],
    *,
    now: datetime,
    evaluated: Mapping[str, Sequence[Evidence]] | None = None,
    queue_for: Callable[[str], str | None] | None = None,
) -> list[Transition]:
    """reconcile() for the test person, with RULE evaluated unless told otherwise."""
    extra: dict[str, Any] = {} if queue_for is None else {"queue_for": queue_for}
    return reconcile(
        institution=INSTITUTION,
        person_key=PERSON,
        tasks=tasks,
        findings=findings,
        evaluated_rules={RULE: ()} if evaluated is None else evaluated,
        now=now,
        **extra,
    )


def after(tasks: Tasks, transitions: list[Transition]) -> Tasks:
    """The tasks once the transitions are applied."""
    return {**tasks, **{t.task["task_id"]: t.task for t in transitions}}


def single(transitions: list[Transition], kind: str) -> dict[str, Any]:
    """The task of the only transition, which must be of the given kind."""
    assert [t.kind for t in transitions] == [kind]
    return transitions[0].task


def opened(now: datetime = T1, **kwargs: Any) -> Tasks:
    """The tasks after a first finding opened one."""
    return after({}, run({}, [finding(**kwargs)], now=now))


def resolved() -> Tasks:
    """The tasks after a finding opened at T1 and was gone at T2."""
    tasks = opened()
    return after(tasks, run(tasks, [], now=T2, evaluated={RULE: FIXED}))


class TestTaskId:
    def test_deterministic(self) -> None:
        """The same institution, rule and subject always give the same id."""
        assert task_id_for("uio", RULE, PERSON) == task_id_for("uio", RULE, PERSON)

    @pytest.mark.parametrize(
        "other",
        [("uib", RULE, PERSON), ("uio", OTHER_RULE, PERSON), ("uio", RULE, "p-other")],
    )
    def test_differs_per_institution_rule_and_subject(self, other: tuple[str, str, str]) -> None:
        """Changing any one of institution, rule or subject gives another id."""
        assert task_id_for(*other) != task_id_for("uio", RULE, PERSON)

    def test_opened_task_uses_the_derived_id(self) -> None:
        """An opened task's id is task_id_for(institution, rule, subject)."""
        (task,) = opened().values()
        assert task["task_id"] == task_id_for(INSTITUTION, RULE, PERSON)


class TestOpen:
    def test_new_finding_opens_a_task(self) -> None:
        """A finding with no task yet opens one: OPEN, revision 1, stamped now."""
        task = single(run({}, [finding()], now=T1), "opened")
        assert task["state"] == "OPEN"
        assert task["revision"] == 1
        assert task["opened_at"] == T1
        assert task["updated_at"] == T1
        assert task["resolved_at"] is None
        assert task["resolution_evidence"] == []
        assert task["rule_id"] == RULE
        assert task["subject"] == PERSON
        assert task["person_key"] == PERSON
        assert task["institution"] == INSTITUTION

    def test_opened_task_carries_the_finding(self) -> None:
        """Severity, texts, due date and evidence of the finding land in the task."""
        source = finding()
        task = single(run({}, [source], now=T1), "opened")
        assert task["severity"] == "P1"
        assert task["owner_group"] == "iam"
        assert task["due_date"] == source.due_date
        assert task["title_nb"] == source.title_nb
        assert task["title_en"] == source.title_en
        assert task["display_name"] == source.display_name
        values = [(e["system"], e["field"], e["value"]) for e in task["evidence"]]
        assert values == [(e.system, e.field, e.value) for e in source.evidence]

    def test_opened_task_is_a_valid_correction_task(self) -> None:
        """An opened task is a valid no.bott.hub.tasks.CorrectionTask record."""
        task = single(run({}, [finding()], now=T1), "opened")
        assert validate(task, TASK_SCHEMA, raise_errors=True)

    def test_queue_for_routes_by_owner_group(self) -> None:
        """queue_for is asked with the owner group, and its answer is the task's queue."""
        asked: list[str] = []

        def queue_for(owner: str) -> str:
            asked.append(owner)
            return f"queue-of-{owner}"

        task = single(run({}, [finding()], now=T1, queue_for=queue_for), "opened")
        assert asked == ["iam"]
        assert task["queue"] == "queue-of-iam"

    def test_without_queue_for_there_is_no_queue(self) -> None:
        """By default a task is routed to no queue."""
        task = single(run({}, [finding()], now=T1), "opened")
        assert task["queue"] is None

    def test_findings_about_two_subjects_open_two_tasks(self) -> None:
        """Each (rule, subject) pair gets a task of its own."""
        transitions = run({}, [finding(subject="p-a"), finding(subject="p-b")], now=T1)
        assert [t.kind for t in transitions] == ["opened", "opened"]
        assert len({t.task["task_id"] for t in transitions}) == 2

    def test_inputs_are_not_mutated(self) -> None:
        """reconcile is pure: the tasks it was given are unchanged afterwards."""
        tasks = opened()
        snapshot = copy.deepcopy(tasks)
        run(tasks, [finding(accounts="acc-1: DISABLED")], now=T2)
        run(tasks, [], now=T2, evaluated={RULE: FIXED})
        assert tasks == snapshot


class TestSameFindingAgain:
    def test_same_finding_gives_no_transition(self) -> None:
        """An open task and the same finding again: nothing to do."""
        assert run(opened(), [finding()], now=T2) == []

    def test_only_a_new_source_timestamp_gives_no_transition(self) -> None:
        """Evidence re-sent with a newer source timestamp but the same values is no change."""
        later = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
        assert run(opened(), [finding(stamp=later)], now=T2) == []

    def test_changed_evidence_value_updates_the_task(self) -> None:
        """A changed evidence value updates the task and grows its revision by one."""
        tasks = opened()
        (before,) = tasks.values()
        task = single(run(tasks, [finding(accounts="acc-1: DISABLED")], now=T2), "updated")
        assert task["task_id"] == before["task_id"]
        assert task["revision"] == before["revision"] + 1
        assert task["state"] == "OPEN"
        assert task["opened_at"] == T1
        assert task["updated_at"] == T2
        assert any(e["value"] == "acc-1: DISABLED" for e in task["evidence"])

    def test_changed_text_updates_the_task(self) -> None:
        """A new display name (and so new titles) updates the task."""
        task = single(run(opened(), [finding(name="Sigrid Berg")], now=T2), "updated")
        assert task["display_name"] == "Sigrid Berg"
        assert "Sigrid Berg" in task["title_en"]

    def test_updated_task_then_converges(self) -> None:
        """After an update, the same finding once more gives no transition."""
        changed = finding(accounts="acc-1: DISABLED")
        tasks = opened()
        tasks = after(tasks, run(tasks, [changed], now=T2))
        assert run(tasks, [changed], now=T3) == []


class TestResolve:
    def test_gone_finding_resolves_the_task(self) -> None:
        """An open task whose rule no longer finds anything resolves, stamped now."""
        tasks = opened()
        (before,) = tasks.values()
        task = single(run(tasks, [], now=T2, evaluated={RULE: FIXED}), "resolved")
        assert task["task_id"] == before["task_id"]
        assert task["state"] == "RESOLVED"
        assert task["resolved_at"] == T2
        assert task["updated_at"] == T2
        assert task["opened_at"] == T1
        assert task["revision"] == before["revision"] + 1

    def test_resolution_records_the_evidence_that_showed_the_fix(self) -> None:
        """resolution_evidence is what the evaluated rule saw when it found nothing."""
        task = single(run(opened(), [], now=T2, evaluated={RULE: FIXED}), "resolved")
        recorded = [
            (e["system"], e["field"], e["value"], e["source_timestamp"])
            for e in task["resolution_evidence"]
        ]
        assert recorded == [("cerebrum", "account acc-1 status", "sigridb: ACTIVE", T2)]

    def test_resolved_task_is_a_valid_correction_task(self) -> None:
        """A resolved task is still a valid CorrectionTask record."""
        (task,) = resolved().values()
        assert validate(task, TASK_SCHEMA, raise_errors=True)

    def test_resolved_task_stays_resolved(self) -> None:
        """A resolved task with still no finding gives no further transition."""
        assert run(resolved(), [], now=T3, evaluated={RULE: FIXED}) == []

    def test_tasks_of_rules_not_evaluated_are_left_alone(self) -> None:
        """A rule that did not run this time cannot resolve its tasks."""
        tasks = opened()
        assert run(tasks, [], now=T2, evaluated={OTHER_RULE: FIXED}) == []
        assert run(tasks, [], now=T2, evaluated={}) == []

    def test_only_the_evaluated_rules_tasks_resolve(self) -> None:
        """With tasks of two rules open, only the evaluated rule's task resolves."""
        tasks = opened()
        other = run(tasks, [finding(rule_id=OTHER_RULE)], now=T1, evaluated={OTHER_RULE: ()})
        tasks = after(tasks, other)
        assert len(tasks) == 2
        task = single(run(tasks, [], now=T2, evaluated={RULE: FIXED}), "resolved")
        assert task["rule_id"] == RULE


class TestReopen:
    def test_returning_finding_reopens_the_same_task(self) -> None:
        """A finding that comes back reopens the resolved task under the same id."""
        tasks = resolved()
        (before,) = tasks.values()
        task = single(run(tasks, [finding()], now=T3), "reopened")
        assert task["task_id"] == before["task_id"]
        assert task["state"] == "OPEN"
        assert task["resolved_at"] is None
        assert task["resolution_evidence"] == []
        assert task["revision"] > before["revision"]
        assert task["updated_at"] == T3
        assert task["opened_at"] == T1

    def test_revisions_grow_over_a_full_cycle(self) -> None:
        """Open, resolve, reopen and resolve again give strictly growing revisions."""
        revisions: list[int] = []
        kinds: list[str] = []
        tasks: Tasks = {}
        steps: list[tuple[list[Finding], datetime]] = [
            ([finding()], T1),
            ([], T2),
            ([finding()], T3),
            ([], T4),
        ]
        for findings, now in steps:
            transitions = run(tasks, findings, now=now, evaluated={RULE: FIXED})
            assert len(transitions) == 1
            tasks = after(tasks, transitions)
            kinds.append(transitions[0].kind)
            revisions.append(transitions[0].task["revision"])
        assert kinds == ["opened", "resolved", "reopened", "resolved"]
        assert revisions == sorted(set(revisions))
        assert len(tasks) == 1

    def test_reopened_task_is_a_valid_correction_task(self) -> None:
        """A reopened task is still a valid CorrectionTask record."""
        task = single(run(resolved(), [finding()], now=T3), "reopened")
        assert validate(task, TASK_SCHEMA, raise_errors=True)
