"""The faults the simulator injects, and the ground truth each one records.

A fault changes how a source system behaves for one person (IAM provisions late or
never, HR leaves the private contact details out, IAM keeps a leaver's account
open, IAM lets a guest's account expire before the guest's role ends, an old web
profile overwrites a new one, a reorganisation leaves a position in the closed unit,
…). Each becomes one or more
:class:`~hub.simulation.scenario_file.Expectation`: the rule that must find it, the
person and the deadline the rule should give.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hub.clock import business_date, start_of_day
from hub.rules.payroll_periods import add_months, month_day
from hub.simulation.population import Person, Story
from hub.simulation.scenario_file import Expectation

__all__ = ["GUEST_ACCOUNT_SHORTFALL", "Fault", "FaultMoments", "assign_faults", "expectations_of"]

NEW_HIRE_LEAD_DAYS = 14  # deploy/institutions.yaml's default for the new-hire rule
JOINER_DUE_DAYS = 7
LATE_REGISTRATION_DAYS = 2
LEADER_GRACE = timedelta(days=1)  # finance.leader_without_approver's default grace
PAY_PERIOD_CLOSE_DAY = 20  # payroll.contract_without_pay's close_day and cutoff_day
PAYROLL_CUTOFF_DAY = 10
HOURLY_LEAD_DAYS = 7  # access.hourly_without_feide_account's defaults
HOURLY_GRACE = timedelta(minutes=60)
GUEST_GRACE = timedelta(minutes=60)  # guest.access_missing_or_short's default grace
WEB_GRACE = timedelta(minutes=60)  # web.profile_stale's default grace
WEB_DUE_DAYS = 14  # and its parameter due_days
ORG_UNIT_DUE_DAYS = 7  # org.unknown_unit's parameter days
# how much too soon IAM lets a faulty guest account expire (a guest's role outlasts the
# period by 60 days or more, so the account is still usable when the period ends)
GUEST_ACCOUNT_SHORTFALL = timedelta(days=60)


class Fault(enum.StrEnum):
    """A fault and the rule that must find it."""

    IAM_MISSING = "iam_missing"  # a hire whom IAM never provisions
    IAM_LATE = "iam_late"  # a hire whom IAM provisions only after the start date
    NO_PRIVATE_CONTACT = "no_private_contact"  # a hire without private mobile or e-mail
    LEAVER_ACCOUNT_OPEN = "leaver_account_open"  # IAM keeps a leaver's account active
    USERNAME_MISMATCH = "username_mismatch"  # DFØ holds an old username (eksternIdent)
    UNCLASSIFIABLE = "unclassifiable"  # a position category IAM cannot classify
    HOURLY_NO_FEIDE = "hourly_no_feide"  # an hourly worker's account never reaches Feide
    LEADER_NO_APPROVER = "leader_no_approver"  # a head of unit has no approver role in Unit4
    HOURLY_NOT_PAID = "hourly_not_paid"  # the payroll run leaves out an hourly contract
    GUEST_ACCESS_ENDS_EARLY = "guest_access_ends_early"  # IAM's guest account expires too soon
    STALE_WEB_PROFILE = "stale_web_profile"  # an old web profile overwrites the new one
    # a reorganisation moves the person but leaves their position in the closed unit
    POSITION_LEFT_IN_CLOSED_UNIT = "position_left_in_closed_unit"

    @property
    def stories(self) -> frozenset[Story]:
        return _STORIES[self]

    @property
    def rules(self) -> tuple[str, ...]:
        return _RULES[self]


_STORIES: Mapping[Fault, frozenset[Story]] = {
    Fault.IAM_MISSING: frozenset({Story.HIRE}),
    Fault.IAM_LATE: frozenset({Story.HIRE}),
    Fault.NO_PRIVATE_CONTACT: frozenset({Story.HIRE}),
    Fault.LEAVER_ACCOUNT_OPEN: frozenset({Story.LEAVER}),
    Fault.USERNAME_MISMATCH: frozenset({Story.STAFF}),
    Fault.UNCLASSIFIABLE: frozenset({Story.STAFF}),
    Fault.HOURLY_NO_FEIDE: frozenset({Story.HOURLY}),
    Fault.LEADER_NO_APPROVER: frozenset({Story.STAFF}),
    Fault.HOURLY_NOT_PAID: frozenset({Story.HOURLY}),
    Fault.GUEST_ACCESS_ENDS_EARLY: frozenset({Story.GUEST}),
    Fault.STALE_WEB_PROFILE: frozenset({Story.MOVER}),
    # given by a reorganisation to staff of the unit it closes, never drawn by story
    Fault.POSITION_LEFT_IN_CLOSED_UNIT: frozenset(),
}
_RULES: Mapping[Fault, tuple[str, ...]] = {
    Fault.IAM_MISSING: ("access.new_hire_without_account",),
    Fault.IAM_LATE: ("access.new_hire_without_account",),
    # IAM cannot activate the account without a channel for the code: the joiner has
    # no active account when the lead days begin, which the new-hire rule sees too.
    Fault.NO_PRIVATE_CONTACT: (
        "access.joiner_without_contact",
        "access.new_hire_without_account",
    ),
    Fault.LEAVER_ACCOUNT_OPEN: ("access.leaver_still_active",),
    Fault.USERNAME_MISMATCH: ("access.username_mismatch",),
    Fault.UNCLASSIFIABLE: ("access.position_unclassifiable",),
    Fault.HOURLY_NO_FEIDE: ("access.hourly_without_feide_account",),
    Fault.LEADER_NO_APPROVER: ("finance.leader_without_approver",),
    Fault.HOURLY_NOT_PAID: ("payroll.contract_without_pay",),
    Fault.GUEST_ACCESS_ENDS_EARLY: ("guest.access_missing_or_short",),
    Fault.STALE_WEB_PROFILE: ("web.profile_stale",),
    Fault.POSITION_LEFT_IN_CLOSED_UNIT: ("org.unknown_unit",),
}


def _fits(fault: Fault, person: Person) -> bool:
    """Whether ``fault`` can happen to ``person``: their story fits, only a head of unit
    can lack the approver role a head of unit needs, and only a person with a web page
    can have it overwritten."""
    return (
        person.story in fault.stories
        and (fault is Fault.LEADER_NO_APPROVER) == person.leader
        and (fault is not Fault.STALE_WEB_PROFILE or person.web_page)
    )


def assign_faults(rng: random.Random, people: list[Person], rate: float) -> dict[int, Fault]:
    """Which people get a fault (each with probability ``rate``), by person index; a
    fault is drawn from those that fit the person."""
    chosen: dict[int, Fault] = {}
    for person in people:
        fitting = [fault for fault in Fault if _fits(fault, person)]
        if fitting and rng.random() < rate:
            chosen[person.index] = rng.choice(fitting)
    return chosen


@dataclass(frozen=True)
class FaultMoments:
    """When the person's records reach the hub in the simulator's timetable."""

    registered: datetime  # DFØ's (a guest: Greg's) record of the change (hire, end, load)
    iam_done: datetime | None = None  # IAM's last record before the fault shows
    end: date | None = None  # a leaver's end date
    dfo_last: datetime | None = None  # DFØ's last record before the fault shows
    expires: date | None = None  # a guest's account expiry in IAM
    overwritten: datetime | None = None  # when an old web profile overwrote the new one
    closed: date | None = None  # the last day of the unit a position was left in


def expectations_of(
    person: Person, fault: Fault, institution: str, moments: FaultMoments
) -> list[Expectation]:
    """The tasks ``fault`` must open for ``person``: rule, subject, when and the due date."""
    subject = _subject(person)
    return [
        Expectation(rule, institution, subject, *_timing(person, rule, moments), fault.value)
        for rule in fault.rules
    ]


def _subject(person: Person) -> dict[str, str]:
    """Who the task is about: a guest by Greg person id, everyone else by DFØ number."""
    if person.story is Story.GUEST:
        return {"greg": str(person.greg_id)}
    return {"dfo": str(person.employee_id)}


Timing = tuple[datetime, date]  # when the fault becomes visible to a rule, and the due date


def _new_hire(person: Person, moments: FaultMoments) -> Timing:
    appears = start_of_day(person.start - timedelta(days=NEW_HIRE_LEAD_DAYS))
    halfway = person.start - timedelta(days=NEW_HIRE_LEAD_DAYS // 2)
    late = moments.registered.date() + timedelta(days=LATE_REGISTRATION_DAYS)
    return appears, max(halfway, late)


def _joiner(person: Person, moments: FaultMoments) -> Timing:
    appears = start_of_day(person.start - timedelta(days=NEW_HIRE_LEAD_DAYS))
    return appears, person.start - timedelta(days=JOINER_DUE_DAYS)


def _leaver(person: Person, moments: FaultMoments) -> Timing:
    if moments.end is None:
        raise ValueError("a leaver's fault needs the end date")
    return start_of_day(moments.end + timedelta(days=2)), moments.end + timedelta(days=1)


def _hourly(person: Person, moments: FaultMoments) -> Timing:
    lead = start_of_day(person.start - timedelta(days=HOURLY_LEAD_DAYS))
    # the grace period runs from DFØ's latest record (the username written back)
    appears = max(lead, (moments.dfo_last or moments.registered) + HOURLY_GRACE)
    late = moments.registered.date() + timedelta(days=LATE_REGISTRATION_DAYS)
    return appears, max(person.start, late)


def _leader(person: Person, moments: FaultMoments) -> Timing:
    # DFØ's record (endretDato: the day of the load) known for the grace; the start date
    # is long past, so it is due on the record's date
    return moments.registered + LEADER_GRACE, moments.registered.date()


def _unpaid(person: Person, moments: FaultMoments) -> Timing:
    # the pay period of the contract's first day closes on the 20th of the month after;
    # due at the payroll cut-off (the 10th) after that
    first = person.start.replace(day=1)
    closed = month_day(add_months(first, 1), PAY_PERIOD_CLOSE_DAY)
    due = month_day(add_months(first, 2), PAYROLL_CUTOFF_DAY)
    return start_of_day(closed + timedelta(days=1)), due


def _username(person: Person, moments: FaultMoments) -> Timing:
    appears = max(moments.registered, moments.iam_done or moments.registered) + timedelta(days=1)
    return appears, appears.date() + timedelta(days=7)


def _unclassifiable(person: Person, moments: FaultMoments) -> Timing:
    # a running employment is reported at once
    return moments.registered, moments.registered.date() + timedelta(days=7)


def _guest_access(person: Person, moments: FaultMoments) -> Timing:
    # the grace runs from when the role made the guest active (its start day; Greg's
    # registration date is no later than its record) or Greg's record arrived, whichever
    # is later; due on the day the account expires, before the role ends
    if moments.expires is None:
        raise ValueError("a guest's short account needs its expiry date")
    grace_from = max(start_of_day(person.start), moments.registered)
    appears = max(grace_from + GUEST_GRACE, moments.iam_done or moments.registered)
    return appears, moments.expires


def _stale_web(person: Person, moments: FaultMoments) -> Timing:
    # shown once DFØ's record of the change is past the grace period and the old profile
    # has arrived; due the due days after the grace period ends
    if moments.overwritten is None:
        raise ValueError("a stale web profile needs the moment it was overwritten")
    ready = moments.registered + WEB_GRACE
    return max(ready, moments.overwritten), business_date(ready) + timedelta(days=WEB_DUE_DAYS)


def _left_in_closed_unit(person: Person, moments: FaultMoments) -> Timing:
    # the position's record is long known (the load, days before): shown as the day
    # after the unit's last day begins, due the parameter days after that day
    if moments.closed is None:
        raise ValueError("a position left in a closed unit needs the unit's last day")
    after = moments.closed + timedelta(days=1)
    return start_of_day(after), after + timedelta(days=ORG_UNIT_DUE_DAYS)


_TIMING: Mapping[str, Callable[[Person, FaultMoments], Timing]] = {
    "access.new_hire_without_account": _new_hire,
    "access.joiner_without_contact": _joiner,
    "access.leaver_still_active": _leaver,
    "access.hourly_without_feide_account": _hourly,
    "finance.leader_without_approver": _leader,
    "access.username_mismatch": _username,
    "payroll.contract_without_pay": _unpaid,
    "access.position_unclassifiable": _unclassifiable,
    "guest.access_missing_or_short": _guest_access,
    "web.profile_stale": _stale_web,
    "org.unknown_unit": _left_in_closed_unit,
}


def _timing(person: Person, rule: str, moments: FaultMoments) -> Timing:
    """When the fault becomes visible to ``rule``, and the due date the rule gives."""
    return _TIMING[rule](person, moments)
