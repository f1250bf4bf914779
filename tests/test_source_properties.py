"""Property tests for the Greg, Cerebrum and Felles IAM parts: hostile input is refused cleanly.

For any JSON (arbitrary, or a golden payload with one value replaced, removed or
truncated) each mapping returns records that validate against their Avro schema,
or raises :class:`MappingError`; and no national ID, passport number or private
mobile from the golden payloads ever appears in a record. Each message parser
reads any body (and any bytes) as a message or raises :class:`MappingError`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.cerebrum.mapping import AccountBodies, PersonBodies, map_account, map_person
from connectors.cerebrum.notifications import parse_event as parse_cerebrum_event
from connectors.felles_iam.mapping import map_user
from connectors.felles_iam.notifications import parse_notification
from connectors.greg.mapping import map_person as map_greg_person
from connectors.greg.notifications import parse_event as parse_greg_event
from hub.errors import MappingError
from tests.source_checks import FETCHED_AT, SECRET, assert_avro, json_values, load, maps_or_refuses
from tests.source_checks import spoiled as spoiled_from

SETTINGS: dict[str, Any] = {"secret": SECRET, "fetched_at": FETCHED_AT}
PRIVATE_VALUES = ("15059912345", "01017012345", "C01X00T47", "FK1234567", "99887766", "+4790000099")
ACCOUNT = "no.bott.hub.iam.Account"


def greg(payload: object) -> dict[str, object]:
    """A Greg person body mapped."""
    return map_greg_person(payload, institution="uio", **SETTINGS)


def _responses(payload: object) -> dict[str, object]:
    if not isinstance(payload, dict):
        raise MappingError("the recorded responses are not a mapping")
    return payload


def cerebrum_person(payload: object) -> dict[str, object]:
    """Cerebrum person 5501 mapped from responses by path."""
    bodies = PersonBodies.from_responses("5501", _responses(payload))
    return map_person(bodies, institution="uio", feide_realm="uio.no", **SETTINGS)


def cerebrum_account(payload: object) -> dict[str, object]:
    """Cerebrum account kno012 and its owner mapped from responses by path."""
    bodies = AccountBodies.from_responses("kno012", _responses(payload), "5501")
    return map_account(bodies, institution="uio", feide_realm="uio.no", **SETTINGS)


def felles_iam(payload: object) -> dict[str, object]:
    """A SCIM User mapped: the account, once the person (if any) is checked too."""
    records = map_user(payload, institution="uib", **SETTINGS)
    if records.person is not None:
        assert_avro(records.person, "no.bott.hub.iam.Person")
        assert_private_values_absent(repr(records.person))
    return records.account


MAPPINGS = [
    pytest.param(
        greg, ("greg", "person_guest_researcher.json"), "no.bott.hub.greg.Person", id="greg"
    ),
    pytest.param(
        greg, ("greg", "person_unregistered.json"), "no.bott.hub.greg.Person", id="greg-2"
    ),
    pytest.param(
        cerebrum_person,
        ("cerebrum", "person_employee.json"),
        "no.bott.hub.iam.Person",
        id="cerebrum",
    ),
    pytest.param(
        cerebrum_account, ("cerebrum", "account_primary.json"), ACCOUNT, id="cerebrum-account"
    ),
    pytest.param(felles_iam, ("felles_iam", "user_guest.json"), ACCOUNT, id="felles-iam"),
    pytest.param(felles_iam, ("felles_iam", "user_employee.json"), ACCOUNT, id="felles-iam-2"),
]


def assert_private_values_absent(text: str) -> None:
    """No national ID, passport number or private mobile of the golden payloads is in ``text``."""
    for value in PRIVATE_VALUES:
        assert value not in text


@pytest.mark.parametrize(("mapper", "golden", "schema"), MAPPINGS)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_spoiled_golden_payloads(
    mapper: Callable[[object], dict[str, object]],
    golden: tuple[str, str],
    schema: str,
    data: st.DataObject,
) -> None:
    """A golden payload with any one value changed maps validly, or is refused."""
    payload = data.draw(spoiled_from(load(*golden)))
    record = maps_or_refuses(mapper, payload, schema)
    assert_private_values_absent(repr(record))


@pytest.mark.parametrize(("mapper", "golden", "schema"), MAPPINGS[::2])
@settings(max_examples=150, deadline=None)
@given(payload=json_values())
def test_arbitrary_json(
    mapper: Callable[[object], dict[str, object]],
    golden: tuple[str, str],
    schema: str,
    payload: object,
) -> None:
    """Arbitrary JSON never makes a mapping fail in any other way than MappingError."""
    maps_or_refuses(mapper, payload, schema)


# --- messages ---

MessageParser = Callable[[str, bytes], object]


def greg_event(_: str, body: bytes) -> object:
    """Greg's events have no routing key the parser reads."""
    return parse_greg_event(body)


def _golden_messages() -> list[tuple[str, str, Any]]:
    greg_events = [("", json.dumps(event), "greg") for event in load("greg", "events.json")]
    cerebrum = [
        (m["routing_key"], json.dumps(m["body"]), "cerebrum")
        for m in load("cerebrum", "events.json")
    ]
    felles = [
        (m["routing_key"], json.dumps(m["body"]), "felles")
        for m in load("felles_iam", "notifications.json")
    ]
    return greg_events + cerebrum + felles


MESSAGES = _golden_messages()
PARSERS: dict[str, MessageParser] = {
    "greg": greg_event,
    "cerebrum": parse_cerebrum_event,
    "felles": parse_notification,
}


def parses_or_refuses(kind: str, key: str, body: bytes) -> None:
    """The parser of ``kind`` reads the message or raises MappingError: nothing else."""
    with contextlib.suppress(MappingError):
        PARSERS[kind](key, body)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(MESSAGES), st.text(max_size=12), json_values())
def test_spoiled_messages(message: tuple[str, str, str], field: str, value: object) -> None:
    """A golden message with one field replaced is a message or refused with MappingError."""
    key, text, kind = message
    body = json.loads(text)
    body[field or "id"] = value
    parses_or_refuses(kind, key, json.dumps(body).encode())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MESSAGES), json_values())
def test_arbitrary_message_bodies(message: tuple[str, str, str], payload: object) -> None:
    """Any JSON body under a real routing key is a message or refused with MappingError."""
    key, _, kind = message
    parses_or_refuses(kind, key, json.dumps(payload).encode())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(PARSERS)), st.text(max_size=60), st.binary(max_size=200))
def test_arbitrary_keys_and_bytes(kind: str, key: str, body: bytes) -> None:
    """Any routing key and bytes are a message or refused with MappingError."""
    parses_or_refuses(kind, key, body)
