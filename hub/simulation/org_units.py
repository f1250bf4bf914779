"""The simulated university's org units, and a reorganisation now and then.

The units are reference data for the rules (``org.unknown_unit``,
``payroll.closed_cost_centre``): each is in DFØ (``GET orgenhet/v2``'s ``organisasjon``,
with its cost centre and head) and in OrgReg (``GET /v3/ou/{ouId}``, tied to DFØ's id
by the external key ``dfo_sap/dfo_org_id``). :func:`unit_load` registers every unit
people sit in, and the one after the last (a mover's next unit), two days before the
people are loaded.

A :class:`Reorganisation` closes a unit at the end of a day and replaces it with a new
one. :func:`reorganise` plays it on the scenario's events: the new unit and the old
unit's end date are registered in DFØ and OrgReg the day before; in the evening of the
last day HR moves everything DFØ has in the old unit (positions, then employees) to the
new one, IAM follows ten minutes later and the person pages just after midnight, as a
mover's do (the day's barrier keeps each page behind HR's change); from then on every
record that would have named the old unit (a payroll run, an account closed later)
names the new one. A faulty reorganisation leaves some members' positions in the old
unit. Pure: the same arguments give the same events.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from connectors.dfo.fake_server import sample_org_unit
from connectors.orgreg.fake_server import sample_unit
from hub.clock import business_date, start_of_day
from hub.simulation.population import Person, Story
from hub.simulation.scenario_file import Event

__all__ = [
    "Reorganisation",
    "cost_centre",
    "known_units",
    "plan_reorganisations",
    "reorganise",
    "unit_load",
    "unit_name",
]

ROOT_UNIT_ID = 50000000  # the university itself, every unit's parent
ORGREG_ROOT = 1  # its ouId in OrgReg
ORGREG_OFFSET = 50000000  # a unit's ouId in OrgReg is its DFØ id less this
VALID_SINCE = "2020-01-01"
OPEN_ENDED = "9999-12-31"
DAYS_PER_REORGANISATION = 45  # a period of 90 days has two
REGISTERED = timedelta(days=-1, hours=9)  # the new unit and the old one's end: the day before
MOVED = timedelta(hours=23, minutes=30)  # HR moves the members late on the last day
# after HR's move, per source: IAM follows, and the pages just after midnight
_FOLLOWS: Mapping[str, timedelta] = {
    "dfo": timedelta(minutes=0),
    "cerebrum": timedelta(minutes=10),
    "greg": timedelta(minutes=10),
    "unit4": timedelta(minutes=15),
    "web": timedelta(minutes=35),
}
# the field naming each kind of object the reorganisation moves (DFØ's first: a position
# before its holder's employment)
_IDENTITY: Mapping[tuple[str, str], str] = {
    ("dfo", "stilling"): "id",
    ("dfo", "ansatt"): "id",
    ("cerebrum", "person"): "id",
    ("cerebrum", "account"): "name",
    ("greg", "person"): "id",
    ("unit4", "resource"): "resourceId",
    ("unit4", "approver_role"): "assignmentId",
    ("web", "profile"): "uri",
}
_UNIT_OBJECTS = frozenset({"ou", "orgunit", "unit"})  # IAM's, Greg's and the page's unit
_COST_CENTRES = frozenset({"kostnadssted", "costCentre"})  # DFØ's and Unit4's


def cost_centre(unit_id: int) -> str:
    """The unit's cost centre (kostnadssted) in DFØ and Unit4."""
    return f"{unit_id % 10000:04d}00"


def unit_name(unit_id: int) -> str:
    return f"Enhet {unit_id}"


def known_units(people: Iterable[Person]) -> range:
    """The units from the first people sit in to the one after the last (a mover's next)."""
    ids = [p.org_unit_id for p in people]
    return range(min(ids), max(ids) + 2)


def _dfo_unit(
    unit_id: int, leader: int | None, *, since: date | None = None, until: date | None = None
) -> dict[str, Any]:
    """The unit as DFØ's ``GET orgenhet/v2/{id}`` lists it."""
    return sample_org_unit(
        unit_id,
        parent=ROOT_UNIT_ID if unit_id != ROOT_UNIT_ID else None,
        organisasjonsnavn=unit_name(unit_id),
        orgKostnadssted=cost_centre(unit_id),
        gyldigFraDato=since.isoformat() if since else VALID_SINCE,
        gyldigTilDato=until.isoformat() if until else OPEN_ENDED,
        leder=[{"lederAnsattnr": f"{leader:08d}", "lederBrukerident": None}] if leader else [],
    )


def _orgreg_unit(
    unit_id: int, *, since: date | None = None, until: date | None = None
) -> dict[str, Any]:
    """The unit as OrgReg's ``GET /v3/ou/{ouId}`` gives it, keyed to DFØ's id."""
    ou_id = unit_id - ORGREG_OFFSET if unit_id != ROOT_UNIT_ID else ORGREG_ROOT
    return sample_unit(
        ou_id,
        parent=ORGREG_ROOT if ou_id != ORGREG_ROOT else 0,
        validFrom=since.isoformat() if since else VALID_SINCE,
        validTo=until.isoformat() if until else None,
        name={"nob": unit_name(unit_id), "eng": f"Unit {unit_id}"},
        externalKeys=[{"sourceSystem": "dfo_sap", "type": "dfo_org_id", "value": str(unit_id)}],
    )


def _unit_events(
    at: datetime,
    unit_id: int,
    leader: int | None,
    *,
    since: date | None = None,
    until: date | None = None,
) -> list[Event]:
    """The unit in DFØ, and a minute later in OrgReg (org changes flow DFØ → OrgReg)."""
    return [
        Event(at, "dfo", "organisasjon", _dfo_unit(unit_id, leader, since=since, until=until)),
        Event(
            at + timedelta(minutes=1),
            "orgreg",
            "ou",
            _orgreg_unit(unit_id, since=since, until=until),
        ),
    ]


def unit_load(units: Iterable[int], leaders: Mapping[int, int], at: datetime) -> list[Event]:
    """The university and each of ``units`` (with its head, by employee number, from
    ``leaders``) in DFØ and OrgReg from ``at``, a second apart."""
    events = _unit_events(at, ROOT_UNIT_ID, None)
    for number, unit_id in enumerate(units, start=1):
        events += _unit_events(at + timedelta(seconds=number), unit_id, leaders.get(unit_id))
    return events


@dataclass(frozen=True)
class Reorganisation:
    """Unit ``old`` closes at the end of ``last_day`` and ``new`` replaces it the day after,
    headed by ``leader`` (employee number) if the old one was. ``members`` (person indexes)
    are everyone DFØ has in the old unit then, or would place there later; HR leaves the
    positions of ``left_behind`` (staff among them) in the old unit."""

    old: int
    new: int
    last_day: date
    leader: int | None
    members: frozenset[int]
    left_behind: tuple[Person, ...] = ()

    @property
    def moved_at(self) -> datetime:
        return start_of_day(self.last_day) + MOVED

    def summary(self) -> dict[str, Any]:
        """What the scenario's meta says about it."""
        return {
            "closed": self.old,
            "replaced_by": self.new,
            "last_day": self.last_day.isoformat(),
            "members": len(self.members),
            "positions_left_behind": [p.position_id for p in self.left_behind],
        }


def _members(people: Iterable[Person]) -> dict[int, list[Person]]:
    """By unit: the people DFØ places in it at some time (a mover also in the next)."""
    members: dict[int, list[Person]] = defaultdict(list)
    for person in people:
        members[person.org_unit_id].append(person)
        if person.story is Story.MOVER:
            members[person.org_unit_id + 1].append(person)
    return members


def plan_reorganisations(
    rng: random.Random,
    people: list[Person],
    *,
    events_of: Callable[[Person], list[Event]],
    spared: int,
    first: date,
    days: int,
    fault_rate: float,
) -> list[Reorganisation]:
    """One reorganisation for each ``DAYS_PER_REORGANISATION`` days of the period (at least
    one), each on a day of its share of the period: a unit (not ``spared``) whose members
    have no change of their own that day or the next (their story's events, from
    ``events_of``), and share no member with another reorganisation. Each of its staff
    but the head has, with probability ``fault_rate``, the position left behind."""
    count = max(1, days // DAYS_PER_REORGANISATION)
    members = _members(people)
    units = sorted({p.org_unit_id for p in people} - {spared})
    rng.shuffle(units)
    new = known_units(people).stop
    planned: list[Reorganisation] = []
    taken: set[int] = set()
    for share in range(count):
        days_of_share = range(
            max(2, share * days // count), min(days - 1, (share + 1) * days // count)
        )
        for unit in units:
            indexes = {p.index for p in members[unit]}
            if indexes & taken:
                continue
            busy = {business_date(e.at) for p in members[unit] for e in events_of(p)}
            free = [
                first + timedelta(days=d)
                for d in days_of_share
                if not {first + timedelta(days=d), first + timedelta(days=d + 1)} & busy
            ]
            if not free:
                continue
            leader = next((p.employee_id for p in members[unit] if p.leader), None)
            staff = [
                p
                for p in members[unit]
                if p.story is Story.STAFF and not p.leader and p.org_unit_id == unit
            ]
            planned.append(
                Reorganisation(
                    old=unit,
                    new=new + len(planned),
                    last_day=rng.choice(free),
                    leader=leader,
                    members=frozenset(indexes),
                    left_behind=tuple(p for p in staff if rng.random() < fault_rate),
                )
            )
            taken |= indexes
            units.remove(unit)
            break
    return planned


def _rehomed(value: Any, old: int, new: int) -> Any:
    """``value`` (a native body, or part of one) with unit ``old`` replaced by ``new``
    wherever a unit is named: DFØ's ``organisasjonId``, IAM's ``ou``, Greg's ``orgunit``,
    the page's ``unit`` (id and name), Unit4's ``ORGID`` and ``C1`` relations, and the
    cost centre (DFØ's ``kostnadssted``, Unit4's ``costCentre``)."""
    if isinstance(value, list):
        return [_rehomed(item, old, new) for item in value]
    if not isinstance(value, dict):
        return value
    renamed: dict[str, Any] = {}
    for key, item in value.items():
        if key == "organisasjonId" and str(item) == str(old):
            renamed[key] = type(item)(new)
        elif key in _COST_CENTRES and item == cost_centre(old):
            renamed[key] = cost_centre(new)
        elif key in _UNIT_OBJECTS and isinstance(item, dict) and str(item.get("id")) == str(old):
            unit = {**item, "id": type(item["id"])(new)}
            if "name" in item:
                unit["name"] = unit_name(new)
            renamed[key] = unit
        else:
            renamed[key] = _rehomed(item, old, new)
    relation, named = value.get("attributeId"), value.get("attributeValue")
    if relation == "ORGID" and named == str(old):
        renamed["attributeValue"] = str(new)
    elif relation == "C1" and named == cost_centre(old):
        renamed["attributeValue"] = cost_centre(new)
    return renamed


def _moved(event: Event, reorganisation: Reorganisation, at: datetime) -> Event:
    """The object as the reorganisation leaves it, registered at ``at``."""
    body = _rehomed(event.body, reorganisation.old, reorganisation.new)
    if (event.source, event.kind) == ("dfo", "ansatt"):
        body["endretDato"] = at.date().isoformat()
    elif (event.source, event.kind) == ("web", "profile"):
        body["properties"] = {**body["properties"], "externalPersonInfoFetched": at.isoformat()}
    return Event(at, event.source, event.kind, body)


def _moves(latest: Iterable[Event], reorganisation: Reorganisation) -> Iterator[Event]:
    """Each object naming the old unit moved, in the evening's timetable: DFØ's positions,
    then employees (a second apart), then IAM and Greg, Unit4, and the pages after
    midnight, each source in the same order of its objects."""
    kept = {f"{p.position_id:08d}" for p in reorganisation.left_behind}
    order = list(_IDENTITY)
    naming = [
        e
        for e in latest
        if not e.delete
        and _rehomed(e.body, reorganisation.old, reorganisation.new) != e.body
        and not ((e.source, e.kind) == ("dfo", "stilling") and e.body["id"] in kept)
    ]
    naming.sort(
        key=lambda e: (order.index((e.source, e.kind)), str(e.body[_IDENTITY[e.source, e.kind]]))
    )
    seen: dict[str, int] = defaultdict(int)
    for event in naming:
        step = seen[event.source]
        seen[event.source] += 1
        at = reorganisation.moved_at + _FOLLOWS[event.source] + timedelta(seconds=step)
        yield _moved(event, reorganisation, at)


def reorganise(events: Iterable[Event], reorganisation: Reorganisation) -> list[Event]:
    """``events`` with ``reorganisation`` played on them (see the module's docstring)."""
    old, new = reorganisation.old, reorganisation.new
    moment = reorganisation.moved_at
    played: list[Event] = []
    latest: dict[tuple[str, str, str], Event] = {}
    for event in sorted(events, key=lambda e: e.at):
        if event.at < moment:
            played.append(event)
            field = _IDENTITY.get((event.source, event.kind))
            if field is not None:
                latest[event.source, event.kind, str(event.body[field])] = event
            continue
        body = _rehomed(event.body, old, new)
        played.append(
            event if body == event.body else Event(event.at, event.source, event.kind, body)
        )
    registered = start_of_day(reorganisation.last_day) + REGISTERED
    played += _unit_events(
        registered,
        new,
        reorganisation.leader,
        since=reorganisation.last_day + timedelta(days=1),
    )
    played += _unit_events(
        registered + timedelta(minutes=2),
        old,
        reorganisation.leader,
        until=reorganisation.last_day,
    )
    played += _moves(latest.values(), reorganisation)
    return played
