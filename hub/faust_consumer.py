"""faust's Kafka consumer, without the ways it loses fetched records around a seek.

faust's consumer fetches a batch of records, then hands them one by one to the
streams, remembering per partition the last offset handed over (its *read offset*). A
seek (back to the committed offsets after a rebalance or a restart, or a table's
changelog recovery) also sets the read offset. faust's loop
(``Consumer._drain_messages``) trusts the read offset even when a seek moved the
position under a batch, which loses records when a worker is killed and restarted or
a second worker joins (tests/chaos):

- a record fetched before a seek and handed over after it moves the read offset past
  the records the seek is about to fetch again; those are then dropped as "already
  read", and the partition sits idle with lag;
- the jump from the seek's offset to that stale record counts as a gap of compacted
  records, and a gap counts as acknowledged: the commit moves past records nobody has
  processed;
- when the flow is suspended (a rebalance) during a hand-over, the record is not
  handed over but the read offset still moves past it.

:class:`SeekSafeConsumer` replaces that loop. A batch that no seek or rebalance touched
is handled as faust does. In a batch that one did touch, every record is handed over
(a duplicate at worst: the hub is idempotent per record) and the read offset and the
gaps are left to the seek. A rebalance (a new generation) or a suspended flow ends the
batch: faust seeks every partition back to its committed offset before the flow
resumes, so the rest is fetched again.

One more loss sits in faust's streams: a record fetched before a rebalance and taken
from a stream's buffer during or after it is skipped *and acknowledged*; committed
before the rebalance's seek, that acknowledgement moves the group past a record nobody
processed. The consumer refuses such acknowledgements, so the record is fetched again.

And one in faust's commits. A committed offset is the *next* record to read, but faust
checks the first acknowledged record against it as if it were the last one read
(``min(acked) - committed > 1``): with the record at the committed offset not
acknowledged (set aside, or lost in a hand-over around a seek) and the ones after it
acknowledged, faust commits past it. The chaos suite caught it twice, each time one
record: an IAM account that arrived during a rebalance never reached correlation, and
the failsafe stage skipped one proposal after a restart. Here a commit stops at such a
*hole*, and the partition is fetched again from the committed offset (the hub absorbs
the duplicates). A record truly missing there (compacted away) is a gap: after a seek
the read offset is the record before the one sought, so the first fetch registers the
gap, and a gap reaches back to the committed offset itself, not one past it.

Each record set aside is counted by reason (``kill -USR1``, hub.task_dump, shows the
counts) and logged as ``consumer_record_set_aside``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any, cast

import structlog
from faust.transport.consumer import ensure_TP
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from faust.utils.functional import consecutive_numbers

__all__ = [
    "FETCH_WAIT_MS",
    "ReadOffsets",
    "SeekSafeConsumer",
    "SeekSafeTransport",
    "read_offset_after_seek",
]

log = structlog.get_logger(__name__)

_FETCHING = "FETCHING"  # faust's diagnostic flag while the consumer waits for records
_YIELD_EVERY = 100  # hand the event loop back after this many records of one batch
_REFETCH_AGAIN_AFTER_S = 10.0  # a hole still open this long is fetched again
FETCH_WAIT_MS = 100  # a worker's fetch wait unless told otherwise (see _ConsumerThread)


class ReadOffsets(dict[TP, int | None]):
    """faust's read offsets: per partition, the last offset handed over, or where a
    seek left it (None when unknown). Counts every change that is not the fetch
    loop's own hand-over (faust's seeks, its changelog recovery, a revocation)."""

    def __init__(self) -> None:
        super().__init__()
        self.moves = 0

    def __missing__(self, tp: TP) -> None:
        return None

    def __setitem__(self, tp: TP, offset: int | None) -> None:
        self.moves += 1
        super().__setitem__(tp, offset)

    def __delitem__(self, tp: TP) -> None:
        self.moves += 1
        super().__delitem__(tp)

    def pop(self, tp: TP, *default: Any) -> Any:
        self.moves += 1
        return super().pop(tp, *default)

    def update(self, *others: Any, **offsets: Any) -> None:
        self.moves += 1
        super().update(*others, **offsets)

    def handed_over(self, tp: TP, offset: int) -> None:
        """The fetch loop's own move: ``offset`` reached the streams."""
        super().__setitem__(tp, offset)


def read_offset_after_seek(offset: int | None) -> int | None:
    """The read offset (the last record handed over) after a seek to ``offset`` (the
    next record to read): the record before it. faust sets ``offset`` itself, which
    hides a record compacted away right there from the gap check."""
    return offset - 1 if offset is not None and offset >= 0 else None


class SeekSafeConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer whose fetch loop never moves the read offset past a
    record the streams did not receive, nor drops a record a seek fetches again."""

    _read_offset: ReadOffsets

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.seeking = 0  # seeks under way
        self.rebalances = 0
        self.set_aside: Counter[str] = Counter()  # records set aside to fetch again, by reason
        self._refetched: dict[tuple[TP, int], float] = {}  # holes fetched again, and when
        self._fetching_again: set[asyncio.Future[None]] = set()
        super().__init__(*args, **kwargs)

    def _reset_state(self) -> None:
        super()._reset_state()
        self._read_offset = ReadOffsets()

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _moves(self) -> tuple[int, int]:
        return self._read_offset.moves, self.rebalances

    async def perform_seek(self) -> None:
        """Seek every partition to its committed offset (as faust does), leaving the
        read offset at the record before it (see :func:`read_offset_after_seek`)."""
        self.seeking += 1
        try:
            committed: Mapping[TP, int | None] = await self.seek_to_committed()
            self._read_offset.update(
                {tp: read_offset_after_seek(offset) for tp, offset in committed.items()}
            )
            self._committed_offset.update(
                {
                    ensure_TP(tp): offset or None
                    for tp, offset in committed.items()
                    if offset is not None
                }
            )
        finally:
            self.seeking -= 1
            self._read_offset.moves += 1

    async def seek(self, partition: TP, offset: int) -> None:
        self.seeking += 1
        try:
            await self._seek(partition, offset)
            self._read_offset[ensure_TP(partition)] = read_offset_after_seek(offset)
        finally:
            self.seeking -= 1
            self._read_offset.moves += 1

    def _new_offset(self, tp: TP) -> int | None:
        """The offset a commit may move ``tp`` to: past the acknowledged records (and
        gaps) that follow the committed offset without a hole, else None."""
        acked: list[int] = self._acked[tp]
        if not acked:
            return None
        gaps = self._gap[tp]
        newest = max(acked)
        if gaps:
            reached = sorted(gaps.overlap(0, newest + 1), key=lambda gap: gap.begin)
            if reached:
                filled = [n for gap in reached for n in range(gap.begin, gap.end)]
                acked.extend(filled)
                gaps.chop(0, max(filled[-1], newest) + 1)
        acked[:] = sorted(set(acked))
        committed = self._committed_offset[tp]
        if committed is not None and acked[0] > committed:
            self._hole(tp, committed, acked[0])
            return None
        run = next(consecutive_numbers(acked))
        del acked[: len(run)]
        self._acked_index[tp].difference_update(run)
        return int(run[-1]) + 1

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Count offsets ``offset_from``..``offset_to`` as acknowledged (compacted away);
        faust starts a gap one past the committed offset, which is itself unread."""
        committed = self._committed_offset[tp]
        if committed is not None:
            offset_from = max(offset_from, committed)
        if offset_from <= offset_to:
            gaps = self._gap[tp]
            gaps.addi(offset_from, offset_to + 1)
            await asyncio.sleep(0)
            gaps.merge_overlaps()

    async def fetch_stalled(self, tp: TP, committed: int) -> None:
        """A partition this worker holds has had lag and an unmoved committed offset
        for a while (:func:`hub.consumer_lag.standing_still`): fetch it again from the
        committed offset. faust sometimes stops fetching a partition after a rebalance
        (faust-streaming #175 and #629), and nothing else would wake it."""
        if tp not in self.assignment() or tp in self._paused_partitions:
            return  # not this worker's, or resumed by faust's recovery when it is done
        if not self.app.flow_control.is_active():
            return
        self._warn("partition stalled", "consumer_partition_stalled", tp, committed)
        await self._fetch_again(tp, committed)

    def _hole(self, tp: TP, committed: int, first_acked: int) -> None:
        """The record at the committed offset is unacknowledged, later ones are: hold
        the commit and fetch the partition again from the committed offset."""
        now = time.monotonic()
        last = self._refetched.get((tp, committed))
        if last is not None and now - last < _REFETCH_AGAIN_AFTER_S:
            return
        if tp not in self.assignment():
            return
        self._refetched[(tp, committed)] = now
        self._warn(
            "commit held at a hole", "consumer_commit_hole", tp, committed, first_acked=first_acked
        )
        fetch = asyncio.ensure_future(self._fetch_again(tp, committed))
        self._fetching_again.add(fetch)
        fetch.add_done_callback(self._fetching_again.discard)

    def _warn(self, why: str, event: str, tp: TP, committed: int, **more: int) -> None:
        """Count and log a partition about to be fetched again from ``committed``."""
        self._set_aside(f"{why}, fetched again", tp, committed)
        log.warning(event, topic=tp.topic, partition=tp.partition, committed=committed, **more)

    async def _fetch_again(self, tp: TP, offset: int) -> None:
        try:
            await self.seek(tp, offset)
        except Exception as exc:  # a revoked partition: its next owner starts at the commit
            log.warning(
                "consumer_fetch_again_failed",
                topic=tp.topic,
                partition=tp.partition,
                error=str(exc),
            )

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.rebalances += 1
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self.rebalances += 1
        await super().on_partitions_assigned(assigned, generation_id)

    async def _drain_messages(self, fetcher: Any) -> None:
        """Fetch batches and hand their records to the streams until stopped."""
        try:
            while not (self._stopped.is_set() or fetcher._stopped.is_set()):
                self.diag.set_flag(_FETCHING)
                await asyncio.sleep(0)
                if not self.should_stop:
                    await self._drain_batch()
                self.diag.unset_flag(_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
            self.log.info("Broker stopped consumer, shutting down...")
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
            self.log.info("Consumer shutting down for user cancel.")
        finally:
            self.diag.unset_flag(_FETCHING)

    async def _drain_batch(self) -> None:
        """Hand over one fetched batch (up to a new generation or a suspended flow)."""
        moves = None if self.seeking else self._moves()
        handed = 0
        # faust's getmany ends the batch itself when the group's generation changes
        # while its records are handed over (it notes the generation when they arrive)
        records = cast(AsyncGenerator[tuple[TP, Any], None], self.getmany(timeout=1.0))
        async with aclosing(records) as batch:
            async for tp, message in batch:
                if not await self._hand_over(tp, message, moves):
                    return
                handed += 1
                if handed % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)

    def _untouched(self, moves: tuple[int, int] | None) -> bool:
        """Whether no seek or rebalance has moved the position since the batch was
        fetched (``moves`` then), so the read offsets belong to its fetch sequence."""
        return moves is not None and not self.seeking and self._moves() == moves

    async def _hand_over(self, tp: TP, message: Any, moves: tuple[int, int] | None) -> bool:
        """Give ``message`` to the streams; False when the rest of the batch must wait
        for the fetch after the coming seek (the flow was suspended)."""
        offset: int = message.offset
        read = self._read_offset[tp]
        if self._untouched(moves) and read is not None:
            if offset < read:
                self._set_aside("already read", tp, offset)
                return True
            if offset - read > 1 and self.app.topics.acks_enabled_for(tp.topic):
                # records between two of one fetch sequence were compacted away
                await self._add_gap(tp, read + 1, offset)
        commit_every = self._commit_every
        if commit_every is not None and self._n_acked >= commit_every:
            self._n_acked = 0
            await self.commit()
        delivery = asyncio.ensure_future(self.callback(message))
        await self.wait_first(delivery, self.suspend_flow.wait())
        if not delivery.done() or delivery.cancelled():
            self._set_aside("flow suspended while handing over", tp, offset)
            return False
        delivery.result()
        if self._untouched(moves):
            self._read_offset.handed_over(tp, offset)
        return True

    def ack(self, message: Message) -> bool:
        """Acknowledge ``message``, unless it was fetched before the group's latest
        rebalance or arrives while one is under way: faust's streams skip and
        acknowledge such records unprocessed, and a commit of that acknowledgement
        before the rebalance's seek would move the group past them for good. Refused,
        the record is fetched again from the committed offset and processed then."""
        stale = message.generation_id not in (None, self.app.consumer_generation_id)
        if stale or not self.app.flow_control.is_active():
            self._set_aside("acknowledged across a rebalance", message.tp, message.offset)
            return False
        return super().ack(message)

    def _set_aside(self, reason: str, tp: TP, offset: int) -> None:
        self.set_aside[reason] += 1
        log.info(
            "consumer_record_set_aside",
            reason=reason,
            topic=tp.topic,
            partition=tp.partition,
            offset=offset,
        )


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's consumer thread, with the transport's fetch wait.

    faust fixes aiokafka's ``fetch_max_wait_ms`` at 1,500. aiokafka leaves a partition
    whose fetched records the streams have not taken yet out of the next fetch, and
    sends no other fetch to the broker while one is in flight. A record arriving on
    such a partition waits until the fetch in flight returns: up to 1.5 s per hop of
    the pipeline (a replay's barriers of 2 s where 0.2 s is usual)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = cast(SeekSafeTransport, transport).fetch_max_wait_ms
        return consumer


class SeekSafeTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport with :class:`SeekSafeConsumer` and a shorter fetch
    wait (:class:`_ConsumerThread`)."""

    Consumer = SeekSafeConsumer
    fetch_max_wait_ms = FETCH_WAIT_MS
