"""The simulator, the scenario format and the scorer: pure, no broker."""

from __future__ import annotations

import asyncio
import io
import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from hub.clock import business_date, start_of_day
from hub.correlation.identifiers import Identifier, Kind, person_key
from hub.errors import HubError
from hub.rules import RULES
from hub.simulation.faults import GUEST_ACCOUNT_SHORTFALL, Fault, assign_faults
from hub.simulation.population import (
    GREG_SPONSOR_IDS,
    HOURLY_SUBGROUPS,
    WEB_PAGE_STORIES,
    Story,
    population,
    synthetic_national_id,
    valid_check_digits,
)
from hub.simulation.replay import EventClock, _barrier_window, _EventTimedProducer
from hub.simulation.scenario_file import Event, Expectation, Scenario, dump_lines, parse_lines
from hub.simulation.scoring import expected_person_keys, guest_person_keys, score
from hub.simulation.simulator import SimulationSettings, simulate

SECRET = "test-secret"


def test_same_seed_same_scenario_and_another_seed_differs() -> None:
    settings = SimulationSettings(seed=7, people=300, fault_rate=0.2)
    first, again = simulate(settings), simulate(settings)
    assert list(dump_lines(first)) == list(dump_lines(again))
    other = simulate(SimulationSettings(seed=8, people=300, fault_rate=0.2))
    assert list(dump_lines(other)) != list(dump_lines(first))


def test_synthetic_national_ids_are_valid_fake_and_unique() -> None:
    # 5,000 people: with seed 1 two of them share a birth date and an individual number
    scenario = simulate(SimulationSettings(people=5000))
    numbers = {e.body["fnr"] for e in scenario.events if e.kind == "ansatt"}
    assert len(numbers) == len({e.body["id"] for e in scenario.events if e.kind == "ansatt"})
    for number in numbers:
        assert int(number[2:4]) > 80  # the synthetic month
        assert valid_check_digits(number[:9]) == number[9:]
        assert not number.endswith(("00000", "00100", "00200"))
    assert synthetic_national_id(date(1990, 1, 1), 5) != synthetic_national_id(date(1990, 1, 1), 6)
    taken = {synthetic_national_id(date(1990, 1, 1), 5)}
    assert synthetic_national_id(date(1990, 1, 1), 5, taken) not in taken


def test_the_population_has_every_story_with_its_dfo_groups() -> None:
    people = population(random.Random(3), 2000, days=90, first=date(2026, 1, 5))
    assert {p.story for p in people} == set(Story)
    for person in people:
        if person.story is Story.HOURLY:
            assert person.hourly
            assert person.end is not None
            assert person.end > person.start
        elif person.story is Story.EMERITUS:
            assert person.group == ("9", "93")
            assert person.birth_date.year < 1960
        elif person.story is Story.GUEST:
            assert person.end is not None
            assert person.end > person.start + timedelta(days=90)  # outlasts the period
        else:
            assert person.group == ("1", "17")
            assert person.end is None


def test_every_fault_is_injected_and_recorded_with_its_rules() -> None:
    scenario = simulate(SimulationSettings(people=3000, fault_rate=0.3))
    found = {(e.fault, e.rule) for e in scenario.expectations}
    assert found == {(fault.value, rule) for fault in Fault for rule in fault.rules}


def test_guest_and_page_faults_go_only_to_guests_and_to_movers_with_a_page() -> None:
    """At a fault rate of 1 every guest's account is short and every mover with a page
    has it overwritten; a mover without a page has no fault that fits."""
    people = population(random.Random(5), 3000, days=90, first=date(2026, 1, 5))
    faults = assign_faults(random.Random(6), people, 1.0)
    for person in people:
        fault = faults.get(person.index)
        if person.story is Story.GUEST:
            assert fault is Fault.GUEST_ACCESS_ENDS_EARLY
        elif person.story is Story.MOVER:
            assert fault is (Fault.STALE_WEB_PROFILE if person.web_page else None)
        else:
            assert fault not in (Fault.GUEST_ACCESS_ENDS_EARLY, Fault.STALE_WEB_PROFILE)
    movers = [p for p in people if p.story is Story.MOVER]
    assert {p.web_page for p in movers} == {True, False}


def test_hourly_workers_without_feide_are_due_on_the_start_or_two_days_after_registration() -> None:
    scenario = simulate(SimulationSettings(people=2000, fault_rate=0.5))
    hourly = [e for e in scenario.expectations if e.fault == Fault.HOURLY_NO_FEIDE.value]
    assert hourly
    contracts = {
        e.body["id"].lstrip("0"): e.body
        for e in scenario.events
        if e.kind == "ansatt" and e.body["medarbeiderundergruppe"] in HOURLY_SUBGROUPS
    }
    for expected in hourly:
        contract = contracts[expected.subject["dfo"]]
        start = date.fromisoformat(contract["startdato"])
        registered = date.fromisoformat(contract["endretDato"])
        assert expected.due == max(start, registered + timedelta(days=2))
        assert expected.at.date() <= start
    accounts = [e.body for e in scenario.events if e.kind == "account" and not e.body["contexts"]]
    assert len({a["id"] for a in accounts}) == len(hourly), "only the faulty lack Feide"


def test_every_fault_is_recorded_with_rule_subject_and_due_date() -> None:
    scenario = simulate(SimulationSettings(people=2000, fault_rate=0.3))
    rules = {e.rule for e in scenario.expectations}
    assert rules >= {
        "access.new_hire_without_account",
        "access.joiner_without_contact",
        "access.leaver_still_active",
        "access.username_mismatch",
        "access.position_unclassifiable",
    }
    assert all(e.due is not None for e in scenario.expectations)
    for expected in scenario.expectations:  # a guest is known by Greg id, the rest by DFØ's
        guest = expected.fault == Fault.GUEST_ACCESS_ENDS_EARLY.value
        assert set(expected.subject) == ({"greg"} if guest else {"dfo"})
    last = max(e.at for e in scenario.events)
    assert all(e.at < last for e in scenario.expectations)


def test_the_file_round_trips() -> None:
    scenario = simulate(SimulationSettings(people=50, fault_rate=0.5))
    text = io.StringIO("\n".join(dump_lines(scenario)))
    again = parse_lines(text)
    assert again.meta == scenario.meta
    assert again.events == scenario.events
    assert again.expectations == scenario.expectations


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"type": "event", "at": "2026-01-05T08:00:00", "source": "dfo", "kind": "ansatt",'
            ' "body": {}}',
            "needs a UTC offset",
        ),
        (
            '{"type": "event", "at": "2026-01-05T08:00:00+00:00", "source": "x", "kind": "a",'
            ' "body": {}}',
            "unknown source",
        ),
        ('{"type": "nope"}', "'type' must be"),
        ("[1]", "must be a JSON object"),
    ],
)
def test_bad_lines_are_named(line: str, message: str) -> None:
    with pytest.raises(HubError, match=message):
        parse_lines([line], "f.jsonl")


def _task(task_id: str, rule: str, key: str, opened: datetime) -> dict[str, object]:
    return {
        "task_id": task_id,
        "rule_id": rule,
        "institution": "uio",
        "person_key": key,
        "title_en": "t",
        "opened_at": opened,
        "due_date": None,
    }


def test_scoring_counts_hits_misses_extras_and_duplicates() -> None:
    scenario = simulate(SimulationSettings(people=400, fault_rate=0.3))
    keys = expected_person_keys(scenario, SECRET)
    guests = guest_person_keys(scenario, SECRET)

    def key_of(expected: Expectation) -> str:
        if "greg" in expected.subject:
            return guests[("uio", expected.subject["greg"])]
        return keys[("uio", expected.subject["dfo"])]

    expected = scenario.expectations
    assert len(expected) >= 4
    assert any("greg" in e.subject for e in expected), "a guest's fault is scored too"
    at = datetime(2026, 3, 1, tzinfo=UTC)
    tasks = [_task(f"t{i}", e.rule, key_of(e), at) for i, e in enumerate(expected[1:])]
    first = expected[1]
    tasks.append(_task("dup", first.rule, key_of(first), at))
    tasks.append(_task("extra", "access.username_mismatch", "p-nobody", at))
    result = score(scenario, tasks, SECRET)
    distinct = len({(e.rule, *sorted(e.subject.items())) for e in expected})
    assert result.summary()["false_negatives"] == 1
    assert result.summary()["false_positives"] == 1
    assert result.duplicates == [sorted(["t0", "dup"])]
    assert result.true_positives == distinct - 1
    assert result.recall == pytest.approx((distinct - 1) / distinct)
    # another secret gives other keys: nothing matches
    assert score(scenario, tasks, "other").true_positives == 0


def test_a_guest_is_keyed_by_a_trusted_national_id_only() -> None:
    """As the Greg connector: an unverified (or invalid) national ID is no anchor, so the
    guest's key is its Greg id until the number is verified."""
    number = synthetic_national_id(date(1990, 2, 3), 7)

    def guest(verified: str | None, invalid: bool | None = None) -> str:
        identity = {"type": "norwegian_national_id_number", "value": number}
        body = {"id": 7001, "identities": [{**identity, "verified": verified, "invalid": invalid}]}
        line = '{"type": "event", "at": "2026-03-02T08:00:00+01:00", "source": "greg",'
        scenario = parse_lines([f'{line} "kind": "person", "body": {json.dumps(body)}}}'])
        return guest_person_keys(scenario, SECRET)[("uio", "7001")]

    unanchored = person_key(SECRET, "uio", Identifier(Kind.GREG, "7001"))
    assert guest(None) == unanchored
    assert guest("automatic", invalid=True) == unanchored
    assert guest("manual") == guest("automatic") != unanchored


def test_the_replay_stamps_a_tombstone_with_the_event_clock() -> None:
    """The hub dates a source deletion by the tombstone's Kafka timestamp: on the replay's
    event clock, not the wall clock (which moved the worker to today's date)."""
    sent: list[dict[str, object]] = []

    class Recording:
        async def send(self, topic: str, **kwargs: object) -> asyncio.Future[None]:
            sent.append(kwargs)
            done = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done

    clock = EventClock()
    clock.at = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)

    async def send_two() -> None:
        producer = _EventTimedProducer(Recording(), clock)  # type: ignore[arg-type]
        await producer.send_and_wait("t", key=b"k", value=None, headers=[])
        await producer.send_and_wait("t", key=b"k", value=b"v", headers=[])
        await producer.delivered()

    asyncio.run(send_two())
    assert sent[0]["timestamp_ms"] == int(clock.at.timestamp() * 1000)
    assert "timestamp_ms" not in sent[1]  # a record carries its own source_timestamp


def test_a_second_employee_number_on_a_national_id_is_keyed_by_its_number() -> None:
    """Correlation anchors a national ID on the first employee number (in reference order)
    and disputes the other, which stays a person of its own: the scorer expects the same."""
    number = synthetic_national_id(date(1989, 9, 19), 5)
    lines = [
        '{"type": "event", "at": "2026-03-02T08:00:00+01:00", "source": "dfo", "kind": "ansatt",'
        f' "body": {{"id": "{employee:08d}", "fnr": "{number}"}}}}'
        for employee in (167003, 167002)
    ]
    keys = expected_person_keys(parse_lines(lines), SECRET)
    alone = expected_person_keys(parse_lines(lines[1:]), SECRET)
    assert keys[("uio", "167002")] == alone[("uio", "167002")]  # the national ID's person
    assert keys[("uio", "167003")] == person_key(SECRET, "uio", Identifier(Kind.DFO, "167003"))


def test_each_unit_has_at_most_one_leader_and_only_the_faulty_lack_the_approver_role() -> None:
    scenario = simulate(SimulationSettings(people=3000, fault_rate=0.3))
    leaders = {
        e.body["id"] for e in scenario.events if e.kind == "ansatt" and e.body["lederflagg"] == "J"
    }
    units = {  # each leader's unit at the end (a reorganisation moves some)
        e.body["id"]: e.body["organisasjonId"]
        for e in scenario.sorted_events()
        if e.kind == "ansatt" and e.body["id"] in leaders
    }
    assert leaders
    assert len(set(units.values())) == len(leaders)
    roles = {e.body["resourceId"] for e in scenario.events if e.kind == "approver_role"}
    resources = {e.body["resourceId"] for e in scenario.events if e.kind == "resource"}
    assert resources == leaders
    missing = {
        f"{int(e.subject['dfo']):08d}"
        for e in scenario.expectations
        if e.fault == Fault.LEADER_NO_APPROVER.value
    }
    assert missing
    assert missing == leaders - roles


def test_payroll_runs_pay_each_hourly_contract_for_each_month_it_runs_but_the_faulty_first() -> (
    None
):
    scenario = simulate(SimulationSettings(people=3000, fault_rate=0.3))
    runs = {e.body["periode"]: e for e in scenario.events if e.kind == "lonnskjoring"}
    assert sorted(runs) == ["2026-01", "2026-02", "2026-03"]
    paid = {
        (period, int(result["ansattnummer"]))
        for period, run in runs.items()
        for result in run.body["resultater"]
    }
    unpaid = {int(e.subject["dfo"]) for e in scenario.expectations if e.fault == "hourly_not_paid"}
    assert unpaid
    for event in scenario.events:
        if event.kind != "ansatt" or event.body["medarbeiderundergruppe"] not in HOURLY_SUBGROUPS:
            continue
        number = int(event.body["id"])
        start = date.fromisoformat(event.body["startdato"])
        period = f"{start:%Y-%m}"
        if period in ("2026-01", "2026-02"):  # March closes after the scenario's end
            assert ((period, number) in paid) != (number in unpaid)
    for expected in scenario.expectations:
        if expected.fault == "hourly_not_paid":
            assert expected.at.day == 21  # the day after the period closes (the 20th)
            assert expected.due is not None
            assert expected.due.day == 10  # the next payroll cut-off


class TestBarrierWindow:
    """A scenario's ``barrier_minutes``: finer barriers than one per simulated day."""

    def test_absent_or_null_means_daily_barriers_only(self) -> None:
        assert _barrier_window(Scenario(meta={})) is None
        assert _barrier_window(Scenario(meta={"barrier_minutes": None})) is None

    def test_minutes_become_a_window(self) -> None:
        assert _barrier_window(Scenario(meta={"barrier_minutes": 30})) == timedelta(minutes=30)

    def test_a_generated_scenario_keeps_the_clock_within_the_shortest_grace(self) -> None:
        scenario = simulate(SimulationSettings(seed=3, people=80, days=10))
        window = _barrier_window(scenario)
        assert window is not None
        graces = [rule.spec.default_grace for rule in RULES if rule.spec.default_grace]
        assert window < min(graces)

    @pytest.mark.parametrize("bad", [0, -5, "30", True, [30]])
    def test_a_bad_window_is_refused_naming_the_field(self, bad: object) -> None:
        with pytest.raises(HubError, match="barrier_minutes"):
            _barrier_window(Scenario(meta={"barrier_minutes": bad}))


def _bodies(scenario: Scenario, source: str, kind: str) -> list[Event]:
    return [e for e in scenario.events if e.source == source and e.kind == kind]


class TestGuests:
    """Visiting researchers: Greg's record with a role and a staff sponsor, and what IAM's
    Greg import makes of it; the faulty account expires before the role ends."""

    scenario = simulate(SimulationSettings(people=3000, fault_rate=0.3))

    def test_each_guest_has_a_verified_identity_a_role_at_a_unit_and_a_staff_sponsor(
        self,
    ) -> None:
        """A guest's Greg record is complete (so guest.registration_incomplete stays
        quiet) and the sponsor is a staff member employed throughout."""
        people = population(random.Random(3), 3000, days=90, first=date(2026, 1, 5))
        staff = {p.index: p for p in people if p.story is Story.STAFF}
        guests = [p for p in people if p.story is Story.GUEST]
        assert guests
        for guest in guests:
            assert guest.sponsor in staff
            sponsor = staff[guest.sponsor]
            units = {p.org_unit_id for p in staff.values()}
            assert sponsor.org_unit_id == guest.org_unit_id or guest.org_unit_id not in units
        # each guest's first record: a reorganisation may move the role later
        registered: dict[int, Event] = {}
        for event in _bodies(self.scenario, "greg", "person"):
            registered.setdefault(event.body["id"], event)
        assert registered
        for event in registered.values():
            body = event.body
            assert body["registration_completed_date"] == event.at.date().isoformat()
            [identity] = body["identities"]
            assert identity["verified"] == "automatic"
            assert int(identity["value"][2:4]) > 80  # synthetic
            [role] = body["roles"]
            assert role["type"] == "guest-researcher"
            assert role["start_date"] > event.at.date().isoformat()
            assert role["sponsor"] >= GREG_SPONSOR_IDS

    def test_iam_makes_a_guest_person_and_an_account_lasting_the_role_but_for_the_faulty(
        self,
    ) -> None:
        """IAM's guest carries the Greg id and the national ID; its account expires when
        the role ends, or (the fault) a fixed shortfall before, which is the due date."""
        roles = {
            str(e.body["id"]): (e, e.body["roles"][0])
            for e in _bodies(self.scenario, "greg", "person")
        }
        persons = {
            e.body["id"]: e.body
            for e in _bodies(self.scenario, "cerebrum", "person")
            if e.body["external_ids"][1]["id_type"] == "GREG_PID"
        }
        accounts = {e.body["owner"]["id"]: e for e in _bodies(self.scenario, "cerebrum", "account")}
        faulty = {
            e.subject["greg"]: e
            for e in self.scenario.expectations
            if e.fault == Fault.GUEST_ACCESS_ENDS_EARLY.value
        }
        assert faulty
        assert len(persons) == len(roles)
        for person_id, person in persons.items():
            greg_id = person["external_ids"][1]["external_id"]
            registered, role = roles[greg_id]
            assert person["affiliations"][0]["status"] == "gjesteforsker"
            account = accounts[person_id]
            assert account.at - registered.at < timedelta(minutes=60)  # within the grace
            end = date.fromisoformat(role["end_date"])
            expires = date.fromisoformat(account.body["expire_date"])
            if greg_id not in faulty:
                assert expires == end
                continue
            assert expires == end - GUEST_ACCOUNT_SHORTFALL
            expected = faulty[greg_id]
            assert expected.rule == "guest.access_missing_or_short"
            assert expected.due == expires
            start = date.fromisoformat(role["start_date"])
            assert expected.at == start_of_day(start) + timedelta(minutes=60)

    def test_only_the_faulty_guests_are_expected_to_open_a_task(self) -> None:
        """A clean guest is no one's task: every expectation about a guest is the fault's."""
        greg_ids = {str(e.body["id"]) for e in _bodies(self.scenario, "greg", "person")}
        about_guests = [e for e in self.scenario.expectations if e.subject.get("greg")]
        assert {e.subject["greg"] for e in about_guests} < greg_ids
        assert {e.fault for e in about_guests} == {Fault.GUEST_ACCESS_ENDS_EARLY.value}


class TestWebPages:
    """Person pages for a share of staff: they show what HR says; a mover's page follows
    HR's change within the grace, and the faulty one is overwritten by the old page."""

    scenario = simulate(SimulationSettings(people=3000, fault_rate=0.3))

    def _employee_numbers(self) -> dict[str, str]:
        """DFØ's employee number of each IAM username (the page names the person by it)."""
        number_of = {
            e.body["id"]: e.body["external_ids"][1]["external_id"]
            for e in _bodies(self.scenario, "cerebrum", "person")
            if e.body["external_ids"][1]["id_type"] == "DFO_PID"
        }
        return {
            e.body["name"]: number_of[e.body["owner"]["id"]]
            for e in _bodies(self.scenario, "cerebrum", "account")
            if e.body["owner"]["id"] in number_of
        }

    def _latest(self, source: str, kind: str, key: str) -> dict[str, Event]:
        latest: dict[str, Event] = {}
        for event in self.scenario.sorted_events():
            if event.source == source and event.kind == kind:
                latest[str(event.body[key])] = event
        return latest

    def test_pages_belong_to_staff_and_movers_only(self) -> None:
        """Only people employed throughout or changing position have pages (a leaver's or
        a hire's page would raise web.visibility_conflict or wait for HR)."""
        people = population(random.Random(3), 3000, days=90, first=date(2026, 1, 5))
        with_pages = {p.story for p in people if p.web_page}
        assert with_pages == WEB_PAGE_STORIES
        pages = _bodies(self.scenario, "web", "profile")
        assert pages
        assert {e.body["properties"]["username"] for e in pages} <= set(self._employee_numbers())

    def test_every_page_ends_showing_hr_but_the_stale_ones(self) -> None:
        """At the end, a clean page shows DFØ's name, title and unit; a stale one shows
        the old title or unit, with data taken before HR's change, and is expected."""
        numbers = self._employee_numbers()
        employees = {str(int(key)): e for key, e in self._latest("dfo", "ansatt", "id").items()}
        stale = {
            e.subject["dfo"]: e
            for e in self.scenario.expectations
            if e.fault == Fault.STALE_WEB_PROFILE.value
        }
        assert stale
        for page in self._latest("web", "profile", "uri").values():
            shown = page.body["properties"]
            employee = employees[numbers[shown["username"]]]
            hr = employee.body
            same = (shown["position"], shown["unit"]["id"]) == (
                hr["tittel"],
                str(hr["organisasjonId"]),
            )
            assert (
                f"{shown['firstName']} {shown['surname']}" == f"{hr['fornavn']} {hr['etternavn']}"
            )
            number = str(int(hr["id"]))
            assert same != (number in stale), number
            taken = datetime.fromisoformat(shown["externalPersonInfoFetched"])
            if number in stale:
                expected = stale[number]
                assert taken < employee.at
                assert expected.at == page.at
                ready = employee.at + timedelta(minutes=60)
                assert expected.due == business_date(ready) + timedelta(days=14)

    def test_a_movers_page_follows_hr_after_midnight_within_the_grace(self) -> None:
        """The new page comes the day after HR's change (a day's barrier keeps it behind
        the change) and before the grace period ends."""
        changes = [
            e
            for e in _bodies(self.scenario, "dfo", "ansatt")
            if e.at.hour == 23 and e.at.minute >= 30  # HR registers a move late in the evening
        ]
        assert changes
        pages = _bodies(self.scenario, "web", "profile")
        numbers = self._employee_numbers()
        followed = 0
        for change in changes:
            after = [
                p
                for p in pages
                if numbers[p.body["properties"]["username"]] == str(int(change.body["id"]))
                and p.at > change.at
                and p.body["properties"]["position"] == change.body["tittel"]
            ]
            if after:
                followed += 1
                assert business_date(after[0].at) == business_date(change.at) + timedelta(days=1)
                assert after[0].at - change.at < timedelta(minutes=60)
        assert followed


def _units_named(event: Event) -> set[int]:
    """The org units a native body places someone in (DFØ, IAM, Greg, the page, payroll)."""
    body = event.body
    if event.source == "dfo" and event.kind in ("ansatt", "stilling"):
        return {int(body["organisasjonId"])}
    if event.source == "dfo" and event.kind == "lonnskjoring":
        return {
            int(line["organisasjonId"])
            for result in body["resultater"]
            for line in result["linjer"]
            if line.get("organisasjonId")
        }
    if event.source == "cerebrum":
        return {int(a["ou"]["id"]) for a in body["affiliations"]}
    if event.source == "greg":
        return {int(r["orgunit"]["id"]) for r in body["roles"]}
    if event.source == "web":
        return {int(body["properties"]["unit"]["id"])}
    return set()


class TestOrgUnitsAndReorganisations:
    """Org units in DFØ and OrgReg for everyone from before the load; a reorganisation
    closes a unit and moves its members to the new one, or (the fault) leaves some of
    their positions behind."""

    scenario = simulate(SimulationSettings(people=3000, fault_rate=0.3))

    def _units(self, scenario: Scenario) -> tuple[dict[int, list[Event]], dict[int, list[Event]]]:
        """Each unit's DFØ and OrgReg records, by DFØ's id, in time order."""
        dfo: dict[int, list[Event]] = {}
        orgreg: dict[int, list[Event]] = {}
        for event in scenario.sorted_events():
            if event.kind == "organisasjon":
                dfo.setdefault(int(event.body["id"]), []).append(event)
            elif event.kind == "ou":
                [key] = event.body["externalKeys"]
                assert (key["sourceSystem"], key["type"]) == ("dfo_sap", "dfo_org_id")
                orgreg.setdefault(int(key["value"]), []).append(event)
        return dfo, orgreg

    def test_every_unit_anyone_is_placed_in_is_loaded_before_the_people(self) -> None:
        """DFØ and OrgReg know every unit a record names (a mover's next unit too) a day's
        barrier before the first person's record, or the new unit the day before it is
        used: no rule fires on a clean population."""
        dfo, orgreg = self._units(self.scenario)
        assert set(dfo) == set(orgreg)
        people = [e for e in self.scenario.events if e.kind not in ("organisasjon", "ou")]
        first = min(e.at for e in people)
        for event in people:
            for unit in _units_named(event):
                assert unit in dfo, (event.source, event.kind, unit)
                known = min(dfo[unit][0].at, orgreg[unit][0].at)
                assert business_date(known) < business_date(max(event.at, first)), unit
        for unit, records in dfo.items():
            cost_centre = records[-1].body["orgKostnadssted"]
            assert cost_centre == f"{unit % 10000:04d}00"

    def test_a_reorganisation_closes_the_unit_and_moves_all_its_members(self) -> None:
        """The new unit (from the next day) and the old one's last day are in DFØ and
        OrgReg the day before; that evening DFØ moves everything but the positions left
        behind, IAM follows before midnight, and no record names the old unit later."""
        reorganisations = self.scenario.meta["reorganisations"]
        assert len(reorganisations) == 2  # one for each 45 days of 90
        dfo, orgreg = self._units(self.scenario)
        for reorganisation in reorganisations:
            old, new = reorganisation["closed"], reorganisation["replaced_by"]
            last_day = date.fromisoformat(reorganisation["last_day"])
            assert reorganisation["members"] > 0
            assert dfo[old][-1].body["gyldigTilDato"] == last_day.isoformat()
            assert orgreg[old][-1].body["validTo"] == last_day.isoformat()
            since = (last_day + timedelta(days=1)).isoformat()
            assert dfo[new][-1].body["gyldigFraDato"] == since
            assert orgreg[new][-1].body["validFrom"] == since
            assert orgreg[new][-1].body["validTo"] is None
            for records in (dfo[old][-1:], dfo[new], orgreg[old][-1:], orgreg[new]):
                assert business_date(records[0].at) == last_day - timedelta(days=1)
            moved_at = start_of_day(last_day) + timedelta(hours=23, minutes=30)
            left = {f"{number:08d}" for number in reorganisation["positions_left_behind"]}
            latest: dict[tuple[str, str], Event] = {}
            for event in self.scenario.sorted_events():
                if old in _units_named(event) and event.at >= moved_at:
                    assert event.kind == "stilling", event
                    assert event.body["id"] in left, event
                if (event.source, event.kind) in (("dfo", "ansatt"), ("dfo", "stilling")):
                    latest[event.kind, event.body["id"]] = event
            still = {key[1] for key, e in latest.items() if old in _units_named(e)}
            assert still == left
            moves = [
                e
                for e in self.scenario.events
                if moved_at <= e.at < moved_at + timedelta(hours=1) and new in _units_named(e)
            ]
            assert {e.source for e in moves} >= {"dfo", "cerebrum"}
            assert all(
                business_date(e.at) == last_day
                if e.source != "web"
                else business_date(e.at) == last_day + timedelta(days=1)
                for e in moves
            )

    def test_a_clean_reorganisation_expects_no_task(self) -> None:
        """Without faults the reorganisations still happen, and nothing is expected; with
        faults, a member's only fault is a position left behind."""
        clean = simulate(SimulationSettings(people=1500, fault_rate=0.0))
        assert clean.meta["reorganisations"]
        assert all(not r["positions_left_behind"] for r in clean.meta["reorganisations"])
        assert clean.expectations == []
        placed: dict[tuple[str, str], set[int]] = {}  # by subject: the units ever placed in
        for event in self.scenario.events:
            if event.kind in ("ansatt", "person") and event.source in ("dfo", "greg"):
                subject = (event.source, str(int(event.body["id"])))
                placed.setdefault(subject, set()).update(_units_named(event))
        closed = {r["closed"] for r in self.scenario.meta["reorganisations"]}
        about_members = [
            e for e in self.scenario.expectations if placed[next(iter(e.subject.items()))] & closed
        ]
        assert about_members
        assert {e.fault for e in about_members} == {Fault.POSITION_LEFT_IN_CLOSED_UNIT.value}

    def test_a_position_left_behind_is_expected_the_day_after_the_units_last_day(self) -> None:
        """The holder is moved but the position is not: org.unknown_unit shows it as the
        next day begins, due its 7 days after that day."""
        left = {
            number - 30000000: date.fromisoformat(r["last_day"])
            for r in self.scenario.meta["reorganisations"]
            for number in r["positions_left_behind"]
        }
        expected = {
            int(e.subject["dfo"]): e
            for e in self.scenario.expectations
            if e.fault == Fault.POSITION_LEFT_IN_CLOSED_UNIT.value
        }
        assert expected
        assert set(expected) == set(left)
        for number, expectation in expected.items():
            after = left[number] + timedelta(days=1)
            assert expectation.rule == "org.unknown_unit"
            assert expectation.at == start_of_day(after)
            assert expectation.due == after + timedelta(days=7)
