"""The simulated university over time: native source events and the ground truth.

:func:`simulate` plays each person's story (employed throughout, hired, leaving,
changing position, on an hourly contract, emeritus, a visiting researcher; heading a
unit; with a person page on the web) as the source systems would show it: DFØ's
``ansatt`` and ``stilling`` objects (as ``GET ansatte/v2`` and ``stilling/v2`` return
them) and its monthly payroll runs (``lonnskjoring``), Cerebrum's person and account
documents (as its REST API serves them), a guest's Greg person with a role and a
sponsor (as ``GET /v1/persons/{id}`` returns it), a person page as the web export
serves it, and a head of unit's Unit4 resource and approver role. The org units are in
DFØ and OrgReg from before the load, and now and then a reorganisation closes one and
moves its members to a new one (:mod:`hub.simulation.org_units`). A fault changes one
person's story (or a reorganisation) and records what the hub must find. Pure: the same
arguments give the same scenario.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from connectors.dfo.fake_server import sample_employee, sample_payroll_result, sample_position
from connectors.greg.fake_server import sample_guest
from connectors.greg.mapping import NATIONAL_ID
from connectors.unit4.fake_server import sample_approver_role, sample_resource
from connectors.web.fake_server import sample_page
from hub.clock import start_of_day
from hub.rules.payroll_periods import add_months
from hub.simulation.faults import (
    GUEST_ACCOUNT_SHORTFALL,
    Fault,
    FaultMoments,
    assign_faults,
    expectations_of,
)
from hub.simulation.org_units import (
    Reorganisation,
    cost_centre,
    known_units,
    plan_reorganisations,
    reorganise,
    unit_load,
    unit_name,
)
from hub.simulation.population import GREG_SPONSOR_IDS, POSITIONS, Person, Story, population
from hub.simulation.scenario_file import Event, Expectation, Scenario

__all__ = ["BARRIER_MINUTES", "SimulationSettings", "simulate"]

BARRIER_MINUTES = 30  # a barrier at least every half hour of simulated time

OPEN_ENDED = "9999-12-31"
FEIDE_CONTEXT = "LDAP_account"


@dataclass(frozen=True)
class SimulationSettings:
    """What to simulate: ``people`` at ``institution`` over ``days`` days from ``first``;
    each person fitting a fault gets one with probability ``fault_rate``."""

    seed: int = 1
    people: int = 1000
    institution: str = "uio"
    first: date = date(2026, 1, 5)
    days: int = 90
    fault_rate: float = 0.05


def _ansatt(person: Person, position_id: int, changed: date, **fields: Any) -> dict[str, Any]:
    native: dict[str, Any] = {
        "fnr": person.national_id,
        "fornavn": person.first_name,
        "etternavn": person.last_name,
        "fdato": person.birth_date.isoformat(),
        "eksternIdent": person.username,
        "tittel": POSITIONS[person.position][1],
        "epost": f"{person.username}@example.org",
        "endretDato": changed.isoformat(),
        "medarbeidergruppe": person.group[0],
        "medarbeiderundergruppe": person.group[1],
        "lederflagg": "J" if person.leader else "N",
    }
    if person.end is not None:
        native["sluttdato"] = person.end.isoformat()
    org_unit_id = fields.pop("organisasjonId", person.org_unit_id)
    native["kostnadssted"] = cost_centre(org_unit_id)
    return sample_employee(
        person.employee_id,
        start=person.start,
        position_id=position_id,
        org_unit_id=org_unit_id,
        **{**native, **fields},
    )


def _unit4_resource(person: Person) -> dict[str, Any]:
    """The person's resource in Unit4 (its id is DFØ's ansattnummer)."""
    return sample_resource(
        person.employee_id,
        name=f"{person.last_name}, {person.first_name}",
        userId=person.username.upper(),
        dateFrom=person.start.isoformat(),
        relations=[
            {
                "attributeId": "C1",
                "attributeValue": cost_centre(person.org_unit_id),
                "dateFrom": person.start.isoformat(),
            },
            {
                "attributeId": "ORGID",
                "attributeValue": str(person.org_unit_id),
                "dateFrom": person.start.isoformat(),
            },
        ],
        contactPoints=[{"contactPointType": "1", "eMail": f"{person.username}@example.org"}],
    )


def _approver_role(person: Person) -> dict[str, Any]:
    """A head of unit's cost approver role with budget authority (BDM) for the unit."""
    return sample_approver_role(
        person.employee_id,
        assignmentId=f"AR-{person.employee_id}",
        costCentre=cost_centre(person.org_unit_id),
        dateFrom=person.start.isoformat(),
    )


def _stilling(person: Person, position_id: int, org_unit_id: int, which: int) -> dict[str, Any]:
    code, title, category, _ = POSITIONS[which]
    return sample_position(
        position_id,
        [person.employee_id],
        stillingskode=code,
        stillingstittel=title,
        organisasjonId=org_unit_id,
        stillingskat=[{"stillingskatId": category, "stillingskatBetegn": title}],
    )


def _affiliation(person: Person, which: int) -> tuple[str, str]:
    """The affiliation IAM gives the person: an emeritus's, a guest's, else the position's."""
    if person.story is Story.EMERITUS:
        return "TILKNYTTET", "emeritus"
    if person.story is Story.GUEST:
        return "TILKNYTTET", "gjesteforsker"
    return "ANSATT", POSITIONS[which][3]


def _iam_origin(person: Person) -> tuple[str, str, str]:
    """Where IAM has the person from: the source system, and the id type and id there
    (a guest from Greg's import, everyone else from DFØ's)."""
    if person.story is Story.GUEST:
        return "GREG", "GREG_PID", str(person.greg_id)
    return "DFO_SAP", "DFO_PID", str(person.employee_id)


def _iam_person(person: Person, org_unit_id: int, which: int) -> dict[str, Any]:
    affiliation, status = _affiliation(person, which)
    source, id_type, own_id = _iam_origin(person)
    return {
        "id": person.iam_person_id,
        "birth_date": person.birth_date.isoformat(),
        "names": [
            {"source_system": source, "variant": "FIRST", "name": person.first_name},
            {"source_system": source, "variant": "LAST", "name": person.last_name},
        ],
        "contexts": ["LDAP_person"],
        "affiliations": [
            {
                "affiliation": affiliation,
                "status": status,
                "ou": {"id": org_unit_id},
                "source_system": source,
            }
        ],
        "external_ids": [
            {"id_type": "NO_BIRTHNO", "external_id": person.national_id, "source_system": source},
            {"id_type": id_type, "external_id": own_id, "source_system": source},
        ],
        "consents": [],
    }


def _iam_account(
    person: Person,
    org_unit_id: int,
    quarantines: list[dict[str, str]] | None = None,
    *,
    feide: bool = True,
    expires: date | None = None,
) -> dict[str, Any]:
    affiliation = _affiliation(person, person.position)[0]
    return {
        "id": person.iam_account_id,
        "name": person.username,
        "owner": {"id": person.iam_person_id, "type": "person"},
        "expire_date": expires.isoformat() if expires is not None else None,
        "contexts": [FEIDE_CONTEXT] if feide else [],
        "quarantines": quarantines or [],
        "affiliations": [{"affiliation": affiliation, "priority": 100, "ou": {"id": org_unit_id}}],
    }


def _greg_person(person: Person, registered: datetime) -> dict[str, Any]:
    """The guest as Greg serves it: registration completed at ``registered`` with the
    national ID verified (through ID-porten), and one guest-researcher role at the unit,
    from the start to the end date, with a staff member as sponsor."""
    if person.end is None:
        raise ValueError("a guest's role needs its end date")
    number = person.greg_id
    sponsor = GREG_SPONSOR_IDS + person.sponsor if person.sponsor is not None else None
    return sample_guest(
        number,
        first_name=person.first_name,
        last_name=person.last_name,
        date_of_birth=person.birth_date.isoformat(),
        registration_completed_date=registered.date().isoformat(),
        identities=[
            {
                "id": number * 10 + 1,
                "person": number,
                "type": NATIONAL_ID,
                "value": person.national_id,
                "verified": "automatic",
                "verified_at": registered.isoformat(),
                "invalid": None,
            }
        ],
        roles=[
            {
                "id": number * 10 + 3,
                "type": "guest-researcher",
                "start_date": person.start.isoformat(),
                "end_date": person.end.isoformat(),
                "sponsor": sponsor,
                "orgunit": {"id": person.org_unit_id, "active": True, "deleted": False},
            }
        ],
        consents=[],
    )


def _web_page(person: Person, which: int, org_unit_id: int, taken: datetime) -> dict[str, Any]:
    """The person's page as the web export serves it: name, title (position ``which``)
    and unit as IAM passed them on from HR at ``taken``."""
    return sample_page(
        person.index,
        uri=f"/personer/ansatte/{person.username}",
        properties={
            "getExternalPersonInfo": True,
            "externalPersonInfoFetched": taken.isoformat(),
            "username": person.username,
            "firstName": person.first_name,
            "surname": person.last_name,
            "position": POSITIONS[which][1],
            "unit": {"id": str(org_unit_id), "name": unit_name(org_unit_id)},
            "email": f"{person.username}@example.org",
        },
    )


class _Story:
    """One person's events and expectations, built up in time order."""

    def __init__(
        self,
        person: Person,
        fault: Fault | None,
        settings: SimulationSettings,
        closed: date | None = None,
    ) -> None:
        self.person = person
        self.fault = fault
        self.settings = settings
        self.closed = closed  # the last day of the unit a reorganisation left them in
        self.events: list[Event] = []
        self.position_id = person.position_id
        self.moments: FaultMoments | None = None
        self.origin = start_of_day(settings.first)
        self.page: dict[str, Any] | None = None  # the person page as first published

    def day(self, number: int, seconds: float) -> datetime:
        return self.origin + timedelta(days=number, seconds=seconds)

    def add(self, at: datetime, source: str, kind: str, body: dict[str, Any]) -> None:
        self.events.append(Event(at, source, kind, body))

    def load(self, at: datetime) -> None:
        """The initial load: IAM the day before (the person has long had an account),
        then DFØ's position and employee."""
        p, fault = self.person, self.fault
        unit, which = p.org_unit_id, p.position
        before = at - timedelta(days=1)
        self.add(before, "cerebrum", "person", _iam_person(p, unit, which))
        self.add(before + timedelta(seconds=1), "cerebrum", "account", _iam_account(p, unit))
        if p.leader:  # Unit4 knows the head of unit, and (unless faulty) the approver role
            self.add(before + timedelta(seconds=2), "unit4", "resource", _unit4_resource(p))
            if fault is not Fault.LEADER_NO_APPROVER:
                self.add(before + timedelta(seconds=3), "unit4", "approver_role", _approver_role(p))
        stilling = _stilling(p, self.position_id, unit, which)
        if fault is Fault.UNCLASSIFIABLE:
            stilling["stillingskat"] = [
                {"stillingskatId": 50078199, "stillingskatBetegn": "Ukjent kategori"}
            ]
        self.add(at + timedelta(seconds=2), "dfo", "stilling", stilling)
        extra: dict[str, Any] = {}
        if fault is Fault.USERNAME_MISMATCH:
            extra["eksternIdent"] = f"{p.username}old"
        registered = at + timedelta(seconds=3)
        self.add(registered, "dfo", "ansatt", _ansatt(p, self.position_id, at.date(), **extra))
        self.moments = FaultMoments(registered, before + timedelta(seconds=1), closed=self.closed)
        if p.web_page:  # the page shows what HR says, by way of IAM
            self.page = _web_page(p, which, unit, before)
            self.add(registered + timedelta(seconds=1), "web", "profile", self.page)

    def hire(self) -> None:
        p, fault = self.person, self.fault
        at = self.day(p.day, 8 * 3600 + p.index % 3600)
        stilling = _stilling(p, self.position_id, p.org_unit_id, p.position)
        self.add(at - timedelta(days=1), "dfo", "stilling", stilling)  # HR creates it first
        # IAM writes the username back to DFØ (eksternIdent) once it has made the account
        extra: dict[str, Any] = {"endretDato": at.date().isoformat(), "eksternIdent": None}
        if fault is Fault.NO_PRIVATE_CONTACT:
            extra["mobilPrivat"] = None
        registered = at + timedelta(seconds=1)
        body = _ansatt(p, self.position_id, at.date())
        body.update(extra)
        self.add(registered, "dfo", "ansatt", body)
        self.moments = FaultMoments(registered)
        if fault is Fault.IAM_MISSING:
            return
        iam_at = at + timedelta(hours=3)
        quarantines = None
        if fault is Fault.IAM_LATE:
            iam_at = start_of_day(p.start + timedelta(days=1)) + timedelta(hours=10)
        elif fault is Fault.NO_PRIVATE_CONTACT:
            # created, but not activated: the code has nowhere to go
            quarantines = [{"type": "aktivering", "start": at.date().isoformat()}]
        self.add(iam_at, "cerebrum", "person", _iam_person(p, p.org_unit_id, p.position))
        account = _iam_account(p, p.org_unit_id, quarantines)
        self.add(iam_at + timedelta(seconds=1), "cerebrum", "account", account)
        written_back = {**body, "eksternIdent": p.username}
        self.add(iam_at + timedelta(minutes=30), "dfo", "ansatt", written_back)

    def hourly(self) -> None:
        """An hourly or assignment contract: HR registers it 1 to 20 days before it
        starts; IAM makes a Feide account and closes it the morning after it ends."""
        p, fault = self.person, self.fault
        at = self.day(p.day, 11 * 3600 + p.index % 3600)
        stilling = _stilling(p, self.position_id, p.org_unit_id, p.position)
        self.add(at - timedelta(minutes=5), "dfo", "stilling", stilling)
        body = _ansatt(p, self.position_id, at.date(), eksternIdent=None)
        self.add(at, "dfo", "ansatt", body)
        iam_at = at + timedelta(minutes=20)
        self.moments = FaultMoments(at, dfo_last=iam_at + timedelta(minutes=10))
        self.add(iam_at, "cerebrum", "person", _iam_person(p, p.org_unit_id, p.position))
        account = _iam_account(p, p.org_unit_id, feide=fault is not Fault.HOURLY_NO_FEIDE)
        self.add(iam_at + timedelta(seconds=1), "cerebrum", "account", account)
        self.add(
            iam_at + timedelta(minutes=10), "dfo", "ansatt", {**body, "eksternIdent": p.username}
        )
        if p.end is None:
            return
        closed = start_of_day(p.end + timedelta(days=1)) + timedelta(hours=6)
        if closed < self.origin + timedelta(days=self.settings.days):
            quarantine = [{"type": "slutta", "start": (p.end + timedelta(days=1)).isoformat()}]
            self.add(closed, "cerebrum", "account", {**account, "quarantines": quarantine})

    def leave(self) -> None:
        p = self.person
        at = self.day(p.day, 9 * 3600 + p.index % 3600)
        end = at.date() + timedelta(days=p.span)
        body = _ansatt(p, self.position_id, at.date(), sluttdato=end.isoformat(), sluttarsak="10")
        self.add(at, "dfo", "ansatt", body)
        self.moments = FaultMoments(at, end=end)
        if self.fault is Fault.LEAVER_ACCOUNT_OPEN:
            return
        closed = start_of_day(end + timedelta(days=1)) + timedelta(hours=6)
        quarantine = [{"type": "slutta", "start": (end + timedelta(days=1)).isoformat()}]
        self.add(closed, "cerebrum", "account", _iam_account(p, p.org_unit_id, quarantine))

    def move(self) -> None:
        """A new position at the next unit: HR registers it late in the evening, IAM
        follows within minutes and the person page (if any) just after midnight, within
        the hour. The faulty page is overwritten with the old one at 03:00."""
        p = self.person
        offset = p.index % 900
        at = self.day(p.day, 23 * 3600 + 30 * 60 + offset)
        which = (p.position + 1) % len(POSITIONS)
        unit = p.org_unit_id + 1
        new_position = 31000000 + p.employee_id
        self.add(at - timedelta(days=1), "dfo", "stilling", _stilling(p, new_position, unit, which))
        body = _ansatt(p, new_position, at.date(), organisasjonId=unit, tittel=POSITIONS[which][1])
        registered = at + timedelta(seconds=1)
        self.add(registered, "dfo", "ansatt", body)
        later = at + timedelta(minutes=5)
        self.add(later, "cerebrum", "person", _iam_person(p, unit, which))
        self.add(later + timedelta(seconds=1), "cerebrum", "account", _iam_account(p, unit))
        if self.page is None:
            return
        # after midnight: the day's barrier keeps the page behind HR's change
        shown = self.day(p.day + 1, 5 * 60 + offset)
        self.add(shown, "web", "profile", _web_page(p, which, unit, shown))
        if self.fault is Fault.STALE_WEB_PROFILE:
            overwritten = self.day(p.day + 1, 3 * 3600 + offset)
            self.add(overwritten, "web", "profile", self.page)
            self.moments = FaultMoments(registered, overwritten=overwritten)

    def guest(self) -> None:
        """A visiting researcher: registered in Greg by the sponsor and completed by the
        guest (national ID verified) in the afternoon; IAM's Greg import makes the person
        and an account expiring on the role's end date a quarter of an hour later (the
        faulty account expires too soon)."""
        p = self.person
        if p.end is None:
            raise ValueError("a guest's role needs its end date")
        at = self.day(p.day, 13 * 3600 + p.index % 3600)
        self.add(at, "greg", "person", _greg_person(p, at))
        expires = p.end
        if self.fault is Fault.GUEST_ACCESS_ENDS_EARLY:
            expires -= GUEST_ACCOUNT_SHORTFALL
        iam_at = at + timedelta(minutes=15)
        self.add(iam_at, "cerebrum", "person", _iam_person(p, p.org_unit_id, p.position))
        account = _iam_account(p, p.org_unit_id, expires=expires)
        self.add(iam_at + timedelta(seconds=1), "cerebrum", "account", account)
        self.moments = FaultMoments(at, iam_at + timedelta(seconds=1), expires=expires)

    def expectations(self) -> list[Expectation]:
        if self.fault is None or self.moments is None:
            return []
        return expectations_of(self.person, self.fault, self.settings.institution, self.moments)


def _timekeeper(people: list[Person], settings: SimulationSettings) -> list[Event]:
    """DFØ's daily change to one clean employee (endretDato): the hub's event clock then
    moves on every simulated day, so re-checks (a start date less the lead days, an end
    date plus the grace period) happen even on a day with nothing else."""
    keeper = next(p for p in people if p.story is Story.STAFF)
    origin = start_of_day(settings.first)
    events = []
    for number in range(1, settings.days + 1):
        at = origin + timedelta(days=number, hours=23)
        body = _ansatt(keeper, keeper.position_id, at.date())
        events.append(Event(at, "dfo", "ansatt", body))
    return events


def _payroll(people: list[Person], faults: dict[int, Fault], end: datetime) -> list[Event]:
    """DFØ's monthly payroll runs: the run for a month is finished on the 5th of the
    next, and pays every hourly or assignment contract active in the month, except the
    first month of a contract the hourly_not_paid fault leaves out."""
    hourly = [p for p in people if p.hourly and p.end is not None]
    events = []
    month = min((p.start for p in hourly), default=end.date()).replace(day=1)
    while (run_at := start_of_day(add_months(month, 1) + timedelta(days=4))) < end:
        last = add_months(month, 1) - timedelta(days=1)
        results = [
            _pay(p, month)
            for p in hourly
            if p.start <= last
            and p.end is not None
            and p.end >= month
            and not (
                faults.get(p.index) is Fault.HOURLY_NOT_PAID and p.start.replace(day=1) == month
            )
        ]
        body = {
            "id": f"R{month:%Y%m}",
            "periode": f"{month:%Y-%m}",
            "type": "ordinaer",
            "ferdigstilt": (run_at + timedelta(hours=10)).isoformat(),
            "resultater": results,
        }
        events.append(Event(run_at + timedelta(hours=10), "dfo", "lonnskjoring", body))
        month = add_months(month, 1)
    return events


def _pay(person: Person, month: date) -> dict[str, Any]:
    """An hourly worker's payroll result for ``month``: hours at an hourly rate."""
    result = sample_payroll_result(person.employee_id, 310.0 * (10 + person.index % 40))
    result["linjer"][0].update(
        lonnsart="1010",
        lonnsartTekst=f"Timelønn {month:%Y-%m}",
        stillingId=str(person.position_id),
        kostnadssted=cost_centre(person.org_unit_id),
        organisasjonId=str(person.org_unit_id),
        timelonn="J",
    )
    return result


def _play(
    person: Person,
    fault: Fault | None,
    settings: SimulationSettings,
    spacing: float,
    closed: date | None = None,
) -> _Story:
    """The person's story: the initial load (``spacing`` seconds apart by index) for
    those already there, then the change of their story."""
    story = _Story(person, fault, settings, closed)
    if person.story not in (Story.HIRE, Story.HOURLY, Story.GUEST):
        story.load(story.origin + timedelta(seconds=person.index * spacing))
    if person.story is Story.HIRE:
        story.hire()
    elif person.story is Story.HOURLY:
        story.hourly()
    elif person.story is Story.LEAVER:
        story.leave()
    elif person.story is Story.MOVER:
        story.move()
    elif person.story is Story.GUEST:
        story.guest()
    return story


def _reorganisations(
    people: list[Person],
    faults: dict[int, Fault],
    keeper: Person,
    settings: SimulationSettings,
    spacing: float,
) -> list[Reorganisation]:
    """The period's reorganisations (from their own random stream, so that the people and
    their faults stay as the seed gives them). Their members carry no other fault (the
    reorganisation re-registers their records, which would move the faults' timing);
    the positions a reorganisation leaves behind are faults of their own."""
    rng = random.Random(f"{settings.seed}/reorganisations")  # noqa: S311 - a simulation
    planned = plan_reorganisations(
        rng,
        people,
        events_of=lambda p: _play(p, None, settings, spacing).events,
        spared=keeper.org_unit_id,
        first=settings.first,
        days=settings.days,
        fault_rate=settings.fault_rate,
    )
    for reorganisation in planned:
        for index in reorganisation.members:
            faults.pop(index, None)
        faults.update(
            {p.index: Fault.POSITION_LEFT_IN_CLOSED_UNIT for p in reorganisation.left_behind}
        )
    return planned


def simulate(
    settings: SimulationSettings, *, progress: Callable[[int, int], None] | None = None
) -> Scenario:
    """The scenario: every person's events over the period, and each fault's ground truth.
    ``progress(done, total)`` is told of each thousand people."""
    rng = random.Random(settings.seed)  # noqa: S311 - a simulation, not cryptography
    people = population(rng, settings.people, days=settings.days, first=settings.first)
    keeper = next((p for p in people if p.story is Story.STAFF), None)
    if keeper is None:
        raise ValueError("the population needs at least one person employed throughout")
    faults = assign_faults(rng, people, settings.fault_rate)
    faults.pop(keeper.index, None)
    # the initial load spreads over the first day, a few seconds per person
    spacing = min(4.0, 20 * 3600 / max(1, len(people)))
    reorganisations = _reorganisations(people, faults, keeper, settings, spacing)
    closed = {p.index: r.last_day for r in reorganisations for p in r.left_behind}
    origin = start_of_day(settings.first)
    scenario = Scenario(
        meta={
            "seed": settings.seed,
            "institution": settings.institution,
            "people": settings.people,
            "first": settings.first.isoformat(),
            "days": settings.days,
            "fault_rate": settings.fault_rate,
            # the initial load and the grace periods that run from it (a day at most):
            # the hub's go-live, when the existing problems all appear at once
            "go_live_until": (origin + timedelta(days=2)).isoformat(),
            # the worker's event clock must not run past a rule's grace (60 minutes at
            # the shortest) while a record from the same minutes waits on another topic
            "barrier_minutes": BARRIER_MINUTES,
            "reorganisations": [r.summary() for r in reorganisations],
        }
    )
    # the org units two days before the people: a day's barrier keeps them ahead
    leaders = {p.org_unit_id: p.employee_id for p in people if p.leader}
    scenario.events.extend(unit_load(known_units(people), leaders, origin - timedelta(days=2)))
    for person in people:
        story = _play(person, faults.get(person.index), settings, spacing, closed.get(person.index))
        scenario.events.extend(story.events)
        scenario.expectations.extend(story.expectations())
        if progress is not None and (person.index % 1000 == 999 or person.index == len(people) - 1):
            progress(person.index + 1, len(people))
    scenario.events.extend(_timekeeper(people, settings))
    # the period ends the day after the last day (the timekeeper's last change): what
    # would happen later (IAM provisioning a late hire after it) is not played, and a
    # fault that would show only later is not expected
    end = origin + timedelta(days=settings.days + 1)
    scenario.events.extend(_payroll(people, faults, end))
    for reorganisation in reorganisations:
        scenario.events = reorganise(scenario.events, reorganisation)
    scenario.events = [event for event in scenario.sorted_events() if event.at < end]
    scenario.expectations = [e for e in scenario.expectations if e.at < end]
    return scenario
