"""Tests for Felles IAM's notifications, list pages and polling cursor."""

from __future__ import annotations

import copy
import doctest
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from connectors.felles_iam import notifications
from connectors.felles_iam.notifications import (
    advance,
    parse_notification,
    poll_query,
    read_list,
)
from hub.errors import MappingError
from tests.source_checks import load

NOTES = load("felles_iam", "notifications.json")
KARI = "362ff2749bfb11eabbd5600308a4105a"


def golden(index: int) -> tuple[str, dict[str, Any]]:
    """A golden notification's routing key and a copy of its body."""
    return NOTES[index]["routing_key"], copy.deepcopy(NOTES[index]["body"])


def parse(key: str, body: object, **kwargs: Any) -> notifications.UserNotification:
    """Parse a body given as JSON."""
    return parse_notification(key, json.dumps(body).encode(), **kwargs)


def test_the_module_example_holds() -> None:
    """The example in the module's docstring runs as written."""
    assert doctest.testmod(notifications).failed == 0


class TestNotifications:
    """Each notification names the Users to fetch, or that they are gone."""

    def test_modify(self) -> None:
        """A MODIFY names the User, the time and the attributes that changed."""
        note = parse(*golden(0))
        assert (note.institution, note.verb) == ("uib", "modify")
        assert note.user_ids == (KARI,)
        assert note.user_paths == (f"/Users/{KARI}",)
        assert note.time == datetime(2026, 11, 22, 7, 30, tzinfo=UTC)
        assert note.attributes == (
            "displayName",
            "name.givenName",
            'emails[type eq "work"]',
            "no:edu:scim:user:userPrincipalName",
        )

    def test_add_without_time(self) -> None:
        """An ADD from the older API path, without time or attributes, is read."""
        note = parse(*golden(1))
        assert (note.verb, note.time, note.attributes) == ("add", None, ())
        assert note.user_paths == ("/Users/9c1d2e3f-4a5b-4c6d-8e7f-001122334455",)

    def test_several_users(self) -> None:
        """A notification may name several Users; each is fetched."""
        note = parse(*golden(2))
        assert note.institution == "uit"
        assert len(note.user_paths) == 2
        assert note.time == datetime(2026, 11, 21, 23, 0, 5, tzinfo=UTC)

    def test_delete(self) -> None:
        """A DELETE is a tombstone: nothing to fetch."""
        note = parse(*golden(3))
        assert note.deleted
        assert note.user_paths == ()
        assert note.user_ids == ("7b00aa11-0000-4000-8000-00000000a001",)

    def test_expected_institution(self) -> None:
        """Another institution's notification is refused when one is required."""
        assert parse(*golden(0), institution="uib").institution == "uib"
        with pytest.raises(MappingError, match="routing key is for uit, expected uib"):
            parse(*golden(2), institution="uib")

    @pytest.mark.parametrize(
        "key",
        [
            "no.uib.iga.scim.user",
            "no.uib.iga.scim.user.update",
            "no.uib.iga.scim.group.modify",
            "no.UIB.iga.scim.user.modify",
            "se.uib.iga.scim.user.modify",
            "no.uib.iga.scim.user.modify.x",
        ],
    )
    def test_bad_routing_key(self, key: str) -> None:
        """A routing key that is not no.<inst>.iga.scim.user.<verb> is refused."""
        with pytest.raises(MappingError, match="routing key"):
            parse(key, golden(0)[1])

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            ({"schemas": []}, "schemas does not name"),
            (
                {"schemas": "urn:ietf:params:scim:schemas:notify:2.0:Event"},
                "schemas must be a list",
            ),
            ({"type": "DELETE"}, "type is not 'MODIFY'"),
            ({"type": "modify"}, "type is not 'MODIFY'"),
            ({"resourceUris": []}, "resourceUris names no User"),
            ({"resourceUris": None}, "resourceUris names no User"),
            ({"resourceUris": ["https://x/scim/v2/Groups/1"]}, "is not a link to a User"),
            ({"resourceUris": ["https://x/scim/v2/Users/a%2Fb"]}, "is not a user id"),
            ({"resourceUris": ["javascript:alert(1)//Users/1"]}, "is not a link to a User"),
            ({"resourceUris": ["x"] * 1001}, "at most 1000"),
            ({"time": "yesterday"}, "time 'yesterday' is not a timestamp"),
            ({"attributes": ["ok", "\u0000"]}, "is not a name or link"),
            ({"attributes": "displayName"}, "attributes must be a list"),
        ],
    )
    def test_bad_body(self, change: dict[str, Any], problem: str) -> None:
        """Each malformed or contradicting field is named."""
        key, body = golden(0)
        body.update(change)
        with pytest.raises(MappingError, match=problem):
            parse(key, body)

    def test_duplicate_links_are_one_user(self) -> None:
        """The same User named twice is fetched once."""
        key, body = golden(0)
        body["resourceUris"] *= 2
        assert parse(key, body).user_ids == (KARI,)


class TestListPages:
    """List pages say what they hold and where the next one starts."""

    def test_golden_page(self) -> None:
        """Two Users of three: the next page starts at 3."""
        page = read_list(load("felles_iam", "users_page.json"))
        assert page.total_results == 3
        assert page.resources[0]["id"] == KARI
        assert page.next_start_index == 3

    @pytest.mark.parametrize(
        ("start", "count", "total", "expected"),
        [(3, 1, 3, None), (1, 0, 5, None), (1, 2, 2, None), (101, 100, 250, 201), (None, 1, 2, 2)],
    )
    def test_next_start(
        self, start: int | None, count: int, total: int, expected: int | None
    ) -> None:
        """The last page has no next; an empty page ends the listing."""
        payload: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": total,
            "Resources": [{"id": str(i)} for i in range(count)],
        }
        if start is not None:
            payload["startIndex"] = start
        assert read_list(payload).next_start_index == expected

    @pytest.mark.parametrize(
        ("payload", "problem"),
        [
            ([], "must be a JSON object"),
            ({"totalResults": 1}, "schemas does not name"),
            (
                {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]},
                "totalResults must be a whole number, not null",
            ),
            (
                {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": -1,
                },
                "totalResults must be a whole number",
            ),
            (
                {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": 1,
                    "Resources": ["x"],
                },
                "Resources holds a string",
            ),
        ],
    )
    def test_bad_page(self, payload: object, problem: str) -> None:
        """A body that is not a ListResponse is refused."""
        with pytest.raises(MappingError, match=problem):
            read_list(payload)


class TestPolling:
    """The polling cursor asks for what changed since the newest change seen."""

    def test_first_poll_lists_everything(self) -> None:
        """Without a cursor the query has no filter."""
        assert poll_query(None) == {"startIndex": "1", "count": "100"}

    def test_query_since(self) -> None:
        """With a cursor the query asks for Users modified at or after it, in UTC."""
        since = datetime(2026, 11, 22, 8, 30, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
        assert poll_query(since, start_index=101, count=50) == {
            "startIndex": "101",
            "count": "50",
            "filter": 'meta.lastModified ge "2026-11-22T07:30:05Z"',
        }

    @pytest.mark.parametrize(
        "kwargs",
        [{"count": 0}, {"count": 1001}, {"start_index": 0}, {"since": datetime(2026, 1, 1)}],
    )
    def test_bad_query(self, kwargs: dict[str, Any]) -> None:
        """A naive time, a count out of range or a start before 1 is a programming error."""
        arguments = {"since": None, **kwargs}
        with pytest.raises(ValueError, match="must be"):
            poll_query(**arguments)

    def test_advance(self) -> None:
        """The cursor moves to the newest lastModified seen, never back."""
        users = load("felles_iam", "users_page.json")["Resources"]
        assert advance(None, users) == datetime(2026, 10, 15, 6, 2, 11, tzinfo=UTC)
        later = datetime(2026, 11, 1, tzinfo=UTC)
        assert advance(later, users) == later
        assert advance(None, [{"id": "x"}]) is None

    def test_advance_refuses_bad_times(self) -> None:
        """A lastModified that is not a timestamp is refused, not skipped."""
        with pytest.raises(MappingError, match="lastModified 'soon' is not a timestamp"):
            advance(None, [{"id": "x", "meta": {"lastModified": "soon"}}])
