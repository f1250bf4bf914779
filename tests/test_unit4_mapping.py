"""Tests for the Unit4 mapping and poll cursor: golden documents in, valid Avro records out."""

from __future__ import annotations

import copy
import doctest
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.unit4 import odata, polling
from connectors.unit4.mapping import (
    InstallationCodes,
    documents,
    map_approver_role,
    map_resource,
    normalise_resource_id,
)
from connectors.unit4.polling import (
    APPROVER_ROLES,
    RESOURCES,
    PollCursor,
    advance,
    decode_cursor,
    encode_cursor,
    format_timestamp,
    is_last_page,
    poll_query,
    rewind,
)
from hub.correlation.identifiers import Identifier, Kind
from hub.correlation.resolve import LinkStatus
from hub.errors import MappingError
from hub.person_view import PersonView, SourceKind
from hub.rules import leader_approver
from hub.rules.settings import RuleSettings
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
RESOURCE = "no.bott.hub.unit4.Resource"
ROLE = "no.bott.hub.unit4.ApproverRole"
PRIVATE_DETAILS = ("kari.privat@example.org", "+47 900 00 099")


def resource(name: str = "resource_regular.json", **options: Any) -> dict[str, object]:
    """Map a golden resource document with the test settings."""
    return map_resource(load("unit4", name), institution="uib", fetched_at=FETCHED_AT, **options)


def role(name: str = "approver_role_kostnadsgodkjenner.json") -> dict[str, object]:
    """Map a golden approver-role document with the test settings."""
    return map_approver_role(load("unit4", name), institution="uib", fetched_at=FETCHED_AT)


def spoiled(name: str, field: str, value: object) -> dict[str, Any]:
    """A golden document with one field replaced."""
    document: dict[str, Any] = load("unit4", name)
    document[field] = value
    return document


class TestMapResource:
    """Golden resource documents map to valid Resource records."""

    @pytest.mark.parametrize("name", ["resource_regular.json", "resource_external.json"])
    def test_golden_files_are_valid_avro(self, name: str) -> None:
        """Every golden resource maps to a record that validates, round-trips and holds
        no private contact detail."""
        result = resource(name)
        assert_avro(result, RESOURCE)
        assert not any(detail in repr(result) for detail in PRIVATE_DETAILS)

    def test_regular_resource(self) -> None:
        """The regular resource is DFØ employee 123456 with its current relations."""
        result = resource()
        assert result["resource_id"] == result["source_id"] == "123456"
        assert result["employee_id"] == "123456"
        assert (result["institution"], result["source_system"]) == ("uib", "unit4")
        assert result["source_timestamp"] == FETCHED_AT
        assert result["name"] == "Nordmann, Kari"
        assert result["status"] == "N"
        assert (result["cost_centre"], result["org_unit_id"]) == ("123400", "50001234")
        assert (result["valid_from"], result["valid_to"]) == (date(2015, 8, 1), None)
        assert result["email"] == "kari.nordmann@uib.no"
        assert result["username"] == "KNO123456"

    def test_relation_valid_on_the_fetch_date_wins(self) -> None:
        """Fetched in 2019, the cost centre is the relation valid then."""
        result = map_resource(
            load("unit4", "resource_regular.json"),
            institution="uib",
            fetched_at=datetime(2019, 6, 1, tzinfo=UTC),
        )
        assert result["cost_centre"] == "120000"

    def test_latest_relation_when_none_is_valid(self) -> None:
        """A closed resource keeps the cost centre of its last relation."""
        result = resource("resource_external.json")
        assert result["cost_centre"] == "990000"
        assert result["org_unit_id"] is None

    def test_external_resource(self) -> None:
        """A resource id that is no DFØ number is kept and has no employee number."""
        result = resource("resource_external.json")
        assert result["resource_id"] == "EXT-0042"
        assert result["employee_id"] is None
        assert result["name"] == "Per Konsulent"
        assert result["status"] == "C"
        assert result["valid_to"] == date(2024, 6, 30)
        assert (result["email"], result["username"]) == (None, None)

    def test_installation_codes(self) -> None:
        """Another installation's attribute ids and contact type are honoured."""
        codes = InstallationCodes(
            cost_centre_attribute="B0", org_unit_attribute="C1", work_contact_point="2"
        )
        result = resource(codes=codes)
        assert (result["cost_centre"], result["org_unit_id"]) == ("PRJ-77", "123400")
        assert result["email"] == "kari.privat@example.org"

    def test_only_an_id(self) -> None:
        """A document with only a resource id maps to a valid record with defaults."""
        result = map_resource({"resourceId": 7}, institution="uib", fetched_at=FETCHED_AT)
        assert_avro(result, RESOURCE)
        assert (result["resource_id"], result["employee_id"], result["name"]) == ("7", "7", None)

    def test_input_is_not_modified(self) -> None:
        """Mapping leaves the parsed document untouched."""
        document = load("unit4", "resource_regular.json")
        before = copy.deepcopy(document)
        map_resource(document, institution="uib", fetched_at=FETCHED_AT)
        assert document == before

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [("00123456", "123456"), (123456, "123456"), ("0000", "0"), ("EXT-7", "EXT-7")],
    )
    def test_normalise_resource_id(self, raw: object, expected: str) -> None:
        """Resource ids of digits lose leading zeros; others are kept."""
        assert normalise_resource_id(raw) == expected

    @pytest.mark.parametrize("raw", [None, "", "a b", "../1", "x" * 26, True, 1.5])
    def test_normalise_resource_id_rejects(self, raw: object) -> None:
        """Anything that is not a short id of safe characters is rejected."""
        with pytest.raises(MappingError, match="Unit4 resource id"):
            normalise_resource_id(raw)

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("dateFrom", "2015-13-01", "dateFrom '2015-13-01' is not a date"),
            ("dateTo", 20991231, "dateTo must be a date string"),
            ("name", {"first": "Kari"}, "name must be a string, not an object"),
            ("status", ["N"], "status must be a string or a number"),
            ("userId", 42, "userId must be a string, not a number"),
            ("relations", "C1=123400", "relations must be a list or an object"),
            ("relations", [{"attributeValue": "1"}], r"relations\[0\]\.attributeId is missing"),
            ("contactPoints", [None], "contactPoints holds null where an object"),
            (
                "contactPoints",
                [{"contactPointType": "1", "eMail": ["a@b"]}],
                r"contactPoints\[0\]\.eMail must be a string",
            ),
        ],
    )
    def test_bad_field(self, field: str, value: object, problem: str) -> None:
        """A wrong-typed or unparseable field names the record and the field."""
        with pytest.raises(MappingError, match=problem) as caught:
            map_resource(
                spoiled("resource_regular.json", field, value),
                institution="uib",
                fetched_at=FETCHED_AT,
            )
        assert str(caught.value).startswith("Unit4 resource 123456: ")

    @pytest.mark.parametrize(
        ("payload", "problem"),
        [
            ([], "Unit4 resource must be a JSON object, not a list"),
            ({}, "Unit4 resource: resourceId is missing"),
            ({"resourceId": "a/b"}, "resourceId 'a/b' is not a resource id"),
        ],
    )
    def test_bad_document(self, payload: object, problem: str) -> None:
        """A body that is no resource document is rejected."""
        with pytest.raises(MappingError, match=problem):
            map_resource(payload, institution="uib", fetched_at=FETCHED_AT)

    def test_naive_fetch_time_and_empty_institution(self) -> None:
        """A fetch time without a zone or an empty institution is rejected."""
        document = load("unit4", "resource_regular.json")
        with pytest.raises(MappingError, match="fetched_at must be timezone-aware"):
            map_resource(document, institution="uib", fetched_at=datetime(2026, 11, 22))
        with pytest.raises(MappingError, match="no institution"):
            map_resource(document, institution="", fetched_at=FETCHED_AT)

    def test_documents_of_an_answer(self) -> None:
        """An ObjectAPI answer is a list of documents; anything else is rejected."""
        assert len(documents(load("unit4", "resources_page.json"), "resources")) == 2
        with pytest.raises(MappingError, match="must be a JSON list, not an object"):
            documents({"resources": []}, "resources")


class TestMapApproverRole:
    """Golden approver-role documents map to valid ApproverRole records."""

    @pytest.mark.parametrize(
        "name", ["approver_role_kostnadsgodkjenner.json", "approver_role_attestant_all.json"]
    )
    def test_golden_files_are_valid_avro(self, name: str) -> None:
        """Every golden approver role maps to a record that validates and round-trips."""
        assert_avro(role(name), ROLE)

    def test_cost_approver_with_budget_authority(self) -> None:
        """Unit4's assignment id, the role's name, BDM and its cost centre come through."""
        result = role()
        assert result["assignment_id"] == result["source_id"] == "AR-000981"
        assert result["resource_id"] == "123456"
        assert result["role"] == "kostnadsgodkjenner"
        assert result["has_budget_authority"] is True
        assert result["cost_centre"] == "123400"
        assert (result["valid_from"], result["valid_to"]) == (date(2020, 1, 1), None)

    def test_attestant_for_all_cost_centres(self) -> None:
        """Without an assignment id the key is built; ``*`` scopes the role to all."""
        result = role("approver_role_attestant_all.json")
        assert result["assignment_id"] == "890123-attestant-all"
        assert result["role"] == "attestant"
        assert result["has_budget_authority"] is False
        assert result["cost_centre"] is None
        assert result["valid_to"] == date(2026, 10, 31)

    def test_other_roles_are_kept_as_given(self) -> None:
        """A role id that is no approver role keeps its spelling."""
        document = spoiled("approver_role_kostnadsgodkjenner.json", "roleId", "Innkjøper")
        result = map_approver_role(document, institution="uib", fetched_at=FETCHED_AT)
        assert result["role"] == "Innkjøper"

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("roleId", None, "roleId is missing"),
            ("roleId", 7, "roleId must be a string"),
            ("budgetAuthority", "kanskje", "budgetAuthority 'kanskje' is not a yes/no value"),
            ("costCentre", {"id": 1}, "costCentre must be a string or a number"),
            ("dateTo", "31.12.2099", "dateTo '31.12.2099' is not a date"),
        ],
    )
    def test_bad_field(self, field: str, value: object, problem: str) -> None:
        """A wrong field names the role (by its assignment) and the field."""
        document = spoiled("approver_role_kostnadsgodkjenner.json", field, value)
        with pytest.raises(MappingError, match=problem) as caught:
            map_approver_role(document, institution="uib", fetched_at=FETCHED_AT)
        assert str(caught.value).startswith("Unit4 approver role")


class TestHostileInput:
    """For any JSON at all, the mappings return a valid record or raise MappingError."""

    @settings(max_examples=150, deadline=None)
    @given(mapping_inputs("unit4", "resource_regular.json"))
    def test_resource(self, payload: object) -> None:
        """Arbitrary, truncated or wrong-typed resources never raise anything else."""
        maps_or_refuses(
            lambda p: map_resource(p, institution="uib", fetched_at=FETCHED_AT), payload, RESOURCE
        )

    @settings(max_examples=150, deadline=None)
    @given(
        mapping_inputs(
            "unit4", "approver_role_kostnadsgodkjenner.json", "approver_role_attestant_all.json"
        )
    )
    def test_approver_role(self, payload: object) -> None:
        """Arbitrary, truncated or wrong-typed approver roles never raise anything else."""
        maps_or_refuses(
            lambda p: map_approver_role(p, institution="uib", fetched_at=FETCHED_AT), payload, ROLE
        )

    @settings(max_examples=100, deadline=None)
    @given(st.lists(json_values(), max_size=3))
    def test_cursor_advance(self, page: list[object]) -> None:
        """A hostile page either advances the cursor or raises MappingError."""
        try:
            cursor = advance(PollCursor(), page, RESOURCES)
        except MappingError:
            return
        assert decode_cursor(encode_cursor(cursor)) == cursor


def _document(key: str, stamp: str) -> dict[str, object]:
    return {"resourceId": key, "lastUpdated": {"updatedAt": stamp, "updatedBy": "X"}}


class TestPolling:
    """The cursor asks for what comes after the last document read, in a stable order."""

    def test_first_poll_has_no_filter(self) -> None:
        """A fresh cursor reads everything, ordered by updatedAt and key."""
        assert poll_query(PollCursor(), RESOURCES, company_id=" UH ", limit=50) == {
            "companyId": "UH",
            "filter": None,
            "orderBy": "lastUpdated/updatedAt,resourceId",
            "limit": "50",
            "offset": "0",
        }

    def test_keyset_after_a_page(self) -> None:
        """After a page the filter asks for later documents, or later keys at one time."""
        page = [
            _document("00000002", "2026-11-20T08:00:00Z"),
            _document("00000009", "2026-11-20T09:00:00.5+01:00"),
        ]
        cursor = advance(PollCursor(), page, RESOURCES)
        assert cursor == PollCursor(datetime(2026, 11, 20, 8, 0, 0, 500000, tzinfo=UTC), "00000009")
        assert poll_query(cursor, RESOURCES, company_id="UH", limit=2)["filter"] == (
            "lastUpdated/updatedAt gt 2026-11-20T08:00:00.500Z or"
            " (lastUpdated/updatedAt eq 2026-11-20T08:00:00.500Z and resourceId gt '00000009')"
        )

    def test_quote_in_key_is_doubled(self) -> None:
        """A quote in a key cannot break out of its string literal."""
        cursor = PollCursor(datetime(2026, 1, 1, tzinfo=UTC), "a' or 1 eq 1 or 'b")
        query = poll_query(cursor, APPROVER_ROLES, company_id="UH", limit=1)
        assert "assignmentId gt 'a'' or 1 eq 1 or ''b'" in str(query["filter"])

    def test_rewind_reads_from_earlier_inclusive(self) -> None:
        """A new cycle rewinds by the overlap and reads with ge."""
        cursor = PollCursor(datetime(2026, 11, 20, 8, tzinfo=UTC), "00000009")
        rewound = rewind(cursor, timedelta(minutes=5))
        assert rewound == PollCursor(datetime(2026, 11, 20, 7, 55, tzinfo=UTC), None)
        assert poll_query(rewound, RESOURCES, company_id="UH", limit=1)["filter"] == (
            "lastUpdated/updatedAt ge 2026-11-20T07:55:00.000Z"
        )
        assert rewind(PollCursor(), timedelta(minutes=5)) == PollCursor()

    def test_empty_page_keeps_the_cursor(self) -> None:
        """An empty page leaves the cursor as it was and ends the cycle."""
        cursor = PollCursor(datetime(2026, 1, 1, tzinfo=UTC), "7")
        assert advance(cursor, [], RESOURCES) == cursor
        assert is_last_page([], 10)
        assert not is_last_page([{}] * 10, 10)

    @pytest.mark.parametrize(
        ("page", "problem"),
        [
            ([{"resourceId": "1"}], "lastUpdated is missing"),
            ([_document("1", "yesterday")], "updatedAt 'yesterday' is not a timestamp"),
            ([_document("1", "2026-11-20T08:00:00")], "has no time zone"),
            ([{"lastUpdated": {"updatedAt": "2026-11-20T08:00:00Z"}}], "resourceId is missing"),
            (
                [_document("2", "2026-11-20T08:00:00Z"), _document("1", "2026-11-20T07:00:00Z")],
                "out of order",
            ),
            (["x"], "must be a JSON object, not a string"),
        ],
    )
    def test_bad_page(self, page: list[object], problem: str) -> None:
        """A page the cursor cannot follow stops the poll with a MappingError."""
        with pytest.raises(MappingError, match=problem):
            advance(PollCursor(), page, RESOURCES)

    @pytest.mark.parametrize(
        ("company", "limit", "problem"),
        [(" ", 10, "no companyId"), ("UH", 0, "limit must be"), ("UH", 10_001, "limit must be")],
    )
    def test_bad_query(self, company: str, limit: int, problem: str) -> None:
        """An empty company or a limit out of range is refused."""
        with pytest.raises(MappingError, match=problem):
            poll_query(PollCursor(), RESOURCES, company_id=company, limit=limit)

    def test_checkpoint_round_trip(self) -> None:
        """A cursor survives its checkpoint string, at millisecond precision."""
        for cursor in (
            PollCursor(),
            PollCursor(datetime(2026, 11, 20, 8, 0, 0, 123000, tzinfo=UTC), "k"),
        ):
            assert decode_cursor(encode_cursor(cursor)) == cursor

    @pytest.mark.parametrize(
        "checkpoint",
        [
            "",
            "[]",
            '{"updatedAt": null}',
            '{"updatedAt": null, "key": "k"}',
            '{"updatedAt": 1, "key": null}',
        ],
    )
    def test_bad_checkpoint(self, checkpoint: str) -> None:
        """A checkpoint that is no cursor is refused."""
        with pytest.raises(MappingError, match="Unit4 cursor checkpoint"):
            decode_cursor(checkpoint)

    def test_naive_timestamp_is_refused(self) -> None:
        """A cursor time without a zone cannot be put in a filter."""
        with pytest.raises(MappingError, match="timezone-aware"):
            format_timestamp(datetime(2026, 1, 1))


class TestCorrelation:
    """Unit4 records join the DFØ employee they belong to, and the leader rule reads them."""

    def test_resource_and_role_join_the_employee(self) -> None:
        """Resource 00123456 links to DFØ employee 123456; its role attaches to them."""
        hub = Hub()
        hub.feed("source.dfo.employee", dfo_employee(institution="uib", fetched_at=FETCHED_AT))
        hub.feed("source.unit4.resource", resource())
        hub.feed("source.unit4.approver-role", role())
        person = hub.anchor("source.dfo.employee/123456")
        assert hub.anchor("source.unit4.resource/123456") == person
        assert hub.anchor("source.unit4.approver-role/AR-000981") == person
        assert hub.status("source.unit4.resource/123456") is LinkStatus.LINKED

    def test_external_resource_is_a_person_of_its_own(self) -> None:
        """A resource that is no DFØ employee stays unmatched under its Unit4 id."""
        hub = Hub()
        hub.feed("source.dfo.employee", dfo_employee(institution="uib", fetched_at=FETCHED_AT))
        hub.feed("source.unit4.resource", resource("resource_external.json"))
        assert hub.anchor("source.unit4.resource/EXT-0042") == Identifier(Kind.UNIT4, "EXT-0042")
        assert hub.status("source.unit4.resource/EXT-0042") is LinkStatus.UNMATCHED

    def test_leader_rule_reads_the_mapped_role(self) -> None:
        """The head of unit with a mapped BDM role has no finding; without it, one."""
        employee = dfo_employee(institution="uib", fetched_at=FETCHED_AT)
        now = datetime(2026, 11, 25, 12, tzinfo=UTC)
        with_role = PersonView.of(
            "p-kari",
            "uib",
            [(SourceKind.DFO_EMPLOYEE, employee), (SourceKind.UNIT4_APPROVER_ROLE, role())],
        )
        assert leader_approver.evaluate(with_role, now, RuleSettings()) == []
        without = PersonView.of("p-kari", "uib", [(SourceKind.DFO_EMPLOYEE, employee)])
        [finding] = leader_approver.evaluate(without, now, RuleSettings())
        assert finding.rule_id == leader_approver.RULE_ID
        assert finding.subject.endswith("head_of_unit")


@pytest.mark.parametrize("module", [polling, odata])
def test_module_examples_hold(module: object) -> None:
    """The examples in the polling and query modules' docstrings hold."""
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert (result.attempted > 0, result.failed) == (True, 0)
