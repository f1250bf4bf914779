"""The pure core of the ticket sink: what to do for a task given the remembered
delivery and the ticket's state, where it goes, and how long to wait before a retry."""

from __future__ import annotations

import random

import pytest

from hub.rules.settings import RuleSettings
from hub.tickets.plan import (
    Comment,
    Create,
    Route,
    SetStatus,
    Synced,
    plan_delivery,
    route_for,
)
from hub.tickets.retry import RetryPolicy, backoff_delay
from hub.tickets.system import RemoteTicket, TicketRejectedError, TicketSystemUnavailableError
from tests.ticket_support import (
    example_task,
    institution_settings,
    reopened,
    resolved,
    suppressed,
    unsuppressed,
)

QUEUE = "USIT::IAM"


def remote(status: str) -> RemoteTicket:
    return RemoteTicket("17", status)  # type: ignore[arg-type]


def kinds(actions: list[object]) -> list[str]:
    return [
        f"{type(a).__name__}:{a.status}" if isinstance(a, SetStatus) else type(a).__name__
        for a in actions
    ]


class TestPlanDelivery:
    def test_an_open_task_without_a_ticket_gets_one_in_its_queue(self) -> None:
        """No ticket found: create one, in the queue, carrying the task id and its text."""
        task = example_task()
        (action,) = plan_delivery(task, None, None, QUEUE)
        assert isinstance(action, Create)
        assert action.ticket.task_id == task["task_id"]
        assert action.ticket.queue == QUEUE
        assert action.ticket.subject.startswith("[P1] New hire without an account")

    @pytest.mark.parametrize("make", [resolved, suppressed])
    def test_a_task_that_is_not_open_gets_no_ticket(self, make: object) -> None:
        """A resolved or suppressed task without a ticket files nothing."""
        assert plan_delivery(make(example_task()), None, None, QUEUE) == []  # type: ignore[operator]

    @pytest.mark.parametrize("state", ["PREVIEW", "UNKNOWN"])
    def test_preview_never_reaches_a_ticket_system(self, state: str) -> None:
        """PREVIEW (and UNKNOWN) plan nothing, ticket or not."""
        task = {**example_task(), "state": state}
        assert plan_delivery(task, None, None, QUEUE) == []
        assert plan_delivery(task, Synced(1, "OPEN"), remote("open"), QUEUE) == []

    def test_a_replayed_revision_does_nothing(self) -> None:
        """The delivered revision again, ticket open: no request at all."""
        task = example_task()
        assert plan_delivery(task, Synced(1, "OPEN"), remote("open"), QUEUE) == []

    def test_a_ticket_found_after_a_crash_is_adopted_not_duplicated(self) -> None:
        """Found by task id, not remembered, task still open: nothing to do."""
        assert plan_delivery(example_task(), None, remote("open"), QUEUE) == []

    def test_resolving_comments_with_the_evidence_and_resolves(self) -> None:
        """OPEN → RESOLVED: a comment with the fix's evidence, then status resolved."""
        task = resolved(example_task())
        actions = plan_delivery(task, Synced(1, "OPEN"), remote("open"), QUEUE)
        assert kinds(actions) == ["Comment", "SetStatus:resolved"]
        assert isinstance(actions[0], Comment)
        assert "karin: ACTIVE" in actions[0].text

    def test_a_task_resolved_before_its_ref_was_written_still_gets_the_comment(self) -> None:
        """Found after a crash, task resolved since: comment and resolve."""
        actions = plan_delivery(resolved(example_task()), None, remote("open"), QUEUE)
        assert kinds(actions) == ["Comment", "SetStatus:resolved"]

    def test_reopening_comments_and_reopens(self) -> None:
        """RESOLVED → OPEN: a comment saying the problem is back, then status open."""
        first = resolved(example_task())
        task = reopened(first)
        actions = plan_delivery(
            task, Synced(first["revision"], "RESOLVED"), remote("resolved"), QUEUE
        )
        assert kinds(actions) == ["Comment", "SetStatus:open"]
        assert isinstance(actions[0], Comment)
        assert actions[0].text.startswith("Reopened by the hub")

    def test_a_ticket_resolved_by_a_person_while_the_task_is_open_is_reopened(self) -> None:
        """Read-back: resolved by hand, the data still shows it: comment and reopen."""
        actions = plan_delivery(example_task(), Synced(1, "OPEN"), remote("resolved"), QUEUE)
        assert kinds(actions) == ["Comment", "SetStatus:open"]
        assert isinstance(actions[0], Comment)
        assert "the data still shows the problem" in actions[0].text

    def test_a_ticket_a_person_parked_stays_parked(self) -> None:
        """A waiting (stalled) ticket of an open task is left as the person set it."""
        assert plan_delivery(example_task(), Synced(1, "OPEN"), remote("waiting"), QUEUE) == []

    def test_an_exception_comments_who_why_until_when_and_waits(self) -> None:
        """OPEN → SUPPRESSED: the exception in a comment, then status waiting."""
        task = suppressed(example_task())
        actions = plan_delivery(task, Synced(1, "OPEN"), remote("open"), QUEUE)
        assert kinds(actions) == ["Comment", "SetStatus:waiting"]
        assert isinstance(actions[0], Comment)
        for part in ("Account ordered by hand", "kari.hr", "when withdrawn"):
            assert part in actions[0].text

    def test_the_end_of_an_exception_reopens_the_waiting_ticket(self) -> None:
        """SUPPRESSED → OPEN: a comment, then status open again."""
        held = suppressed(example_task())
        task = unsuppressed(held)
        actions = plan_delivery(
            task, Synced(held["revision"], "SUPPRESSED"), remote("waiting"), QUEUE
        )
        assert kinds(actions) == ["Comment", "SetStatus:open"]

    def test_an_escalated_task_comments_that_it_is_overdue(self) -> None:
        """A new revision of an open task (escalated) is a comment, no status change."""
        task = {**example_task(), "revision": 2, "escalated": True}
        (action,) = plan_delivery(task, Synced(1, "OPEN"), remote("open"), QUEUE)
        assert isinstance(action, Comment)
        assert "escalated" in action.text


class TestRouting:
    def test_uio_goes_to_rt_in_its_owner_groups_queue(self) -> None:
        """UiO's IAM task goes to RT's USIT::IAM queue (deploy/institutions.yaml)."""
        assert route_for(example_task(), institution_settings("uio")) == Route("rt", QUEUE)

    def test_an_institution_without_its_own_system_uses_servicenow(self) -> None:
        """NTNU has no ticket_system of its own: the default, ServiceNow."""
        task = {**example_task("ntnu"), "queue": None, "owner_group": "hr"}
        assert route_for(task, institution_settings("ntnu")) == Route("servicenow", "HR")

    def test_no_queue_is_a_rejection_naming_the_setting(self) -> None:
        """Without a queue anywhere the task cannot be filed; the error says what to set."""
        task = {**example_task(), "queue": None}
        with pytest.raises(TicketRejectedError, match=r"institutions\.uio\.queues\.iam"):
            route_for(task, RuleSettings())


class TestBackoff:
    def test_delays_double_up_to_the_cap_with_jitter(self) -> None:
        """Each wait is at least half its ceiling and below it; ceilings double to the cap."""
        rng = random.Random(7)
        for attempt in range(8):
            ceiling = min(8.0, 0.5 * 2**attempt)
            delay = backoff_delay(attempt, base=0.5, cap=8.0, draw=rng.random())
            assert ceiling / 2 <= delay <= ceiling

    async def test_unavailable_is_retried_then_given_up_after_the_bound(self) -> None:
        """Three tries with the third succeeding return; a lasting outage raises."""
        calls: list[int] = []

        async def flaky() -> str:
            calls.append(1)
            if len(calls) < 3:
                raise TicketSystemUnavailableError("503")
            return "ok"

        policy = RetryPolicy(attempts=3, base_s=0.001, cap_s=0.002)
        assert await policy.run(flaky, "test") == "ok"
        calls.clear()

        async def down() -> str:
            calls.append(1)
            raise TicketSystemUnavailableError("503")

        with pytest.raises(TicketSystemUnavailableError):
            await policy.run(down, "test")
        assert len(calls) == 3

    async def test_a_rejection_is_not_retried(self) -> None:
        """A 4xx goes straight through."""
        calls: list[int] = []

        async def rejected() -> str:
            calls.append(1)
            raise TicketRejectedError("400", 400)

        with pytest.raises(TicketRejectedError):
            await RetryPolicy(attempts=5, base_s=0.001).run(rejected, "test")
        assert calls == [1]
