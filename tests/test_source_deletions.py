"""A record deleted at its source: a tombstone with deletion headers on the source topic.

Correlation forgets the record and tells its person (DETACH without a new owner);
records that were held together only through it part again; a tombstone that does
not say what was deleted is a dead letter, not a guess.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.avro.codec import SingleObjectCodec
from hub.errors import MappingError
from hub.pipeline import IDENTITY_EVENT, Pipeline
from hub.reference import deleted_keys, keys_for
from hub.rules import RuleSettings
from hub.source_deletion import SourceDeletion, deletion_of
from tests.test_correlation_stage import (
    CATALOG,
    EMPLOYEE,
    GREG,
    IAM_PERSON,
    NIN_A,
    NOW,
    POSITION,
    SECRET,
    TOPICS,
    Table,
    employee,
    greg,
    iam_person,
    position,
    stage,
    summary,
)

LATER = NOW + timedelta(hours=1)


class TestTheHeaders:
    def test_a_deletion_travels_in_two_headers(self) -> None:
        deletion = SourceDeletion("uio", "123")
        assert deletion_of(deletion.headers()) == deletion
        assert deletion_of(dict(deletion.headers())) == deletion

    @pytest.mark.parametrize(
        "headers",
        [
            None,
            [],
            [("hub.deleted.institution", b"uio")],
            [("hub.deleted.source-id", b"7")],
            [("hub.deleted.institution", b" "), ("hub.deleted.source-id", b"7")],
        ],
    )
    def test_headers_that_do_not_name_a_record_are_no_deletion(self, headers: object) -> None:
        assert deletion_of(headers) is None


class TestCorrelationForgets:
    def test_the_person_hears_detach_and_the_state_is_forgotten(self) -> None:
        correlation, table = stage(), Table()
        (upsert,) = table.feed(correlation, IAM_PERSON, iam_person("9", nin=NIN_A))
        states, events = correlation.process_deletion(IAM_PERSON, "uio", "9", LATER)
        assert summary(events) == [(upsert.person_key, "DETACH", "source.iam.person/9", None, None)]
        assert events[0].event["event_time"] == LATER
        assert events[0].event["assignment_seq"] > upsert.event["assignment_seq"]
        assert states == [("source.iam.person/9", None)]

    def test_records_joined_only_through_the_deleted_one_part(self) -> None:
        """An IAM person linked a guest and an employee; when it goes, the guest moves
        back to a person of its own."""
        correlation = stage()
        correlation.process(GREG, greg("3", passport="P123"))
        correlation.process(EMPLOYEE, employee("7", nin=NIN_A))
        merged = correlation.process(
            IAM_PERSON, iam_person("9", nin=NIN_A, externals={"GREG_PID": "3", "DFO_PID": "7"})
        )[1][-1].person_key
        _, events = correlation.process_deletion(IAM_PERSON, "uio", "9", LATER)
        actions = {(e[1], e[2]) for e in summary(events)}
        assert ("DETACH", "source.iam.person/9") in actions
        (moved,) = [e for e in summary(events) if e[2] == "source.greg.person/3"]
        assert moved[0] == merged
        assert moved[1] == "DETACH"
        assert moved[4] is not None
        assert moved[4] != merged

    def test_a_deleted_position_detaches_every_holder(self) -> None:
        correlation = stage()
        correlation.process(EMPLOYEE, employee("7"))
        correlation.process(EMPLOYEE, employee("8"))
        correlation.process(POSITION, position(["7", "8"]))
        states, events = correlation.process_deletion(POSITION, "uio", "300", LATER)
        detached = sorted(e[2] for e in summary(events) if e[1] == "DETACH")
        assert len(detached) == 2
        assert all(ref.startswith("source.dfo.position/300") for ref in detached)
        forgotten = sorted(ref for ref, state in states if state is None)
        assert forgotten == [r for r, _ in states if r.startswith("source.dfo.position/300")]
        assert len(forgotten) >= 2

    def test_a_record_never_seen_changes_nothing(self) -> None:
        states, events = stage().process_deletion(IAM_PERSON, "uio", "404", LATER)
        assert events == []
        assert states == [("source.iam.person/404", None)]


def _pipeline() -> Pipeline:
    return Pipeline(
        codec=SingleObjectCodec(CATALOG),
        catalog=CATALOG,
        topics=TOPICS,
        secret=SECRET,
        rule_settings=RuleSettings(),
        clock="event",
    )


class TestRoute:
    async def test_a_tombstone_with_headers_becomes_a_deletion_event(self) -> None:
        pipeline = _pipeline()
        topic = TOPICS.name("source.iam.person")
        institution, value = await pipeline.route(
            topic, None, SourceDeletion("uib", "9").headers(), LATER
        )
        assert institution == "uib"
        event = await pipeline.codec.decode(value, CATALOG[IDENTITY_EVENT])
        assert event["record"] is None
        assert event["deleted_source_id"] == "9"
        assert event["deleted_at"] == LATER

    async def test_a_bare_tombstone_is_refused_naming_the_headers(self) -> None:
        with pytest.raises(MappingError, match=r"hub\.deleted\.institution"):
            await _pipeline().route(TOPICS.name("source.iam.person"), None, [], LATER)

    async def test_route_then_correlate_forgets_the_record(self) -> None:
        pipeline = _pipeline()
        correlation = pipeline.new_stage()
        topic = TOPICS.name("source.iam.person")
        record = iam_person("9", nin=NIN_A)
        encoded = await pipeline.codec.encode(topic, CATALOG["no.bott.hub.iam.Person"], record)
        _, value = await pipeline.route(topic, encoded)
        await pipeline.correlate(correlation, value)
        _, deletion = await pipeline.route(topic, None, SourceDeletion("uio", "9").headers(), LATER)
        states, events = await pipeline.correlate(correlation, deletion)
        assert states == [("source.iam.person/9", None)]
        (person_event,) = events
        decoded = await pipeline.codec.decode(person_event[1], CATALOG["no.bott.hub.PersonEvent"])
        assert decoded["action"] == "DETACH"
        assert decoded["moved_to"] is None


class TestReferenceData:
    def test_an_orgreg_unit_is_forgotten_under_every_key(self) -> None:
        unit = {
            "ou_id": "42",
            "external_keys": [{"source_system": "dfo_sap", "type": "dfo_org_id", "value": "5000"}],
        }
        table = {k.encode(): {"record": unit} for k in keys_for("source.orgreg.orgunit", unit)}
        assert deleted_keys("source.orgreg.orgunit", "42", table) == [
            "orgreg-by-dfo:5000",
            "orgreg:42",
        ]
        assert deleted_keys("source.dfo.orgunit", "5000", table) == ["dfo:5000"]
