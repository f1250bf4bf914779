"""Tests for Greg's events and list pages: strict parsing, and what to fetch next."""

from __future__ import annotations

import doctest
import json

import pytest

from connectors.greg import notifications
from connectors.greg.notifications import list_query, parse_event, read_page
from hub.errors import MappingError
from tests.source_checks import load

EVENTS = load("greg", "events.json")


def body(event: object) -> bytes:
    """An event as the bytes of an AMQP message body."""
    return json.dumps(event).encode()


def test_the_module_example_holds() -> None:
    """The example in the module's docstring runs as written."""
    assert doctest.testmod(notifications).failed == 0


class TestEvents:
    """Greg's events say which guest to fetch, or that the guest is gone."""

    @pytest.mark.parametrize(
        ("index", "person_path", "deleted"),
        [
            (0, "/v1/persons/4711", False),
            (1, "/v1/persons/4711", False),
            (2, "/v1/persons/4711", False),
            (3, None, True),
            (4, None, False),
            (5, "/v1/persons/4711", False),
        ],
    )
    def test_golden_events(self, index: int, person_path: str | None, deleted: bool) -> None:
        """Each golden event names the path to fetch, or says the guest was deleted."""
        event = parse_event(body(EVENTS[index]))
        assert event.person_path == person_path
        assert event.deletes_person is deleted
        assert event.source == "greg:uio:prod"

    def test_event_fields(self) -> None:
        """Ids are normalised strings and the data keeps its references."""
        event = parse_event(body(EVENTS[0]))
        assert (event.event_id, event.type) == ("100", "person_role.add")
        assert event.data == (("person_id", "4711"), ("role_id", "320"))
        assert event.person_id == "4711"

    def test_expected_source(self) -> None:
        """An event from another Greg (a test system) is refused when a source is required."""
        assert parse_event(body(EVENTS[0]), source="greg:uio:prod").event_id == "100"
        with pytest.raises(MappingError, match="comes from greg:uio:prod, expected greg:uio:test"):
            parse_event(body(EVENTS[0]), source="greg:uio:test")

    @pytest.mark.parametrize(
        ("raw", "problem"),
        [
            (b"", "Greg event: the body is not JSON"),
            (b"[1]", "Greg event must be a JSON object, not a list"),
            (b" " * 70_000, "at most 65536"),
            (body({"source": "greg:uio:prod", "type": "person.update"}), "id is missing"),
            (body({"id": "x", "source": "s", "type": "a.b"}), "id 'x' is not an id"),
            (body({"id": 1, "type": "person.update"}), "Greg event 1: source is missing"),
            (body({"id": 1, "source": "greg uio", "type": "a.b"}), "is not a source name"),
            (body({"id": 1, "source": "s", "type": "update"}), "is not an event type"),
            (body({"id": 1, "source": "s", "type": "Person.Update!"}), "is not an event type"),
            (body({"id": 1, "source": "s", "type": "a.b", "data": [1]}), "data must be an object"),
            (
                body({"id": 1, "source": "s", "type": "a.b", "data": {"person_id": "../1"}}),
                "data person_id '../1' is not an id",
            ),
            (
                body({"id": 1, "source": "s", "type": "a.b", "data": {"person_id": {"id": 1}}}),
                "person_id must be a number",
            ),
            (
                body({"id": 1, "source": "s", "type": "a.b", "data": {"Bad Key": 1}}),
                "has a key 'Bad Key' that is not a name",
            ),
            (
                body({"id": 1, "source": "s", "type": "a.b", "data": {"x": [1]}}),
                "data x must be a string or a number",
            ),
            (
                body(
                    {"id": 1, "source": "s", "type": "a.b", "data": {f"k{i}": 1 for i in range(60)}}
                ),
                "has 60 entries",
            ),
        ],
    )
    def test_malformed_or_hostile(self, raw: bytes, problem: str) -> None:
        """A body that is not exactly a Greg event is refused with a reason."""
        with pytest.raises(MappingError, match=problem):
            parse_event(raw)

    def test_not_bytes(self) -> None:
        """A decoded string instead of the message bytes is a programming error, refused."""
        with pytest.raises(MappingError, match="must be bytes, not str"):
            parse_event('{"id": 1}')  # type: ignore[arg-type]


class TestPages:
    """A list page says what it holds and how to ask for the next one."""

    def test_golden_page(self) -> None:
        """The next page's query comes from ``next``; host and path are not used."""
        page = read_page(load("greg", "persons_page.json"))
        assert page.count == 3
        assert [person["id"] for person in page.results] == [4711, 4713]
        assert page.next_query == {"active": "true", "page": "2"}

    def test_last_page(self) -> None:
        """The last page has no next query."""
        page = read_page({"count": 0, "next": None, "previous": None, "results": []})
        assert (page.results, page.next_query) == ((), None)

    @pytest.mark.parametrize(
        ("payload", "problem"),
        [
            ([], "must be a JSON object"),
            ({"count": 1}, "has no 'results' list"),
            ({"results": {"id": 1}}, "has no 'results' list"),
            ({"results": [1]}, r"results holds a number"),
            ({"results": [], "next": "ftp://x/v1/persons?page=2"}, "is not an http"),
            ({"results": [], "next": "https://x/v1/persons"}, "has no query"),
            ({"results": [], "next": "https://x/v1/persons?page=2&evil=1"}, "unexpected parameter"),
            ({"results": [], "next": "https://x/?page=2&page=3"}, "bad or repeated parameter"),
            ({"results": [], "next": 5}, "next must be a string"),
            ({"results": [], "count": -1}, "count must be a whole number"),
            ({"results": [], "count": "3"}, "count must be a whole number"),
        ],
    )
    def test_bad_page(self, payload: object, problem: str) -> None:
        """A body that is not a Greg page, or whose next link is suspicious, is refused."""
        with pytest.raises(MappingError, match=problem):
            read_page(payload)

    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            ({}, {}),
            ({"active": True}, {"active": "true"}),
            ({"active": False, "verified": True}, {"active": "false", "verified": "true"}),
        ],
    )
    def test_list_query(self, kwargs: dict[str, bool], expected: dict[str, str]) -> None:
        """The first page's query has only the filters asked for."""
        assert list_query(**kwargs) == expected
