"""The seek-safe fetch loop (hub.faust_consumer), batch by batch.

The fetch is a scripted batch instead of a broker: what is tested is the loop's own
bookkeeping (which records reach the streams, and where the read offset stays). The
chaos cases (tests/chaos) run the same consumer through a real broker, killed workers
and rebalances.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import faust
from faust.types import TP
from faust.types.tuples import Message

from hub.faust_consumer import SeekSafeConsumer, SeekSafeTransport, read_offset_after_seek

TOPIC = "t.source"
TP0 = TP(TOPIC, 0)


def record(offset: int) -> Message:
    return Message(TOPIC, 0, offset, 0.0, 0, None, b"k", b"v", None)


def consumer_with(
    batch: list[int], during: Callable[[SeekSafeConsumer, int], Any] | None = None
) -> tuple[SeekSafeConsumer, list[int]]:
    """A consumer whose next fetch is ``batch`` (offsets); ``during(consumer, offset)``
    runs while each record is handed over. Returns it and the offsets handed over."""
    app = faust.App("seek-safe-test", broker="kafka://127.0.0.1:1", autodiscover=False)
    app.transport = SeekSafeTransport(app.conf.broker_consumer, app)
    consumer = app.consumer
    assert isinstance(consumer, SeekSafeConsumer)
    handed: list[int] = []

    async def fetch(**_: float) -> AsyncIterator[tuple[TP, Message]]:
        for offset in batch:
            yield TP0, record(offset)

    async def callback(message: Message) -> None:
        handed.append(message.offset)
        if during is not None:
            during(consumer, message.offset)

    consumer.getmany = fetch  # type: ignore[method-assign]
    consumer.callback = callback
    return consumer, handed


async def test_a_batch_is_handed_over_in_order_and_moves_the_read_offset() -> None:
    consumer, handed = consumer_with([5, 6, 7])
    await consumer._drain_batch()
    assert handed == [5, 6, 7]
    assert consumer._read_offset[TP0] == 7
    assert not consumer.set_aside


async def test_after_a_seek_every_record_is_handed_over_and_the_read_offset_kept() -> None:
    def seek_back_at_6(consumer: SeekSafeConsumer, offset: int) -> None:
        if offset == 6:  # what perform_seek does: back to the committed offset
            consumer._read_offset[TP0] = 3

    consumer, handed = consumer_with([5, 6, 7, 8], seek_back_at_6)
    await consumer._drain_batch()
    assert handed == [5, 6, 7, 8]  # fetched again from 3 later: duplicates, not losses
    assert consumer._read_offset[TP0] == 3  # not moved past the records to fetch again
    assert not consumer._gap[TP0]  # no made-up gap to commit past
    assert not consumer.set_aside


async def test_a_batch_fetched_during_a_seek_trusts_no_read_offset() -> None:
    consumer, handed = consumer_with([3, 4, 5])
    consumer._read_offset[TP0] = 9  # the old position, before the seek lands
    consumer.seeking = 1
    await consumer._drain_batch()
    assert handed == [3, 4, 5]  # not "already read": they come from the new position
    assert consumer._read_offset[TP0] == 9  # the seek sets it when it lands
    assert not consumer.set_aside


async def test_a_record_below_the_read_offset_is_a_duplicate_and_skipped() -> None:
    consumer, handed = consumer_with([4, 5, 6])
    consumer._read_offset[TP0] = 5
    await consumer._drain_batch()
    assert handed == [5, 6]
    assert consumer.set_aside == {"already read": 1}


async def test_a_suspended_flow_cancels_the_hand_over_and_keeps_the_read_offset() -> None:
    consumer, handed = consumer_with([5, 6])
    consumer._read_offset[TP0] = 4

    async def blocked(message: Message) -> None:
        consumer.stop_flow()  # a rebalance begins while the stream's buffer is full
        await consumer.can_resume_flow.wait()

    consumer.callback = blocked
    await consumer._drain_batch()
    assert consumer._read_offset[TP0] == 4
    assert consumer.set_aside == {"flow suspended while handing over": 1}
    assert handed == []


async def test_an_acknowledgement_across_a_rebalance_is_refused() -> None:
    consumer, _ = consumer_with([])
    consumer.app.consumer_generation_id = 2
    consumer.app.flow_control.resume()  # a worker between rebalances
    old, current = record(5), record(6)
    old.generation_id, current.generation_id = 1, 2
    assert not consumer.ack(old)  # skipped by a stream: to be fetched again
    assert not old.acked
    consumer.ack(current)  # faust's own bookkeeping from here
    assert current.acked
    consumer.app.flow_control.suspend()  # a rebalance under way
    during = record(7)
    during.generation_id = 2
    assert not consumer.ack(during)
    assert not during.acked
    assert consumer.set_aside == {"acknowledged across a rebalance": 2}


def holding_tp0() -> tuple[SeekSafeConsumer, list[tuple[TP, int]]]:
    """A consumer assigned TP0 whose seeks are only recorded (returned, as they come)."""
    consumer, _ = consumer_with([])
    sought: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    consumer._seek = seek  # type: ignore[method-assign]
    consumer.assignment = lambda: {TP0}  # type: ignore[method-assign]
    return consumer, sought


def acknowledged(consumer: SeekSafeConsumer, *offsets: int) -> None:
    """As faust's ack() leaves its bookkeeping for acknowledged records of TP0."""
    consumer._acked[TP0].extend(offsets)
    consumer._acked_index[TP0].update(offsets)


async def test_a_commit_stops_at_an_unacknowledged_record_and_fetches_it_again() -> None:
    """faust would commit 28 here: the record at the committed offset (25) was never
    acknowledged, but 26 and 27 were. The commit waits, and 25 is fetched again."""
    consumer, sought = holding_tp0()
    consumer._committed_offset[TP0] = 25
    acknowledged(consumer, 26, 27)
    assert consumer._new_offset(TP0) is None
    await asyncio.sleep(0)  # the seek runs as a task of its own
    assert sought == [(TP0, 25)]
    assert consumer._read_offset[TP0] == 24  # so 25 is handed over again, not "already read"
    assert consumer.set_aside == {"commit held at a hole, fetched again": 1}
    assert consumer._new_offset(TP0) is None  # still held, and not fetched again at once
    assert sought == [(TP0, 25)]
    acknowledged(consumer, 25)  # fetched again and processed
    assert consumer._new_offset(TP0) == 28


async def test_a_record_compacted_away_at_the_committed_offset_is_a_gap_not_a_hole() -> None:
    """After a seek to 25, the fetch starts at 27 (25 and 26 compacted away): the gap
    from 25 is committed past; nothing is fetched again."""
    consumer, handed = consumer_with([27, 28])
    consumer.app.topics.acks_enabled_for = lambda topic: True  # type: ignore[method-assign]
    consumer._committed_offset[TP0] = 25
    consumer._read_offset[TP0] = read_offset_after_seek(25)
    await consumer._drain_batch()
    assert handed == [27, 28]
    acknowledged(consumer, 27, 28)
    assert consumer._new_offset(TP0) == 29
    assert not consumer.set_aside


def test_a_seek_leaves_the_read_offset_at_the_record_before() -> None:
    assert read_offset_after_seek(25) == 24
    assert read_offset_after_seek(0) == -1  # the first record of a partition is unread
    assert read_offset_after_seek(None) is None


async def test_a_stalled_partition_of_this_worker_is_fetched_again() -> None:
    consumer, sought = holding_tp0()
    consumer.app.flow_control.resume()
    await consumer.fetch_stalled(TP(TOPIC, 1), 7)  # another worker's partition
    consumer._paused_partitions.add(TP0)  # faust's recovery resumes it when it is done
    await consumer.fetch_stalled(TP0, 7)
    assert sought == []
    consumer._paused_partitions.clear()
    await consumer.fetch_stalled(TP0, 7)
    assert sought == [(TP0, 7)]
    assert consumer._read_offset[TP0] == 6
    assert consumer.set_aside == {"partition stalled, fetched again": 1}
