"""Tests for the web profile mapping and change listing: person pages in, Profile records out."""

from __future__ import annotations

import copy
import doctest
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.web import polling
from connectors.web.mapping import map_profile, profiles
from connectors.web.polling import ChangePage, ProfileChange, changes_query, parse_changes
from hub.correlation.resolve import LinkStatus
from hub.errors import MappingError
from hub.person_view import PersonView, SourceKind
from hub.rules import web_profile_stale
from hub.rules.settings import RuleSettings
from tests.factories import iam_account
from tests.source_checks import (
    assert_avro,
    dfo_employee,
    json_values,
    load,
    mapping_inputs,
    maps_or_refuses,
)
from tests.test_correlation_cases import Hub

FETCHED_AT = datetime(2026, 11, 22, 7, 30, tzinfo=UTC)
SCHEMA = "no.bott.hub.web.Profile"
IAM_PAGE = "profile_from_iam.json"
MANUAL_PAGE = "profile_manual.json"


def profile(name: str = IAM_PAGE) -> dict[str, object]:
    """Map a golden person page with the test settings."""
    return map_profile(load("web", name), institution="uib", fetched_at=FETCHED_AT)


def spoiled(field: str, value: object, *, inside: bool = True) -> dict[str, Any]:
    """The golden IAM page with one property (or top-level field) replaced."""
    document: dict[str, Any] = load("web", IAM_PAGE)
    (document["properties"] if inside else document)[field] = value
    return document


class TestMapProfile:
    """Golden person pages map to valid Profile records."""

    @pytest.mark.parametrize("name", [IAM_PAGE, MANUAL_PAGE])
    def test_golden_files_are_valid_avro(self, name: str) -> None:
        """Every golden page maps to a record that validates and round-trips."""
        assert_avro(profile(name), SCHEMA)

    def test_page_from_iam(self) -> None:
        """A page showing IAM's data says so, and when it took it."""
        result = profile()
        assert result["profile_id"] == result["source_id"] == "/personer/mn/ibv/kno012"
        assert (result["institution"], result["source_system"]) == ("uib", "vortex")
        assert result["source_timestamp"] == FETCHED_AT
        assert result["username"] == "kno012"
        assert result["employee_id"] is None
        assert result["published_name"] == "Kari Nordmann"
        assert result["title"] == "Førsteamanuensis"
        assert (result["org_unit_id"], result["org_unit_name"]) == (
            "50001234",
            "Institutt for biovitenskap",
        )
        assert (result["phone"], result["email"]) == ("+47 55 58 00 00", "kari.nordmann@uib.no")
        assert result["visible"] is True
        assert result["data_source"] == "iam"
        assert result["data_taken_at"] == datetime(2026, 10, 1, 2, 0, tzinfo=UTC)

    def test_page_written_by_hand(self) -> None:
        """A page edited in the CMS is manual, with no time its data was taken."""
        result = profile(MANUAL_PAGE)
        assert result["data_source"] == "manual"
        assert result["data_taken_at"] is None
        assert result["employee_id"] == "123456"
        assert result["username"] is None
        assert result["published_name"] == "Kari Nordmann"
        assert (result["org_unit_id"], result["phone"]) == ("50001234", "55580000")
        assert result["visible"] is False

    def test_page_without_properties(self) -> None:
        """A bare person page maps to a hidden, manual page with nothing shown."""
        result = map_profile(
            {"uri": "/personer/x", "resourcetype": "person"},
            institution="uib",
            fetched_at=FETCHED_AT,
        )
        assert_avro(result, SCHEMA)
        assert (result["visible"], result["data_source"], result["title"]) == (
            False,
            "manual",
            None,
        )

    def test_input_is_not_modified(self) -> None:
        """Mapping leaves the parsed page untouched."""
        document = load("web", MANUAL_PAGE)
        before = copy.deepcopy(document)
        map_profile(document, institution="uib", fetched_at=FETCHED_AT)
        assert document == before

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("username", ["kno012"], "properties.username must be a string"),
            ("employeeNumber", "12-34", "properties.employeeNumber '12-34' is not a number"),
            ("employeeNumber", 123456789, "properties.employeeNumber has more than 8 digits"),
            ("getExternalPersonInfo", "kanskje", "is not a yes/no value"),
            ("externalPersonInfoFetched", "2026-10-01", "is not a timestamp"),
            ("externalPersonInfoFetched", "2026-10-01T02:00:00", "has no time zone"),
            ("unit", "IBV", "properties.unit must be an object, not a string"),
            ("unit", {"id": ["1"]}, r"properties\.unit\.id must be a string or a number"),
            ("phone", {"work": "1"}, "properties.phone must be a string or a number"),
            ("position", "P" * 501, "properties.position is too long"),
        ],
    )
    def test_bad_property(self, field: str, value: object, problem: str) -> None:
        """A wrong-typed property names the page and the property path."""
        with pytest.raises(MappingError, match=problem) as caught:
            map_profile(spoiled(field, value), institution="uib", fetched_at=FETCHED_AT)
        assert str(caught.value).startswith("Web profile /personer/mn/ibv/kno012: ")

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("resourcetype", "article", "resourcetype 'article' is not a person page"),
            ("resourcetype", None, "resourcetype is missing"),
            ("published", 2, "published must be a boolean"),
            ("properties", [], "properties must be an object, not a list"),
            ("uri", "personer/kari", "uri 'personer/kari' is not a page path"),
            ("uri", "/personer/kari?vrtx=admin", "is not a page path"),
            ("uri", None, "Web profile: uri is missing"),
        ],
    )
    def test_bad_page(self, field: str, value: object, problem: str) -> None:
        """A page that is not a person page, or has no usable path, is rejected."""
        with pytest.raises(MappingError, match=problem):
            map_profile(
                spoiled(field, value, inside=False), institution="uib", fetched_at=FETCHED_AT
            )

    def test_listing(self) -> None:
        """A listing holds the documents and a count; anything else is rejected."""
        documents, total = profiles({"profiles": [load("web", IAM_PAGE)], "total": 1})
        assert (len(documents), total) == (1, 1)
        for bad in ([], {"profiles": {}, "total": 1}, {"profiles": [], "total": "1"}):
            with pytest.raises(MappingError, match="Web profile listing"):
                profiles(bad)

    @settings(max_examples=200, deadline=None)
    @given(mapping_inputs("web", IAM_PAGE, MANUAL_PAGE))
    def test_hostile_input(self, payload: object) -> None:
        """For any JSON at all, the mapping returns a valid record or raises MappingError."""
        maps_or_refuses(
            lambda p: map_profile(p, institution="uib", fetched_at=FETCHED_AT), payload, SCHEMA
        )


def changes_body(changes: object, next_since: object, more: object = False) -> bytes:
    """A change listing answer as bytes."""
    return json.dumps({"changes": changes, "next": next_since, "more": more}).encode()


def change(
    sequence: object, uri: object = "/personer/a", kind: object = "modified"
) -> dict[str, object]:
    """One entry of the change listing."""
    return {"sequence": sequence, "uri": uri, "change": kind, "at": "2026-11-20T08:00:00Z"}


class TestChanges:
    """The change listing is parsed strictly; the cursor follows it."""

    def test_page_of_changes(self) -> None:
        """Modified and deleted pages come out in order, with the next cursor."""
        body = changes_body([change(4), change("5", "/personer/b", "deleted")], "5", True)
        page = parse_changes(body, since="3")
        assert page == ChangePage(
            (
                ProfileChange(4, "/personer/a", False, datetime(2026, 11, 20, 8, tzinfo=UTC)),
                ProfileChange(5, "/personer/b", True, datetime(2026, 11, 20, 8, tzinfo=UTC)),
            ),
            "5",
            True,
        )
        assert page.changes[1].fetch_path == "/api/profiles/personer/b"

    def test_empty_pages(self) -> None:
        """Nothing new keeps the cursor: no next at the start, else the same since."""
        assert parse_changes(changes_body([], None), since=None) == ChangePage((), None, False)
        assert parse_changes(changes_body([], "9"), since="9") == ChangePage((), "9", False)

    def test_query(self) -> None:
        """The first poll has no since; later ones carry the cursor."""
        assert changes_query(None, limit=50) == {"limit": "50"}
        assert changes_query("12", limit=1) == {"since": "12", "limit": "1"}
        for since, limit in (("abc", 10), ("0", 10), ("5", 0), ("5", 10_001)):
            with pytest.raises(MappingError, match="Web profile changes"):
                changes_query(since, limit=limit)

    @pytest.mark.parametrize(
        ("body", "since", "problem"),
        [
            (b"\xff\xfe", None, "not UTF-8 JSON"),
            (b"{", None, "not UTF-8 JSON"),
            (b"[" * 100_000 + b"]" * 100_000, None, "not UTF-8 JSON"),
            (b" " * 5_000_001, None, "larger than"),
            (b"[]", None, "must be a JSON object"),
            (changes_body([change(3)], "3"), "3", "sequence 3 is not after 3"),
            (changes_body([change(5), change(4)], "4"), None, "sequence 4 is not after 5"),
            (changes_body([change(4)], "5"), None, "next does not follow"),
            (changes_body([], None, True), None, "more is promised on an empty page"),
            (changes_body([change(0)], "0"), None, r"changes\[0\]\.sequence '0' is not a positive"),
            (changes_body([change(True)], "1"), None, "sequence must be a whole number"),
            (changes_body([change(1, "relative")], "1"), None, "uri 'relative' is not a page path"),
            (changes_body([change(1, kind="renamed")], "1"), None, "'renamed' is neither"),
            (
                changes_body([{"sequence": 1, "uri": "/a", "change": "deleted"}], "1"),
                None,
                "at is missing",
            ),
            (changes_body({"0": change(1)}, "1"), None, "changes must be a list"),
            (changes_body([change(1)], "1", "maybe"), None, "more 'maybe' is not a yes/no value"),
        ],
    )
    def test_bad_answers(self, body: bytes, since: str | None, problem: str) -> None:
        """Malformed, hostile or inconsistent answers raise MappingError."""
        with pytest.raises(MappingError, match=problem):
            parse_changes(body, since=since)

    @settings(max_examples=200, deadline=None)
    @given(st.one_of(st.binary(max_size=200), json_values().map(lambda v: json.dumps(v).encode())))
    def test_hostile_bytes(self, body: bytes) -> None:
        """Any bytes at all parse to a change page or raise MappingError."""
        try:
            page = parse_changes(body, since=None)
        except MappingError:
            return
        assert all(c.sequence > 0 for c in page.changes)


class TestCorrelationAndRules:
    """Pages attach to the person they show, and the stale-overwrite rule reads them."""

    def test_pages_join_the_employee(self) -> None:
        """The IAM page attaches by username (via IAM's DFO_PID), the manual one by
        employee number; both to DFØ employee 123456."""
        hub = Hub()
        hub.feed("source.dfo.employee", dfo_employee(institution="uib", fetched_at=FETCHED_AT))
        hub.feed(
            "source.iam.account",
            iam_account(employee_id="00123456", username="kno012", institution="uib"),
        )
        hub.feed("source.web.profile", profile())
        hub.feed("source.web.profile", profile(MANUAL_PAGE))
        person = hub.anchor("source.dfo.employee/123456")
        assert hub.anchor("source.web.profile//personer/mn/ibv/kno012") == person
        assert hub.anchor("source.web.profile//personer/adm/oko/kari-nordmann") == person
        assert hub.status("source.web.profile//personer/mn/ibv/kno012") is LinkStatus.LINKED

    def test_stale_page_is_iams_to_fix(self) -> None:
        """The IAM page took its title before HR's record: a stale overwrite for IAM;
        the hidden manual page that agrees with HR gives no finding."""
        now = datetime(2026, 11, 23, 12, tzinfo=UTC)
        records = [
            (SourceKind.DFO_EMPLOYEE, dfo_employee(institution="uib", fetched_at=FETCHED_AT)),
            (SourceKind.WEB_PROFILE, profile()),
        ]
        [finding] = web_profile_stale.evaluate(
            PersonView.of("p-kari", "uib", records), now, RuleSettings()
        )
        assert finding.owner_group == "iam"
        assert "Førsteamanuensis" in finding.description_en
        manual = [
            (SourceKind.DFO_EMPLOYEE, dfo_employee(institution="uib", fetched_at=FETCHED_AT)),
            (SourceKind.WEB_PROFILE, profile(MANUAL_PAGE)),
        ]
        assert (
            web_profile_stale.evaluate(PersonView.of("p-kari", "uib", manual), now, RuleSettings())
            == []
        )


def test_module_examples_hold() -> None:
    """The example in the change listing's docstring holds."""
    result = doctest.testmod(polling)
    assert (result.attempted > 0, result.failed) == (True, 0)
