"""Property tests of correlation: the same records in any arrival order, with
duplicates and stale versions, over any split between institutions, give the same
persons, links and disputes."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.correlation.identifiers import Identifier, Kind
from hub.correlation.index import IdentityIndex
from hub.correlation.resolve import LinkStatus, RecordIdentity, resolve

KINDS = [Kind.NIN, Kind.DNR, Kind.DFO, Kind.GREG, Kind.IAM, Kind.PASSPORT, Kind.USERNAME]


@dataclass(frozen=True)
class Version:
    record: RecordIdentity
    timestamp: int


identifiers = st.builds(Identifier, st.sampled_from(KINDS), st.sampled_from(["a", "b", "c", "d"]))


@st.composite
def histories(draw: st.DrawFn) -> list[Version]:
    """Several source records, each with one to three versions over time."""
    versions = []
    for n in range(draw(st.integers(1, 12))):
        ref = f"source.{draw(st.sampled_from(['dfo.employee', 'iam.person', 'greg.person']))}/{n}"
        linking = draw(st.booleans()) or n % 3 != 0
        stamps = draw(st.lists(st.integers(0, 50), min_size=1, max_size=3, unique=True))
        for stamp in stamps:
            ids = draw(st.frozensets(identifiers, min_size=1, max_size=4))
            versions.append(Version(RecordIdentity(ref, ids, linking), stamp))
    return versions


def latest(versions: list[Version]) -> list[RecordIdentity]:
    """What the source systems hold in the end: the newest version of each record."""
    index = IdentityIndex()
    for v in sorted(versions, key=lambda v: v.timestamp):
        index.upsert(v.record, v.timestamp)
    return list(index.records.values())


def replay(versions: list[Version], order: random.Random, duplicates: int) -> IdentityIndex:
    """Feed versions in a shuffled order with some delivered twice; also keep a
    downstream person store up to date from the reported changes and check it."""
    feed = list(versions) + [order.choice(versions) for _ in range(duplicates)]
    order.shuffle(feed)
    index = IdentityIndex()
    downstream: dict[str, Identifier] = {}
    for v in feed:
        for change in index.upsert(v.record, v.timestamp) or []:
            if change.after is None:
                downstream.pop(change.ref, None)
            else:
                downstream[change.ref] = change.after.anchor
    assert downstream == {ref: a.anchor for ref, a in index.assignments.items()}, (
        "the reported changes rebuild exactly the final assignment"
    )
    return index


class TestDeterminism:
    @settings(max_examples=300, deadline=None)
    @given(histories(), st.randoms(use_true_random=False), st.integers(0, 6))
    def test_any_arrival_order_gives_the_resolution_of_the_final_records(
        self, versions: list[Version], order: random.Random, duplicates: int
    ) -> None:
        """Incremental updates in any order end where resolving the final set ends."""
        index = replay(versions, order, duplicates)
        assert index.assignments == resolve(latest(versions)).assignments

    @settings(max_examples=200, deadline=None)
    @given(histories(), st.randoms(use_true_random=False), st.randoms(use_true_random=False))
    def test_two_arrival_orders_agree(
        self, versions: list[Version], first: random.Random, second: random.Random
    ) -> None:
        """Two shuffles with duplicates give identical persons, statuses and evidence."""
        assert replay(versions, first, 3).assignments == replay(versions, second, 5).assignments

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(histories(), min_size=2, max_size=3),
        st.randoms(use_true_random=False),
    )
    def test_institutions_are_independent_however_they_are_interleaved(
        self, per_institution: list[list[Version]], order: random.Random
    ) -> None:
        """Interleaving the institutions' records (as partitions do) changes nothing:
        each institution's index equals the one it has alone."""
        tagged = [(i, v) for i, versions in enumerate(per_institution) for v in versions]
        order.shuffle(tagged)
        indexes = [IdentityIndex() for _ in per_institution]
        for i, v in tagged:
            indexes[i].upsert(v.record, v.timestamp)
        for i, versions in enumerate(per_institution):
            assert indexes[i].assignments == resolve(latest(versions)).assignments


class TestResolutionInvariants:
    @settings(max_examples=300, deadline=None)
    @given(histories())
    def test_no_person_mixes_exclusive_values_that_no_record_joins(
        self, versions: list[Version]
    ) -> None:
        """A person has two values of an exclusive kind (two national IDs, two employee
        numbers) only when some record of that person asserts two values itself.
        (Attached records, such as payroll results, only point at a person.)"""
        records = {r.ref: r for r in latest(versions)}
        resolution = resolve(records.values())
        for all_refs in resolution.persons().values():
            refs = [ref for ref in all_refs if records[ref].linking]
            for kind in (Kind.NIN, Kind.DNR, Kind.DFO, Kind.GREG, Kind.IAM):
                per_record = [
                    {i.value for i in records[ref].identifiers if i.kind is kind} for ref in refs
                ]
                if all(len(v) <= 1 for v in per_record):
                    assert len(set().union(*per_record)) <= 1, (kind, refs)

    @settings(max_examples=300, deadline=None)
    @given(histories())
    def test_every_record_is_placed_and_disputes_name_their_candidates(
        self, versions: list[Version]
    ) -> None:
        """Each record gets a person; a disputed one lists candidates and conflicts, and
        is never on a candidate's person."""
        records = latest(versions)
        resolution = resolve(records)
        assert set(resolution.assignments) == {r.ref for r in records}
        for assignment in resolution.assignments.values():
            if assignment.status is LinkStatus.DISPUTED:
                assert assignment.candidates
                assert assignment.conflicts
                assert assignment.anchor not in assignment.candidates
