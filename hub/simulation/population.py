"""A simulated university population: people, their positions, units and identifiers.

Pure and deterministic: the same ``random.Random`` seed gives the same people. National
IDs are synthetic: 11 digits with valid check digits and the month raised by 80, the
Norwegian convention for synthetic test numbers, so they can never be a real person's.
"""

from __future__ import annotations

import dataclasses
import enum
import random
from collections import defaultdict
from collections.abc import Container
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "HOURLY_SUBGROUPS",
    "Person",
    "Story",
    "population",
    "synthetic_national_id",
    "valid_check_digits",
]

FIRST_NAMES = (
    "Kari",
    "Ola",
    "Ingrid",
    "Jonas",
    "Nora",
    "Emil",
    "Sofie",
    "Aksel",
    "Ida",
    "Lukas",
    "Maja",
    "Henrik",
    "Thea",
    "Sander",
    "Emma",
    "Magnus",
    "Sara",
    "Elias",
    "Hanna",
    "Per",
)
LAST_NAMES = (
    "Nordmann",
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Berg",
    "Haugen",
    "Lie",
    "Dahl",
    "Strand",
    "Solberg",
    "Bakken",
    "Moen",
    "Eide",
    "Lund",
)
# (stillingskode, stillingstittel, stillingskatId, Cerebrum affiliation status)
POSITIONS = (
    (20001013, "Professor", 50078120, "vitenskapelig"),
    (20001011, "Førsteamanuensis", 50078120, "vitenskapelig"),
    (20001017, "Stipendiat", 50078120, "vitenskapelig"),
    (20001434, "Rådgiver", 50078118, "tekadm"),
    (20001065, "Konsulent", 50078119, "tekadm"),
)
_WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


class Story(enum.StrEnum):
    """What happens to a person during the simulated period."""

    STAFF = "staff"  # employed throughout
    HIRE = "hire"  # registered in DFØ during the period, starts later
    LEAVER = "leaver"  # employed, leaves during the period
    MOVER = "mover"  # employed, changes position and unit during the period
    HOURLY = "hourly"  # an hourly or assignment contract registered during the period
    EMERITUS = "emeritus"  # a retired professor kept as emeritus (DFØ MG/MUG 9/93)
    GUEST = "guest"  # a visiting researcher registered in Greg during the period (not in DFØ)


# DFØ's employee group and subgroup (medarbeidergruppe, medarbeiderundergruppe)
EMPLOYEE_GROUPS: dict[Story, tuple[str, str]] = {Story.EMERITUS: ("9", "93")}
HOURLY_SUBGROUPS = ("timelønnet", "oppdrag")  # an hourly contract, an assignment
WEB_PAGE_STORIES = frozenset({Story.STAFF, Story.MOVER})  # who may have a person page
WEB_PAGE_SHARE = 0.5  # the share of those who have one
GREG_IDS = 70000  # a guest's Greg person id is this plus their index
GREG_SPONSOR_IDS = 40000  # Greg's sponsor id of a staff member is this plus their index
FIRST_UNIT_ID = 50001000  # DFØ's organisasjonId of the first org unit; the rest follow it
PEOPLE_PER_UNIT = 25
POSITION_IDS = 30000000  # a person's first position in DFØ is this plus their employee number


@dataclass(frozen=True)
class Person:
    """One simulated person and their employment."""

    index: int
    story: Story
    employee_id: int  # DFØ ansattnummer
    national_id: str  # synthetic
    first_name: str
    last_name: str
    birth_date: date
    username: str
    iam_person_id: int
    iam_account_id: int
    position: int  # index into POSITIONS
    org_unit_id: int
    start: date
    day: int  # the day of the period when the story's change happens (0 for STAFF)
    span: int  # days from that change to the next (start after registration, end, …)
    end: date | None = None  # the end of an hourly or assignment contract, or a guest role
    group: tuple[str, str] = ("1", "17")  # DFØ's MG and MUG
    leader: bool = False  # head of the org unit (DFØ's lederflagg), a cost approver in Unit4
    web_page: bool = False  # has a person page on the web (data from HR by way of IAM)
    sponsor: int | None = None  # a guest's sponsor in Greg: the index of a staff member

    @property
    def hourly(self) -> bool:
        return self.group[1] in HOURLY_SUBGROUPS

    @property
    def position_id(self) -> int:
        """The id of the person's (first) position in DFØ."""
        return POSITION_IDS + self.employee_id

    @property
    def greg_id(self) -> int:
        """The person's id in Greg (only a guest has a Greg record)."""
        return GREG_IDS + self.index


def valid_check_digits(nine: str) -> str | None:
    """The two mod-11 check digits of a national ID's first nine digits, or None when
    the number has none (the control digit would be 10)."""
    total = sum(int(d) * w for d, w in zip(nine, _WEIGHTS_1, strict=True))
    k1 = (11 - total % 11) % 11
    if k1 == 10:
        return None
    ten = nine + str(k1)
    total = sum(int(d) * w for d, w in zip(ten, _WEIGHTS_2, strict=True))
    k2 = (11 - total % 11) % 11
    return None if k2 == 10 else f"{k1}{k2}"


def synthetic_national_id(birth: date, individual: int, taken: Container[str] = ()) -> str:
    """A synthetic fødselsnummer for ``birth`` (month + 80): valid check digits, never a
    real person, never one of DFØ's dummy numbers (``…00[012]00``), never in ``taken``
    (two people born on the same day must not share a number).

    >>> number = synthetic_national_id(date(1988, 4, 24), 123)
    >>> number[:6], len(number)
    ('248888', 11)
    """
    for step in range(1000):
        serial = (individual + step * 7) % 1000
        nine = f"{birth.day:02d}{birth.month + 80:02d}{birth.year % 100:02d}{serial:03d}"
        digits = valid_check_digits(nine)
        number = nine + digits if digits is not None else ""
        if number and not number.endswith(("00000", "00100", "00200")) and number not in taken:
            return number
    raise ValueError("no synthetic number for this birth date")  # pragma: no cover


# The share of each story in a population; the rest are employed throughout.
SHARES = (
    (Story.HIRE, 0.08),
    (Story.LEAVER, 0.06),
    (Story.MOVER, 0.05),
    (Story.HOURLY, 0.08),
    (Story.EMERITUS, 0.02),
    (Story.GUEST, 0.04),
)


def _story(rng: random.Random) -> Story:
    roll = rng.random()
    for story, share in SHARES:
        if roll < share:
            return story
        roll -= share
    return Story.STAFF


def _timing(rng: random.Random, story: Story, days: int, first: date) -> tuple[int, int, date]:
    """The day of the story's change, the span to the next, and the start date."""
    if story is Story.HIRE:
        day = rng.randint(1, max(1, days - 45))
        span = rng.randint(21, 45)
        return day, span, first + timedelta(days=day + span)
    if story is Story.HOURLY:
        # registered 1 to 20 days before the contract starts
        day = rng.randint(1, max(1, days - 25))
        span = rng.randint(1, 20)
        return day, span, first + timedelta(days=day + span)
    if story is Story.GUEST:
        # registered in Greg 2 to 30 days before the role starts
        day = rng.randint(1, max(1, days - 30))
        span = rng.randint(2, 30)
        return day, span, first + timedelta(days=day + span)
    day = 0 if story in (Story.STAFF, Story.EMERITUS) else rng.randint(1, max(1, days - 30))
    return day, rng.randint(5, 25), date(rng.randint(1995, first.year - 1), rng.randint(1, 12), 1)


def population(rng: random.Random, size: int, *, days: int, first: date) -> list[Person]:
    """``size`` people of one institution over a period of ``days`` days from ``first``.

    Hires are registered in DFØ between day 1 and ``days - 45`` and start 21 to 45 days
    later; hourly and assignment contracts are registered 1 to 20 days before they
    start and run 30 to 120 days; leavers and movers change between day 1 and
    ``days - 30``. Guests are registered in Greg between day 1 and ``days - 30``, their
    role starts 2 to 30 days later and outlasts the period by 60 to 300 days; each has a
    sponsor employed throughout (in the guest's unit when there is one). Emeriti were
    born before 1960. The first person employed throughout in each org unit heads it.
    About half of those employed throughout or changing position have a person page.
    """
    units = max(4, size // PEOPLE_PER_UNIT)
    people: list[Person] = []
    taken: set[str] = set()
    headed: set[int] = set()
    for index in range(size):
        story = _story(rng)
        oldest = 1940 if story is Story.EMERITUS else 1950
        youngest = 1959 if story is Story.EMERITUS else 2000
        birth = date(rng.randint(oldest, youngest), rng.randint(1, 12), rng.randint(1, 28))
        first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        day, span, start = _timing(rng, story, days, first)
        end, group = None, EMPLOYEE_GROUPS.get(story, ("1", "17"))
        if story is Story.HOURLY:
            end = start + timedelta(days=rng.randint(30, 120))
            group = ("1", rng.choice(HOURLY_SUBGROUPS))
        elif story is Story.GUEST:
            end = start + timedelta(days=rng.randint(days + 60, days + 300))
        national_id = synthetic_national_id(birth, index, taken)
        taken.add(national_id)
        org_unit_id = FIRST_UNIT_ID + rng.randrange(units)
        leader = story is Story.STAFF and org_unit_id not in headed
        if leader:
            headed.add(org_unit_id)
        web_page = story in WEB_PAGE_STORIES and rng.random() < WEB_PAGE_SHARE
        people.append(
            Person(
                index=index,
                story=story,
                employee_id=100000 + index,
                national_id=national_id,
                first_name=first_name,
                last_name=last_name,
                birth_date=birth,
                username=f"{first_name[:3].lower()}{last_name[:2].lower()}{index}",
                iam_person_id=500000 + index,
                iam_account_id=800000 + index,
                position=rng.randrange(len(POSITIONS)),
                org_unit_id=org_unit_id,
                start=start,
                day=day,
                span=span,
                end=end,
                group=group,
                leader=leader,
                web_page=web_page,
            )
        )
    return _with_sponsors(people)


def _with_sponsors(people: list[Person]) -> list[Person]:
    """Each guest with a sponsor: a staff member employed throughout, in the guest's unit
    when it has one, else anywhere (chosen by the guest's index, so deterministically)."""
    staff = [p.index for p in people if p.story is Story.STAFF]
    by_unit: dict[int, list[int]] = defaultdict(list)
    for person in people:
        if person.story is Story.STAFF:
            by_unit[person.org_unit_id].append(person.index)
    return [
        _sponsored(person, by_unit.get(person.org_unit_id) or staff)
        if person.story is Story.GUEST
        else person
        for person in people
    ]


def _sponsored(guest: Person, candidates: list[int]) -> Person:
    """The guest with one of ``candidates`` (staff indexes) as sponsor, if there is one."""
    if not candidates:
        return guest
    return dataclasses.replace(guest, sponsor=candidates[guest.index % len(candidates)])
