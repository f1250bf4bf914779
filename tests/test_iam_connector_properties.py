"""Property tests for what the Greg, Cerebrum and Felles IAM connectors read besides the
source's records: their checkpointed cursors, the answers that mean "gone", and batches
of notifications (each object fetched once, whatever the mix)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.cerebrum.connector import (
    CerebrumPersonConnector,
    CerebrumSettings,
    Recheck,
    read_schedule,
    write_schedule,
)
from connectors.cerebrum.connector import (
    _not_found as cerebrum_not_found,
)
from connectors.cerebrum.notifications import Action, Change
from connectors.felles_iam.connector import _not_found as felles_iam_not_found
from connectors.felles_iam.connector import read_cursor, write_cursor
from connectors.greg.connector import (
    RESPONSE_FOR_HEADER,
    GregPersonConnector,
    GregSettings,
)
from connectors.greg.connector import _not_found as greg_not_found
from connectors.sdk.amqp import Notification
from connectors.sdk.http import Response
from connectors.sdk.items import Checkpoint, Delete, Failed, Item

PROPERTY = settings(max_examples=100, deadline=None)
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
changes = st.one_of(
    st.builds(
        Change,
        st.just("persons"),
        st.integers(0, 10**12).map(str),
        st.sampled_from(list(Action)),
    ),
    st.builds(
        Change,
        st.just("accounts"),
        st.from_regex(r"[a-z][a-z0-9._-]{0,20}", fullmatch=True),
        st.sampled_from(list(Action)),
    ),
)
rechecks = st.builds(Recheck, moments.map(lambda m: m.replace(microsecond=0)), changes)


class TestCursors:
    @PROPERTY
    @given(st.lists(rechecks, max_size=20))
    def test_schedule_round_trip(self, schedule: list[Recheck]) -> None:
        """Cerebrum's schedule comes back from its cursor as it was, by due time."""
        assert read_schedule(write_schedule(schedule)) == sorted(schedule, key=Recheck.order)

    @PROPERTY
    @given(
        st.one_of(
            st.text(max_size=200),
            st.builds(
                json.dumps,
                st.lists(
                    st.lists(st.integers() | st.text(max_size=5) | st.none(), max_size=5),
                    max_size=4,
                ).map(lambda e: {"recheck": e}),
            ),
        )
    )
    def test_any_schedule_cursor_is_read_or_dropped(self, cursor: str) -> None:
        """Any text as a cursor is a schedule (possibly empty), never an exception."""
        found = read_schedule(cursor)
        assert found == sorted(found, key=Recheck.order)
        assert all(r.change.resource in ("persons", "accounts") for r in found)

    @PROPERTY
    @given(moments)
    def test_polling_cursor_round_trip(self, moment: datetime) -> None:
        """Felles IAM's polling cursor keeps the time to the second, in UTC."""
        assert read_cursor(write_cursor(moment)) == moment.replace(microsecond=0)

    @PROPERTY
    @given(st.text(max_size=60))
    def test_any_polling_cursor_is_a_time_or_none(self, cursor: str) -> None:
        found = read_cursor(cursor)
        assert found is None or found.utcoffset() == timedelta(0)


def _response(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response("http://source/x", 404, "application/json", body, headers or {})


bodies = st.one_of(
    st.binary(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    ).map(lambda value: json.dumps(value).encode()),
)


class TestOwnNotFound:
    @PROPERTY
    @given(bodies)
    def test_only_greg_itself_says_gone(self, body: bytes) -> None:
        """Without Greg's header no 404 is Greg's; with it every one is."""
        assert greg_not_found(_response(body)) is None
        assert greg_not_found(_response(body, {RESPONSE_FOR_HEADER: "/v1/persons/1"})) is not None

    @PROPERTY
    @given(bodies)
    def test_cerebrum_gone_only_with_its_message(self, body: bytes) -> None:
        found = cerebrum_not_found(_response(body))
        assert found is None or found.startswith("No such ")

    @PROPERTY
    @given(bodies)
    def test_felles_iam_gone_only_with_a_scim_error(self, body: bytes) -> None:
        if felles_iam_not_found(_response(body)) is not None:
            payload = json.loads(body)
            assert "urn:ietf:params:scim:api:messages:2.0:Error" in payload["schemas"]


# -- batches ------------------------------------------------------------------------------


async def _ack() -> None:
    return None


def _greg_event(number: int, person: int | None, kind: str) -> bytes:
    data = {} if person is None else {"person_id": person}
    return json.dumps(
        {"id": number, "source": "greg:uio:test", "type": kind, "data": data}
    ).encode()


greg_messages = st.lists(
    st.one_of(
        st.builds(
            _greg_event,
            st.integers(1, 10**6),
            st.none() | st.integers(1, 8),
            st.sampled_from(
                ["person.update", "person_role.add", "person.delete", "orgunit.update"]
            ),
        ),
        st.binary(max_size=40),
    ),
    max_size=25,
)


class _Recorded:
    """A connector's fetches, recorded instead of sent."""

    def __init__(self) -> None:
        self.fetched: list[str] = []

    async def fetch(self, path: str, mapper: Any, *, key: str, origin: str) -> Item:
        self.fetched.append(key)
        return Checkpoint()


def _batch(bodies: Sequence[bytes], routing_key: str = "person.update") -> list[Notification]:
    return [Notification(body, routing_key, "application/json", False, _ack) for body in bodies]


class TestBatches:
    @PROPERTY
    @given(greg_messages)
    def test_greg_fetches_each_guest_once(self, messages: list[bytes]) -> None:
        """Whatever a batch holds, each guest it names is fetched once (or deleted, after
        person.delete), and every unreadable message is a dead letter of its own."""
        connector = GregPersonConnector(
            GregSettings(base_url="http://greg.invalid/", institution="uio")
        )
        recorded = _Recorded()
        connector.fetch = recorded.fetch  # type: ignore[method-assign]
        items = asyncio.run(connector.on_batch(_batch(messages)))
        deleted = [i.key for i in items if isinstance(i, Delete)]
        assert sorted(recorded.fetched + deleted) == sorted(set(recorded.fetched + deleted))
        assert sum(isinstance(i, Failed) for i in items) <= len(messages)
        for message in messages:
            if b'"person_id"' in message and b'"person.delete"' in message:
                person = str(json.loads(message)["data"]["person_id"])
                assert person in deleted
                assert person not in recorded.fetched

    @PROPERTY
    @given(st.lists(st.tuples(st.integers(1, 6), st.integers(-5, 5)), max_size=15))
    def test_cerebrum_acts_only_on_events_due(self, events: list[tuple[int, int]]) -> None:
        """An event due now is acted on, one not due yet goes into the cursor (and comes
        back from it); the batch always ends with that cursor."""
        now = datetime.now(UTC)
        bodies = []
        for number, (person, hours) in enumerate(events):
            body: dict[str, Any] = {
                "jti": f"e{number}",
                "eventUris": ["urn:ietf:params:event:SCIM:modify"],
                "iat": int(now.timestamp()),
                "iss": "cerebrum",
                "sub": f"https://cerebrum/v1/persons/{person}",
                "resourceType": "persons",
            }
            if hours:
                body["nbf"] = int((now + timedelta(hours=hours)).timestamp())
            bodies.append(json.dumps(body).encode())
        connector = CerebrumPersonConnector(
            CerebrumSettings(base_url="http://cerebrum.invalid/", institution="uio")
        )
        fetched: list[str] = []

        async def fetch_person(person_id: str) -> Item:
            fetched.append(person_id)
            return Checkpoint()

        connector.fetch_person = fetch_person  # type: ignore[method-assign]
        connector.resume(None)
        items = asyncio.run(
            connector.on_batch(_batch(bodies, "no.uio.cerebrum.scim.persons.modify"))
        )
        due = {str(person) for person, hours in events if hours <= 0}
        later = sorted(str(person) for person, hours in events if hours > 0)
        assert sorted(fetched) == sorted(due)
        last = items[-1]
        assert isinstance(last, Checkpoint)
        assert sorted(r.change.entity_id for r in read_schedule(last.cursor)) == later
