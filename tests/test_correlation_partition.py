"""Which partition of hub.identity-input correlates an institution's records, and what
``hub doctor`` says of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from hub.correlation.partition import correlation_partition
from hub.doctor import Status, _correlation_finding
from hub.rules.settings import INSTITUTIONS
from hub.topics import TOPICS_FILE, TopicCatalog


def kafka_default(key: str, partitions: int) -> int:
    """Where aiokafka's default partitioner (Kafka's murmur2) puts a keyed record."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(key.encode(), every, every))


def test_the_four_institutions_take_four_partitions_where_hashing_gives_two() -> None:
    """On 4 partitions, Kafka's hash puts UiB, UiT and NTNU on one partition (so one
    worker correlates three universities); in the list's order they take one each."""
    hashed = {i: kafka_default(i, 4) for i in INSTITUTIONS}
    assert len(set(hashed.values())) == 2, hashed
    placed = {i: correlation_partition(i, 4) for i in INSTITUTIONS}
    assert placed == {"uib": 0, "uio": 1, "uit": 2, "ntnu": 3}


@pytest.mark.parametrize(
    ("partitions", "expected"),
    [(1, [0, 0, 0, 0]), (2, [0, 1, 0, 1]), (3, [0, 1, 2, 0]), (8, [0, 1, 2, 3])],
)
def test_institutions_spread_over_as_many_partitions_as_there_are(
    partitions: int, expected: list[int]
) -> None:
    assert [correlation_partition(i, partitions) for i in INSTITUTIONS] == expected


def test_an_institution_outside_the_list_goes_where_kafka_would_put_it() -> None:
    for name in ("nmbu", "oslomet", "hvl", "x"):
        for partitions in (1, 4, 7):
            assert correlation_partition(name, partitions) == kafka_default(name, partitions)


def test_a_topic_without_partitions_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        correlation_partition("uio", 0)


@pytest.mark.parametrize(
    ("partitions", "status", "says"),
    [
        (4, Status.OK, "each university on a partition of its own (uib 0, uio 1, uit 2, ntnu 3)"),
        (8, Status.OK, "each university on a partition of its own"),
        (2, Status.WARNING, "uib and uit share partition 0 of hub.identity-input"),
        (3, Status.WARNING, "uib and ntnu share partition 0 of hub.identity-input"),
    ],
)
def test_the_doctor_says_whether_universities_share_a_correlation_partition(
    tmp_path: Path, partitions: int, status: Status, says: str
) -> None:
    """``hub doctor`` reads the partition count from deploy/topics.yaml and warns when
    one worker would correlate several universities, with the count that spreads them."""
    path = tmp_path / "topics.yaml"
    path.write_text(
        TOPICS_FILE.read_text().replace("  partitions: 4\n", f"  partitions: {partitions}\n", 1)
    )
    finding = _correlation_finding(TopicCatalog(path=path))
    assert finding.status is status
    assert says in finding.message
    if status is Status.WARNING:
        assert "at least 4 partitions" in finding.fix
