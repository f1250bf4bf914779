"""The Unit4 connectors: what the ObjectAPI's answers mean, the checkpoint that re-delivers
nothing in the overlap (with property tests of its parsing), and the conformance kit
through the real Kafka broker and schema registry, against the fake ObjectAPI."""

from __future__ import annotations

import doctest
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.sdk.errors import ConnectorError, SourceUnavailableError
from connectors.sdk.http import Found, Refused, Response
from connectors.testing.conformance import ConnectorConformance
from connectors.unit4 import checkpoint
from connectors.unit4.checkpoint import MAX_RECENT, PollState, decode_state, encode_state
from connectors.unit4.connector import (
    Unit4ApproverRoleConnector,
    Unit4Connector,
    Unit4ResourceConnector,
    Unit4Settings,
    classify,
)
from connectors.unit4.fake_server import Unit4Source, unit4_source
from connectors.unit4.polling import PollCursor, encode_cursor
from hub.errors import MappingError

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
OVERLAP = timedelta(minutes=2)
PROBLEM_404 = {"type": "x", "title": "Not Found", "status": 404, "detail": "No endpoint."}


def _answer(status: int, body: object) -> Response:
    return Response(
        "http://unit4/v1/objects/resources", status, "application/json", json.dumps(body).encode()
    )


class TestAnswers:
    def test_every_404_is_a_fault_never_a_deletion(self) -> None:
        """The ObjectAPI only lists: its own 404 and a gateway's are both retried."""
        for body in (PROBLEM_404, {"message": "No context-path matches the request URI."}):
            with pytest.raises(SourceUnavailableError, match="404"):
                classify(_answer(404, body))

    @pytest.mark.parametrize(("status", "hint"), [(503, "503"), (429, "429"), (401, "TOKEN")])
    def test_passing_faults(self, status: int, hint: str) -> None:
        """5xx, 429 and auth failures are retried (auth with the variable to check)."""
        with pytest.raises(SourceUnavailableError, match=hint):
            classify(_answer(status, {}))

    def test_found_and_refused(self) -> None:
        """200 is the page; a 400 (a query Unit4 cannot read) refuses the request."""
        assert classify(_answer(200, [])) == Found(b"[]")
        assert isinstance(classify(_answer(400, {"status": 400})), Refused)

    async def test_unusable_checkpoint_fails_loudly(self) -> None:
        """A checkpoint that is not Unit4's fails the run instead of polling from scratch."""
        connector = Unit4ResourceConnector(
            Unit4Settings(base_url="http://127.0.0.1:9/", token="t", company_id="UH")
        )
        with pytest.raises(ConnectorError, match="checkpoint"):
            await anext(connector.changes("not a checkpoint"))


class TestPollState:
    def test_late_position_is_remembered_without_moving_the_cursor(self) -> None:
        """A document read in the overlap, older than the cursor, joins what was delivered
        but the cursor stays at the newest position."""
        state = (
            PollState().after((AT, "9"), OVERLAP).after((AT - timedelta(seconds=30), "5"), OVERLAP)
        )
        assert state.cursor == PollCursor(AT, "9")
        assert state.delivered((AT - timedelta(seconds=30), "5"))
        assert not state.delivered((AT - timedelta(seconds=31), "5"))

    def test_positions_older_than_the_overlap_are_forgotten(self) -> None:
        """Only positions a new cycle reads again are kept, so the checkpoint stays small."""
        state = PollState().after((AT, "1"), OVERLAP).after((AT + OVERLAP * 2, "2"), OVERLAP)
        assert state.recent == frozenset({(AT + OVERLAP * 2, "2")})

    def test_start_rewinds_by_the_overlap_or_not_at_all(self) -> None:
        """A cycle starts the overlap before the cursor, inclusive; with no overlap, just
        after it."""
        state = PollState().after((AT, "1"), OVERLAP)
        assert state.start(OVERLAP) == PollCursor(AT - OVERLAP, None)
        assert state.start(timedelta(0)) == PollCursor(AT, "1")

    def test_a_bulk_update_keeps_at_most_max_recent(self) -> None:
        """More changes in the overlap than MAX_RECENT keep the newest (the rest are read
        again, never lost)."""
        state = PollState()
        for n in range(MAX_RECENT + 5):
            state = state.after((AT, f"{n:06d}"), OVERLAP)
        assert len(state.recent) == MAX_RECENT
        assert state.delivered((AT, f"{MAX_RECENT + 4:06d}"))

    def test_microseconds_are_kept_as_milliseconds(self) -> None:
        """A position survives its checkpoint string, which holds milliseconds."""
        moment = AT + timedelta(microseconds=123_456)
        state = decode_state(encode_state(PollState().after((moment, "1"), OVERLAP)))
        assert state.delivered((moment, "1"))

    def test_a_plain_cursor_is_a_checkpoint_too(self) -> None:
        """The cursor's own encoding (no ``recent``) reads as a state with nothing recent."""
        assert decode_state(encode_cursor(PollCursor(AT, "7"))) == PollState(PollCursor(AT, "7"))

    @pytest.mark.parametrize(
        "checkpoint",
        [
            "",
            "[]",
            '{"updatedAt": null}',
            '{"updatedAt": null, "key": "1"}',
            '{"updatedAt": null, "key": null, "recent": [["2026-11-20T08:00:00Z", "1"]]}',
            '{"updatedAt": "2026-11-20T08:00:00Z", "key": "1", "recent": [["x", "1"]]}',
            '{"updatedAt": "2026-11-20T08:00:00Z", "key": "1", "recent": {}}',
            '{"updatedAt": "2026-11-20T08:00:00Z", "key": "1", "other": 1}',
        ],
    )
    def test_bad_checkpoints_are_refused(self, checkpoint: str) -> None:
        """Anything but a state raises MappingError."""
        with pytest.raises(MappingError, match="Unit4 checkpoint"):
            decode_state(checkpoint)

    @settings(max_examples=200, deadline=None)
    @given(
        st.text(max_size=200)
        | st.builds(
            json.dumps,
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(
                        st.sampled_from(["updatedAt", "key", "recent", "x"]), inner, max_size=4
                    )
                ),
                max_leaves=10,
            ),
        )
    )
    def test_any_checkpoint_reads_as_a_state_or_refuses(self, checkpoint: str) -> None:
        """Whatever is stored, decoding gives a state or a MappingError, nothing else."""
        try:
            state = decode_state(checkpoint)
        except MappingError:
            return
        assert decode_state(encode_state(state)) == state

    @settings(max_examples=100, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.integers(-(10**6), 10**6), st.text("0123456789AB-", min_size=1, max_size=8)
            ),
            max_size=30,
        )
    )
    def test_any_delivery_history_round_trips(self, positions: list[tuple[int, str]]) -> None:
        """A state built from any deliveries survives its checkpoint string, and every
        position it remembers is within the overlap before the cursor."""
        state = PollState()
        for millis, key in positions:
            state = state.after((AT + timedelta(milliseconds=millis), key), OVERLAP)
        assert decode_state(encode_state(state)) == state
        if state.cursor.updated_at is not None:
            assert all(at >= state.cursor.updated_at - OVERLAP for at, _ in state.recent)


class Unit4Conformance(ConnectorConformance):
    """The kit over a fake ObjectAPI (pages of two documents, so paging is exercised)."""

    connector_class: ClassVar[type[Unit4Connector]]

    @pytest.fixture
    async def source(self) -> AsyncIterator[Unit4Source]:
        async with unit4_source(self.connector_class.endpoint) as source:
            yield source


def test_module_examples_hold() -> None:
    """The examples in the checkpoint module's docstring hold."""
    result = doctest.testmod(checkpoint)
    assert (result.attempted > 0, result.failed) == (True, 0)


@pytest.mark.kafka
@pytest.mark.registry
class TestUnit4ResourceConformance(Unit4Conformance):
    connector_class = Unit4ResourceConnector


@pytest.mark.kafka
@pytest.mark.registry
class TestUnit4ApproverRoleConformance(Unit4Conformance):
    connector_class = Unit4ApproverRoleConnector
