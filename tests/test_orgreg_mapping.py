"""Tests for the OrgReg mapping: golden units in, valid OrgUnit records out, usable as reference."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings

from connectors.orgreg.mapping import map_org_unit, normalise_ou_id, units
from hub.correlation.extract import identities_of
from hub.errors import MappingError
from hub.person_view import PersonView, ReferenceData, SourceKind
from hub.reference import keys_for
from hub.rules import org_unit_unknown
from hub.rules.settings import RuleSettings
from tests.source_checks import (
    assert_avro,
    dfo_employee,
    load,
    mapping_inputs,
    maps_or_refuses,
)

FETCHED_AT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
SCHEMA = "no.bott.hub.orgreg.OrgUnit"


def unit(name: str = "ou_department.json") -> dict[str, object]:
    """Map a golden OrgReg unit with the test settings."""
    return map_org_unit(load("orgreg", name), institution="uio", fetched_at=FETCHED_AT)


def spoiled(field: str, value: object) -> dict[str, Any]:
    """The golden department with one field replaced."""
    document: dict[str, Any] = load("orgreg", "ou_department.json")
    document[field] = value
    return document


class TestMapOrgUnit:
    """Golden units map to valid OrgUnit records."""

    @pytest.mark.parametrize("name", ["ou_department.json", "ou_root.json", "ou_closed.json"])
    def test_golden_files_are_valid_avro(self, name: str) -> None:
        """Every golden unit maps to a record that validates and round-trips."""
        assert_avro(unit(name), SCHEMA)

    def test_department(self) -> None:
        """Ids, dates, names in three languages and external keys come through."""
        result = unit()
        assert result["ou_id"] == result["source_id"] == "1430"
        assert (result["institution"], result["source_system"]) == ("uio", "orgreg")
        assert result["source_timestamp"] == FETCHED_AT
        assert result["parent_id"] == "1400"
        assert (result["valid_from"], result["valid_to"]) == (date(2010, 1, 1), None)
        assert result["names"] == {
            "name_nob": "Institutt for biovitenskap",
            "name_nno": "Institutt for biovitskap",
            "name_eng": "Department of Biosciences",
        }
        assert result["external_keys"] == [
            {"source_system": "dfo_sap", "type": "dfo_org_id", "value": "50001234"},
            {"source_system": "sapuio", "type": "legacy_stedkode", "value": "151400"},
        ]

    def test_root_has_no_parent(self) -> None:
        """OrgReg's parent 0 marks the root; it becomes None, and missing names are None."""
        result = unit("ou_root.json")
        assert result["parent_id"] is None
        assert result["names"] == {
            "name_nob": "Universitetet i Oslo",
            "name_nno": None,
            "name_eng": "University of Oslo",
        }

    def test_closed_unit_with_string_ids_and_unwrapped_key(self) -> None:
        """String ids, a trimmed name, empty names and a single unwrapped key map."""
        result = unit("ou_closed.json")
        assert (result["ou_id"], result["parent_id"]) == ("1488", "1400")
        assert result["valid_to"] == date(2026, 6, 30)
        assert result["names"] == {
            "name_nob": "Seksjon for gammel forskning",
            "name_nno": None,
            "name_eng": None,
        }
        assert result["external_keys"] == [
            {"source_system": "dfo_sap", "type": "dfo_org_id", "value": "50001488"}
        ]

    def test_no_names_or_keys(self) -> None:
        """A unit with only an id and a start maps with empty names and keys."""
        result = map_org_unit(
            {"ouId": 9, "validFrom": "2020-01-01"}, institution="uio", fetched_at=FETCHED_AT
        )
        assert_avro(result, SCHEMA)
        assert result["external_keys"] == []
        assert result["names"] == {"name_nob": None, "name_nno": None, "name_eng": None}

    def test_input_is_not_modified(self) -> None:
        """Mapping leaves the parsed unit untouched."""
        document = load("orgreg", "ou_closed.json")
        before = copy.deepcopy(document)
        map_org_unit(document, institution="uio", fetched_at=FETCHED_AT)
        assert document == before

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("validFrom", None, "validFrom is missing"),
            ("validFrom", "2010-02-30", "validFrom '2010-02-30' is not a date"),
            ("validTo", 2026, "validTo must be a date string"),
            ("parent", -1, "parent '-1' is not an OrgReg unit id"),
            ("parent", True, "parent must be a number, not a boolean"),
            ("parent", "1" * 13, "parent has 13 digits"),
            ("name", "Institutt", "name must be an object, not a string"),
            ("name", {"nob": ["IBV"]}, r"name\.nob must be a string, not a list"),
            (
                "externalKeys",
                [{"type": "x", "value": "1"}],
                r"externalKeys\[0\]\.sourceSystem is missing",
            ),
            (
                "externalKeys",
                [{"sourceSystem": "a", "type": " ", "value": "1"}],
                r"externalKeys\[0\]\.type is missing",
            ),
            (
                "externalKeys",
                [{"sourceSystem": "a", "type": "b", "value": {}}],
                r"externalKeys\[0\]\.value must be",
            ),
            ("externalKeys", "dfo_sap", "externalKeys must be a list or an object"),
        ],
    )
    def test_bad_field(self, field: str, value: object, problem: str) -> None:
        """A wrong-typed or missing field names the unit and the field."""
        with pytest.raises(MappingError, match=problem) as caught:
            map_org_unit(spoiled(field, value), institution="uio", fetched_at=FETCHED_AT)
        assert str(caught.value).startswith("OrgReg unit 1430: ")

    @pytest.mark.parametrize(
        ("payload", "problem"),
        [
            ([], "OrgReg unit must be a JSON object, not a list"),
            ({"validFrom": "2020-01-01"}, "OrgReg unit: ouId is missing"),
            ({"ouId": "14a"}, "ouId '14a' is not an OrgReg unit id"),
            ({"ouId": 1.5}, "ouId must be a string or a number"),
        ],
    )
    def test_bad_unit(self, payload: object, problem: str) -> None:
        """A body that is no unit is rejected."""
        with pytest.raises(MappingError, match=problem):
            map_org_unit(payload, institution="uio", fetched_at=FETCHED_AT)

    def test_listing(self) -> None:
        """A listing is a list of units; anything else is rejected."""
        assert len(units(load("orgreg", "ou_listing.json"))) == 3
        with pytest.raises(MappingError, match="must be a JSON list, not an object"):
            units({"ou": []})

    @pytest.mark.parametrize(("raw", "expected"), [(1430, "1430"), ("01430", "1430"), (0, "0")])
    def test_normalise_ou_id(self, raw: object, expected: str) -> None:
        """Unit ids are whole numbers without leading zeros."""
        assert normalise_ou_id(raw) == expected

    @pytest.mark.parametrize("raw", [None, "", "x", -3, True])
    def test_normalise_ou_id_rejects(self, raw: object) -> None:
        """Anything that is not a non-negative whole number is rejected."""
        with pytest.raises(MappingError, match="OrgReg unit id"):
            normalise_ou_id(raw)

    @settings(max_examples=200, deadline=None)
    @given(mapping_inputs("orgreg", "ou_department.json", "ou_closed.json"))
    def test_hostile_input(self, payload: object) -> None:
        """For any JSON at all, the mapping returns a valid record or raises MappingError."""
        maps_or_refuses(
            lambda p: map_org_unit(p, institution="uio", fetched_at=FETCHED_AT), payload, SCHEMA
        )


class TestAsReferenceData:
    """Mapped units are reference data: no identity, found by DFØ's org unit id."""

    def test_no_identity_and_table_keys(self) -> None:
        """An org unit correlates with nobody and is stored under its id and DFØ key."""
        result = unit()
        assert identities_of("source.orgreg.orgunit", result) == []
        assert keys_for("source.orgreg.orgunit", result) == [
            "orgreg:1430",
            "orgreg-by-dfo:50001234",
        ]

    def test_dfo_employee_unit_is_known(self) -> None:
        """DFØ's org unit of employee 123456 is found in OrgReg; the unknown-unit rule is
        silent, and fires once OrgReg closes the unit."""
        employee = dfo_employee(institution="uio", fetched_at=datetime(2026, 11, 1, tzinfo=UTC))
        department = unit()
        reference = ReferenceData(orgreg_units={"1430": department})
        assert reference.orgreg_for_dfo(str(employee["org_unit_id"])) == department
        view = PersonView.of("p-kari", "uio", [(SourceKind.DFO_EMPLOYEE, employee)])
        now = datetime(2026, 11, 22, 12, tzinfo=UTC)
        known = PersonView(view.person_key, "uio", records=view.records, reference=reference)
        assert org_unit_unknown.evaluate(known, now, RuleSettings()) == []
        closed_unit = department | {"valid_to": date(2026, 10, 31)}
        closed = PersonView(
            view.person_key,
            "uio",
            records=view.records,
            reference=ReferenceData(orgreg_units={"1430": closed_unit}),
        )
        [finding] = org_unit_unknown.evaluate(closed, now, RuleSettings())
        assert finding.subject.endswith("unit:50001234")
