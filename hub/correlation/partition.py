"""Which partition of ``hub.identity-input`` takes an institution's records.

Correlation is keyed by institution: one partition, and so one worker, correlates all
of an institution's records. Kafka's default partitioner hashes the key (murmur2), and
four keys hash badly onto a few partitions: on 4 partitions, UiB, UiT and NTNU all
land on partition 2, so one worker correlates all three.

The institutions the hub knows (:data:`hub.rules.settings.INSTITUTIONS`) therefore take
the partitions in that list's order, spread over as many partitions as there are;
only an institution outside the list is hashed, as Kafka would. The list is only ever
appended to: moving an institution to another partition would split its correlation
state from its new records (as changing the partition count would).
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2

from hub.rules.settings import INSTITUTIONS

__all__ = ["correlation_partition", "institutions_by_partition"]


def correlation_partition(institution: str, partitions: int) -> int:
    """The partition, of ``partitions``, that correlates ``institution``'s records."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    if institution in INSTITUTIONS:
        return INSTITUTIONS.index(institution) % partitions
    # as Kafka's (and aiokafka's) default partitioner places a keyed record
    return int(murmur2(institution.encode()) & 0x7FFFFFFF) % partitions


def institutions_by_partition(partitions: int) -> dict[int, list[str]]:
    """The known institutions on each partition that takes any of them."""
    placed: dict[int, list[str]] = {}
    for institution in INSTITUTIONS:
        placed.setdefault(correlation_partition(institution, partitions), []).append(institution)
    return placed
