"""Tests for the correlation stage: canonical source records in, person events out."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.correlation.extract import PERSON_SOURCES
from hub.correlation.stage import CorrelationStage, Outgoing
from hub.person_view import LinkedRecord, PersonView, upsert_record
from hub.pipeline import Pipeline
from hub.privacy import mask_identifier, national_id_pseudonym, pseudonym
from hub.rules import RuleSettings
from hub.topics import TopicCatalog

SECRET = "s"
CATALOG = SchemaCatalog()
TOPICS = TopicCatalog()
SCHEMAS = {t: TOPICS[t].value_schema or "" for t in PERSON_SOURCES}
NIN_A = "01017012345"
NIN_A_TYPO = "01017012354"
NIN_B = "02027012345"
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
EMPLOYEE = "source.dfo.employee"
GREG = "source.greg.person"
IAM_PERSON = "source.iam.person"
POSITION = "source.dfo.position"

Event = tuple[str, str, str, str | None, str | None]  # key, action, ref, status, moved_to


def stage() -> CorrelationStage:
    """A fresh correlation stage for every person source."""
    return CorrelationStage(secret=SECRET, schemas=SCHEMAS)


def with_defaults(source: str, values: dict[str, Any]) -> dict[str, Any]:
    """A complete record of the source's schema: every field's default, then ``values``."""
    fields = CATALOG[SCHEMAS[source]].plain["fields"]
    record = {f["name"]: copy.deepcopy(f["default"]) for f in fields if "default" in f}
    record.update(values)
    return record


def _nin(value: str | None) -> dict[str, Any]:
    if value is None:
        return {"national_id_pseudonym": None, "national_id_masked": None}
    return {
        "national_id_pseudonym": national_id_pseudonym(SECRET, value),
        "national_id_masked": mask_identifier(value),
    }


def _passports(number: str | None) -> list[dict[str, Any]]:
    if number is None:
        return []
    return [{"country": "DE", "pseudonym": pseudonym(SECRET, "passport", number), "masked": "**1"}]


def employee(
    number: str,
    *,
    nin: str | None = None,
    passport: str | None = None,
    stamp: datetime = NOW,
) -> dict[str, Any]:
    """A DFØ employee record."""
    return with_defaults(
        EMPLOYEE,
        {
            "institution": "uio",
            "source_id": number,
            "employee_id": number,
            "source_timestamp": stamp,
            "first_name": "Kari",
            "last_name": "Nordmann",
            "passports": _passports(passport),
            **_nin(nin),
        },
    )


def greg(greg_id: str, *, nin: str | None = None, passport: str | None = None) -> dict[str, Any]:
    """A Greg guest record."""
    return with_defaults(
        GREG,
        {
            "institution": "uio",
            "source_id": greg_id,
            "greg_id": greg_id,
            "source_timestamp": NOW,
            "passports": _passports(passport),
            **_nin(nin),
        },
    )


def iam_person(
    person_id: str, *, nin: str | None = None, externals: dict[str, str] | None = None
) -> dict[str, Any]:
    """An IAM (Cerebrum) person record."""
    return with_defaults(
        IAM_PERSON,
        {
            "institution": "uio",
            "source_id": person_id,
            "iam_person_id": person_id,
            "source_timestamp": NOW,
            "external_ids": [{"id_type": k, "value": v} for k, v in (externals or {}).items()],
            **_nin(nin),
        },
    )


def position(holders: list[str], stamp: datetime = NOW) -> dict[str, Any]:
    """DFØ position 300 with the given holders (employee numbers)."""
    return with_defaults(
        POSITION,
        {
            "institution": "uio",
            "source_id": "300",
            "position_id": "300",
            "source_timestamp": stamp,
            "holders": [{"employee_id": h} for h in holders],
        },
    )


def summary(events: list[Outgoing]) -> list[Event]:
    """Each event as (person key, action, record ref, link status, moved_to)."""
    return [
        (
            o.person_key,
            o.event["action"],
            o.event["record_ref"],
            (o.event["link"] or {}).get("status"),
            o.event["moved_to"],
        )
        for o in events
    ]


def key_of(events: list[Outgoing], ref: str) -> str:
    """The person the (only) UPSERT of ``ref`` goes to."""
    (key,) = {o.person_key for o in events if o.event["record_ref"] == ref}
    return key


class Table:
    """The identity table as the app keeps it: the latest state per reference."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def feed(
        self, correlation: CorrelationStage, source: str, record: dict[str, Any]
    ) -> list[Outgoing]:
        states, events = correlation.process(source, record)
        for ref, state in states:
            if state is None:
                self.rows.pop(ref, None)
            else:
                self.rows[ref] = state
        return events


class TestEvents:
    def test_new_record_is_one_unmatched_upsert(self) -> None:
        """A record sharing nothing with anyone goes to its own person, UNMATCHED, with
        the record, its reference and its source time."""
        record = employee("7", nin=NIN_A)
        _, events = stage().process(EMPLOYEE, record)
        (out,) = events
        assert summary(events) == [
            (out.person_key, "UPSERT", "source.dfo.employee/7", "UNMATCHED", None)
        ]
        assert out.event["person_key"] == out.person_key
        assert out.event["record"] == ("no.bott.hub.dfo.Employee", record)
        assert out.event["event_time"] == NOW
        assert out.event["link"]["anchor"] == "nin:*********45"

    def test_second_record_links_and_relinks_the_first(self) -> None:
        """A record sharing the employee number joins the employee's person (LINKED) and
        the employee's own link changes from UNMATCHED to LINKED."""
        correlation = stage()
        first = correlation.process(EMPLOYEE, employee("7", nin=NIN_A))[1]
        key = first[0].person_key
        _, events = correlation.process(IAM_PERSON, iam_person("9", externals={"DFO_PID": "7"}))
        assert summary(events) == [
            (key, "RELINK", "source.dfo.employee/7", "LINKED", None),
            (key, "UPSERT", "source.iam.person/9", "LINKED", None),
        ]
        assert events[1].event["link"]["shared"] == ["dfo:7"]

    def test_merging_record_detaches_the_records_that_change_person(self) -> None:
        """A record naming two people merges them: the guest's record is DETACHed from its
        person with moved_to the merged person; the employee's record stays."""
        correlation = stage()
        guest = correlation.process(GREG, greg("3", passport="P123"))[1]
        hired = correlation.process(EMPLOYEE, employee("7", nin=NIN_A))[1]
        guest_key, merged = guest[0].person_key, hired[0].person_key
        assert guest_key != merged
        _, events = correlation.process(
            IAM_PERSON, iam_person("9", nin=NIN_A, externals={"GREG_PID": "3", "DFO_PID": "7"})
        )
        assert summary(events) == [
            (merged, "RELINK", "source.dfo.employee/7", "LINKED", None),
            (guest_key, "DETACH", "source.greg.person/3", "LINKED", merged),
            (merged, "UPSERT", "source.iam.person/9", "LINKED", None),
        ]

    def test_mistyped_national_id_is_disputed_with_masked_evidence(self) -> None:
        """An IAM person pointing at employee 7 with a mistyped national ID goes to a
        person of its own, DISPUTED, naming employee 7's person, with the national IDs
        shown only masked."""
        correlation = stage()
        hired = correlation.process(EMPLOYEE, employee("7", nin=NIN_A))[1]
        employee_key = hired[0].person_key
        _, events = correlation.process(
            IAM_PERSON, iam_person("9", nin=NIN_A_TYPO, externals={"DFO_PID": "7"})
        )
        (out,) = events
        assert out.event["action"] == "UPSERT"
        assert out.person_key != employee_key
        link = out.event["link"]
        assert link["status"] == "DISPUTED"
        assert link["candidates"] == [{"person_key": employee_key, "anchor": "nin:*********45"}]
        assert link["conflicts"] == [
            {"kind": "nin", "ours": ["nin:*********54"], "theirs": ["nin:*********45"]}
        ]

    def test_national_ids_leave_only_masked_or_as_the_records_pseudonym(self) -> None:
        """No raw national ID appears in any event, and the pseudonyms appear only in
        the records' own pseudonym field, never in a link or elsewhere in the event."""
        correlation = stage()
        events = correlation.process(EMPLOYEE, employee("7", nin=NIN_A))[1]
        events += correlation.process(
            IAM_PERSON, iam_person("9", nin=NIN_A_TYPO, externals={"DFO_PID": "7"})
        )[1]
        pseudonyms = [national_id_pseudonym(SECRET, n) for n in (NIN_A, NIN_A_TYPO)]
        digests = [p.split(":", 1)[1] for p in pseudonyms]
        everything = repr(events)
        assert NIN_A not in everything
        assert NIN_A_TYPO not in everything
        assert all(d in everything for d in digests), "precondition: the records carry them"
        without_records = repr([{**o.event, "record": None} for o in events])
        assert not any(d in without_records for d in digests)
        assert "nin:*********45" in without_records
        assert "nin:*********54" in without_records

    def test_position_holders_are_upserted_one_each(self) -> None:
        """A position with two holders gives one UPSERT per holder, '<ref>#<employee>', to
        each holder's person, and links each holder's employee record."""
        correlation = stage()
        five = key_of(
            correlation.process(EMPLOYEE, employee("5", nin=NIN_A))[1], "source.dfo.employee/5"
        )
        six = key_of(
            correlation.process(EMPLOYEE, employee("6", nin=NIN_B))[1], "source.dfo.employee/6"
        )
        _, events = correlation.process(POSITION, position(["00005", "6"]))
        assert summary(events) == [
            (five, "RELINK", "source.dfo.employee/5", "LINKED", None),
            (five, "UPSERT", "source.dfo.position/300#5", "LINKED", None),
            (six, "RELINK", "source.dfo.employee/6", "LINKED", None),
            (six, "UPSERT", "source.dfo.position/300#6", "LINKED", None),
        ]
        assert all(
            o.event["record"] == ("no.bott.hub.dfo.Position", position(["00005", "6"]))
            for o in events
            if o.event["action"] == "UPSERT"
        )

    def test_holder_left_out_of_a_newer_version_is_detached(self) -> None:
        """Re-sent without holder 6, the position DETACHes '#6' from 6's person (to no
        one), 6's employee record is UNMATCHED again, and the identity is forgotten."""
        correlation = stage()
        correlation.process(EMPLOYEE, employee("5", nin=NIN_A))
        six = key_of(
            correlation.process(EMPLOYEE, employee("6", nin=NIN_B))[1], "source.dfo.employee/6"
        )
        correlation.process(POSITION, position(["5", "6"]))
        states, events = correlation.process(POSITION, position(["5"], NOW + timedelta(hours=1)))
        detached = [e for e in summary(events) if e[1] == "DETACH"]
        assert detached == [(six, "DETACH", "source.dfo.position/300#6", None, None)]
        assert (six, "RELINK", "source.dfo.employee/6", "UNMATCHED", None) in summary(events)
        assert ("source.dfo.position/300#6", None) in states

    def test_repeated_record_is_upserted_again_and_nothing_else(self) -> None:
        """The same record again gives one UPSERT to the same person with the same link,
        and no other event: the person view decides what to keep."""
        correlation = stage()
        first = correlation.process(EMPLOYEE, employee("7", nin=NIN_A))[1]
        correlation.process(IAM_PERSON, iam_person("9", externals={"DFO_PID": "7"}))
        again = correlation.process(IAM_PERSON, iam_person("9", externals={"DFO_PID": "7"}))[1]
        assert summary(again) == [
            (first[0].person_key, "UPSERT", "source.iam.person/9", "LINKED", None)
        ]

    def test_older_version_is_upserted_to_the_current_person(self) -> None:
        """An older version of a record goes to the record's current person, carrying
        its own (older) content, and changes no one else."""
        correlation = stage()
        newer = correlation.process(EMPLOYEE, employee("7", nin=NIN_A))[1]
        older = employee("7", stamp=NOW - timedelta(days=1))
        events = correlation.process(EMPLOYEE, older)[1]
        assert summary(events) == [
            (newer[0].person_key, "UPSERT", "source.dfo.employee/7", "UNMATCHED", None)
        ]
        assert events[0].event["record"][1] == older


def history() -> list[tuple[str, dict[str, Any]]]:
    """Records that link, merge, dispute, re-version and drop a position holder."""
    return [
        (GREG, greg("3", passport="P123")),
        (EMPLOYEE, employee("7", nin=NIN_A)),
        (IAM_PERSON, iam_person("9", nin=NIN_A, externals={"GREG_PID": "3", "DFO_PID": "7"})),
        (IAM_PERSON, iam_person("8", nin=NIN_A_TYPO, externals={"DFO_PID": "7"})),
        (EMPLOYEE, employee("6", nin=NIN_B)),
        (POSITION, position(["7", "6"])),
        (EMPLOYEE, employee("7", stamp=NOW - timedelta(days=1))),
        (POSITION, position(["7"], NOW + timedelta(hours=1))),
    ]


class TestRestore:
    def test_restored_stage_has_the_same_assignments(self) -> None:
        """A fresh stage restored from the remembered identity states assigns every
        record as the stage that produced them."""
        original, table = stage(), Table()
        for source, record in history():
            table.feed(original, source, record)
        restored = stage()
        restored.restore(table.rows.values())
        assert restored.indexes["uio"].assignments == original.indexes["uio"].assignments

    def test_restored_stage_continues_with_the_same_events(self) -> None:
        """After a restore, the next record gives the same person events as it would have."""
        original, table = stage(), Table()
        for source, record in history():
            table.feed(original, source, record)
        restored = stage()
        restored.restore(table.rows.values())
        nxt = (GREG, greg("5", nin=NIN_B))
        assert restored.process(*nxt) == original.process(*nxt)


class TestEncoding:
    async def test_every_event_encodes_as_a_person_event(self) -> None:
        """Each event the stage emits over a history of merges, disputes and holder
        changes encodes with the PersonEvent schema."""
        pipeline = Pipeline(
            codec=SingleObjectCodec(CATALOG),
            catalog=CATALOG,
            topics=TOPICS,
            secret=SECRET,
            rule_settings=RuleSettings(),
            clock="event",
        )
        correlation = stage()
        events = [o for s, r in history() for o in correlation.process(s, r)[1]]
        assert {o.event["action"] for o in events} == {"UPSERT", "RELINK", "DETACH"}
        for out in events:
            encoded = await pipeline.encode_person_event(out.event)
            decoded = await pipeline.codec.decode(encoded, CATALOG["no.bott.hub.PersonEvent"])
            assert decoded["record_ref"] == out.event["record_ref"]


class TestFixedBugs:
    def test_older_position_version_does_not_remove_a_holder(self) -> None:
        """A position version older than the one held changes no holder."""
        correlation = stage()
        correlation.process(EMPLOYEE, employee("5", nin=NIN_A))
        correlation.process(EMPLOYEE, employee("6", nin=NIN_B))
        correlation.process(POSITION, position(["5", "6"]))
        _, events = correlation.process(POSITION, position(["5"], NOW - timedelta(days=1)))
        assert [e for e in summary(events) if e[1] != "UPSERT"] == []
        assert "source.dfo.position/300#6" in correlation.indexes["uio"].assignments

    def test_same_time_versions_end_the_same_in_correlation_and_the_view(self) -> None:
        """With equal source timestamps, the version a person view ends with is the one
        correlation links by, in either arrival order."""
        with_nin = employee("7", nin=NIN_A)
        without = employee("7")
        for order in ((with_nin, without), (without, with_nin)):
            correlation = stage()
            held = PersonView("p", "uio")
            for record in order:
                _, events = correlation.process(EMPLOYEE, record)
                for out in events:  # the record travels in an UPSERT, or a DETACH on a move
                    if out.event["record"] is not None:
                        carried = LinkedRecord(
                            out.event["record_ref"], EMPLOYEE, out.event["record"][1]
                        )
                        held = upsert_record(held, carried)
            kept = held.records["source.dfo.employee/7"].record
            identity = correlation.indexes["uio"].records["source.dfo.employee/7"]
            linked_by_nin = any(i.kind.value == "nin" for i in identity.identifiers)
            assert linked_by_nin == (kept["national_id_pseudonym"] is not None), order
