"""Tests for Cerebrum's SCIM events: strict parsing, and what each event asks the connector."""

from __future__ import annotations

import copy
import doctest
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.cerebrum import notifications
from connectors.cerebrum.notifications import Action, Change, parse_event
from hub.errors import MappingError
from tests.source_checks import load

EVENTS = load("cerebrum", "events.json")
ISSUED = datetime(2026, 11, 22, 8, tzinfo=UTC)


def golden(index: int) -> tuple[str, dict[str, Any]]:
    """A golden event's routing key and a copy of its body, for tests to spoil."""
    return EVENTS[index]["routing_key"], copy.deepcopy(EVENTS[index]["body"])


def parse(key: str, body: object) -> notifications.CerebrumEvent:
    """Parse a body given as JSON."""
    return parse_event(key, json.dumps(body).encode())


def test_the_module_example_holds() -> None:
    """The example in the module's docstring runs as written."""
    assert doctest.testmod(notifications).failed == 0


class TestGoldenEvents:
    """Each golden event is read, and says what to fetch or delete."""

    def test_person_modify(self) -> None:
        """A person's modify event names the person, the attributes and the time."""
        event = parse(*golden(0))
        assert (event.entity_type, event.verb, event.entity_id) == ("persons", "modify", "5501")
        assert event.jti == "5e2b9c8e-7f3a-4c1e-9b0d-2f6a1c3d4e5f"
        assert (event.issuer, event.issued_at) == ("cerebrum", ISSUED)
        assert event.attributes == ("affiliation",)
        assert event.not_before is None
        assert event.changes() == (Change("persons", "5501", Action.FETCH),)

    def test_scheduled_event(self) -> None:
        """An event with nbf is not due before that time."""
        event = parse(*golden(1))
        assert event.not_before == datetime(2026, 11, 25, 8, tzinfo=UTC)
        assert not event.is_due(ISSUED)
        assert event.is_due(datetime(2026, 11, 25, 8, tzinfo=UTC))

    @pytest.mark.parametrize(
        ("index", "changes"),
        [
            (2, (Change("accounts", "olan", Action.FETCH),)),
            (3, (Change("accounts", "kno012-drift", Action.DELETE),)),
            (
                4,
                (
                    Change("persons", "5501", Action.FETCH),
                    Change("persons", "5999", Action.DELETE),
                ),
            ),
            (5, ()),
            (6, ()),
        ],
    )
    def test_changes(self, index: int, changes: tuple[Change, ...]) -> None:
        """Accounts are fetched or deleted by name; a join deletes the merged person;
        password and group events change nothing the hub maps."""
        assert parse(*golden(index)).changes() == changes

    def test_group_event_objects(self) -> None:
        """A group's subject is its name and its objects are read as ids."""
        event = parse(*golden(6))
        assert (event.entity_id, event.objects) == ("ansatte-ifi", ("5501",))

    def test_person_delete(self) -> None:
        """Deleting a person is a tombstone, not a fetch."""
        _, body = golden(0)
        body["eventUris"] = ["urn:ietf:params:event:SCIM:delete"]
        del body["urn:ietf:params:event:SCIM:modify"]
        event = parse("no.uio.cerebrum.scim.persons.delete", body)
        assert event.changes() == (Change("persons", "5501", Action.DELETE),)

    def test_other_key_prefix(self) -> None:
        """Another installation's routing key prefix is accepted when configured."""
        _, body = golden(0)
        event = parse_event(
            "no.uib.cerebrum.scim.persons.modify",
            json.dumps(body).encode(),
            key_prefix="no.uib.cerebrum.scim",
        )
        assert event.entity_id == "5501"
        with pytest.raises(MappingError, match="routing key"):
            parse_event("no.uib.cerebrum.scim.persons.modify", json.dumps(body).encode())


class TestRefusals:
    """A message that is not exactly a Cerebrum event is refused with a reason."""

    @pytest.mark.parametrize(
        "key",
        [
            "",
            "no.uio.cerebrum.scim.persons",
            "no.uio.cerebrum.scim.persons.explode",
            "no.uio.cerebrum.scim.people.modify",
            "xno.uio.cerebrum.scim.persons.modify",
            "no.uio.cerebrum.scim.persons.modify.extra",
        ],
    )
    def test_bad_routing_key(self, key: str) -> None:
        """A routing key that is not <prefix>.<entity type>.<verb> is refused."""
        with pytest.raises(MappingError, match="routing key"):
            parse(key, golden(0)[1])

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            ({"jti": None}, "jti is missing"),
            ({"jti": "a b"}, "is not an event id"),
            ({"eventUris": ["urn:ietf:params:event:SCIM:delete"]}, "eventUris is not"),
            ({"eventUris": "urn:ietf:params:event:SCIM:modify"}, "eventUris must be a list"),
            ({"resourceType": "accounts"}, "resourceType is not 'persons'"),
            ({"resourceType": None}, "resourceType is not 'persons'"),
            ({"sub": "https://cerebrum.uio.no/v1/accounts/kno012"}, "is not a link to persons"),
            ({"sub": "https://cerebrum.uio.no/v1/persons/x"}, "'x' is not an id"),
            ({"sub": "https://cerebrum.uio.no/v1/persons/5501?x=1"}, "is not a link to a Cerebrum"),
            ({"sub": "file:///v1/persons/5501"}, "is not a link to a Cerebrum"),
            ({"sub": "5501"}, "does not end in"),
            ({"sub": None}, "sub is missing"),
            ({"iat": "1795334400"}, "iat must be a number of seconds"),
            ({"iat": -1}, "iat is not a time"),
            ({"iat": 10**20}, "iat is not a time"),
            ({"iat": None}, "iat is missing"),
            ({"nbf": True}, "nbf must be a number of seconds"),
            ({"iss": ""}, "iss is missing"),
            ({"urn:ietf:params:event:SCIM:modify": []}, "must be an object"),
            ({"urn:ietf:params:event:SCIM:modify": {"attributes": "name"}}, "attributes must be"),
            ({"urn:ietf:params:event:SCIM:modify": {"attributes": ["a b"]}}, "not an attribute"),
            (
                {"urn:ietf:params:event:SCIM:modify": {"object": ["https://x/v1/persons/../1"]}},
                "does not end in",
            ),
            (
                {"urn:ietf:params:event:SCIM:modify": {"object": ["https://x/v1/persons/p1"]}},
                r"SCIM:modify\.object 'p1' is not an id",
            ),
        ],
    )
    def test_bad_body(self, change: dict[str, Any], problem: str) -> None:
        """Each malformed or contradicting field is named."""
        key, body = golden(0)
        body.update(change)
        with pytest.raises(MappingError, match=problem):
            parse(key, body)

    @pytest.mark.parametrize(
        ("raw", "problem"),
        [
            (b"", "the body is not JSON"),
            (b"[]", "must be a JSON object, not a list"),
            (b'{"jti": "a", "jti": "b"}', "repeats the key 'jti'"),
            (b"{" + b'"a":{' * 10_000 + b"}" * 10_001, "nested too deeply"),
            (b"x" * 70_000, "at most 65536"),
        ],
    )
    def test_bad_bytes(self, raw: bytes, problem: str) -> None:
        """Bodies that are not one JSON object are refused before anything is read."""
        with pytest.raises(MappingError, match=problem):
            parse_event("no.uio.cerebrum.scim.persons.modify", raw)

    def test_account_name_from_a_link_is_checked(self) -> None:
        """An account link whose last step is not an account name is refused."""
        key, body = golden(2)
        body["sub"] = "https://cerebrum.uio.no/v1/accounts/%2e%2e%2fetc"
        with pytest.raises(MappingError, match="is not an account name"):
            parse(key, body)
