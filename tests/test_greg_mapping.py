"""Tests for the Greg mapping: golden person JSON in, valid ``no.bott.hub.greg.Person`` out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from connectors.greg.mapping import map_person, normalise_greg_id
from hub.correlation.identifiers import Kind
from hub.correlation.resolve import LinkStatus
from hub.errors import MappingError
from hub.privacy import mask_identifier, national_id_pseudonym, pseudonym
from tests.source_checks import (
    FETCHED_AT,
    SECRET,
    assert_avro,
    assert_input_untouched,
    correlated,
    dfo_employee,
    load,
)

SCHEMA = "no.bott.hub.greg.Person"
GUEST_FNR = "15059912345"  # also the DFØ future hire's fnr: the guest is later hired
UNVERIFIED_FNR = "01017012345"
PRIVATE_VALUES = (GUEST_FNR, UNVERIFIED_FNR, "C01X00T47", "99887766", "+4790000099")


def guest() -> dict[str, Any]:
    """The golden guest researcher, for tests to spoil."""
    person: dict[str, Any] = load("greg", "person_guest_researcher.json")
    return person


def mapped(payload: object) -> dict[str, object]:
    """Map a person body with the test settings."""
    return map_person(payload, institution="uio", secret=SECRET, fetched_at=FETCHED_AT)


def assert_private_values_absent(text: str) -> None:
    """No national ID, passport number or private mobile appears in ``text``."""
    for value in PRIVATE_VALUES:
        assert value not in text


class TestGoldenPersons:
    """The golden persons map to valid records with the right values."""

    @pytest.mark.parametrize("name", ["person_guest_researcher.json", "person_unregistered.json"])
    def test_golden_files_are_valid_avro(self, name: str) -> None:
        """Every golden person maps to a record that validates and round-trips."""
        record = mapped(load("greg", name))
        assert_avro(record, SCHEMA)
        assert_private_values_absent(repr(record))

    def test_header_and_names(self) -> None:
        """Ids, names, birth date and registration come out typed."""
        record = mapped(guest())
        assert record["source_system"] == "greg"
        assert record["source_id"] == record["greg_id"] == "4711"
        assert record["institution"] == "uio"
        assert record["source_timestamp"] == FETCHED_AT
        assert (record["first_name"], record["last_name"]) == ("Ingrid", "Haugland")
        assert record["birth_date"] == date(1999, 5, 15)
        assert record["registration_completed"] == datetime(2026, 8, 4, tzinfo=UTC)

    def test_trusted_identities_become_identifiers(self) -> None:
        """Verified national ID, passport and Feide id become pseudonyms and the eppn."""
        record = mapped(guest())
        assert record["national_id_pseudonym"] == pseudonym(SECRET, "nin", GUEST_FNR)
        assert record["national_id_masked"] == mask_identifier(GUEST_FNR)
        assert record["passports"] == [
            {
                "country": "DE",
                "pseudonym": pseudonym(SECRET, "passport", "DE-C01X00T47"),
                "masked": mask_identifier("C01X00T47"),
            }
        ]
        assert record["feide_id"] == "ingridha@uio.no"

    def test_identity_summaries_have_no_values(self) -> None:
        """Every identity is summarised by type and verification, without its value."""
        record = mapped(guest())
        assert record["identities"] == [
            {
                "type": "feide_id",
                "verified": "automatic",
                "verified_at": datetime(2026, 8, 4, 10, 2, 11, tzinfo=UTC),
                "invalid": False,
            },
            {
                "type": "norwegian_national_id_number",
                "verified": "automatic",
                "verified_at": datetime(2026, 8, 4, 10, 2, 11, tzinfo=UTC),
                "invalid": False,
            },
            {
                "type": "passport_number",
                "verified": "manual",
                "verified_at": datetime(2026, 7, 31, 13, 11, 6, tzinfo=UTC),
                "invalid": False,
            },
            {"type": "private_mobile", "verified": None, "verified_at": None, "invalid": False},
        ]

    def test_roles_and_consents(self) -> None:
        """Roles keep dates, sponsor and unit (a deleted one inactive); consents are booleans."""
        record = mapped(guest())
        assert record["roles"] == [
            {
                "role_id": "320",
                "type": "guest-researcher",
                "start_date": date(2026, 8, 1),
                "end_date": date(2027, 7, 31),
                "sponsor_id": "17",
                "org_unit_id": "3",
                "org_unit_active": True,
            },
            {
                "role_id": "298",
                "type": "external-partner",
                "start_date": date(2025, 1, 1),
                "end_date": date(2025, 6, 30),
                "sponsor_id": "17",
                "org_unit_id": "8",
                "org_unit_active": False,
            },
        ]
        assert record["consents"] == [{"type": "publish", "choice": True}]

    def test_unregistered_guest(self) -> None:
        """Untrusted identities give no identifiers; bare and object references both map."""
        record = mapped(load("greg", "person_unregistered.json"))
        assert record["greg_id"] == "4712"
        assert record["registration_completed"] is None
        assert record["birth_date"] is None
        assert record["national_id_pseudonym"] is None
        assert record["passports"] == []
        assert record["feide_id"] is None
        identities = record["identities"]
        assert isinstance(identities, list)
        assert [i["invalid"] for i in identities] == [False, True]
        roles = record["roles"]
        assert isinstance(roles, list)
        assert (roles[0]["sponsor_id"], roles[0]["org_unit_id"]) == ("17", "5")
        assert roles[0]["end_date"] is None
        assert roles[0]["org_unit_active"] is True

    def test_registration_as_timestamp(self) -> None:
        """A registration time with a zone is kept as that instant in UTC."""
        person = guest()
        person["registration_completed_date"] = "2026-08-04T10:00:00+02:00"
        assert mapped(person)["registration_completed"] == datetime(2026, 8, 4, 8, tzinfo=UTC)

    def test_dummy_national_id_is_dropped(self) -> None:
        """A DFØ-style dummy national ID identifies nobody and is left out."""
        person = guest()
        person["identities"][1]["value"] = "15059900100"
        assert mapped(person)["national_id_pseudonym"] is None

    def test_same_trusted_number_twice_is_one(self) -> None:
        """The same national ID from two sources is one identifier."""
        person = guest()
        person["identities"].append({**person["identities"][1], "id": 9999, "source": "greg"})
        assert mapped(person)["national_id_pseudonym"] == pseudonym(SECRET, "nin", GUEST_FNR)

    def test_d_number_is_dnr(self) -> None:
        """A D-number becomes a ``dnr`` pseudonym, as in DFØ's mapping."""
        person = guest()
        person["identities"][1]["value"] = "55059912345"
        assert str(mapped(person)["national_id_pseudonym"]).startswith("dnr:")

    def test_input_is_not_modified(self) -> None:
        """Mapping leaves the parsed payload untouched."""
        assert_input_untouched(mapped, guest())

    def test_minimal_person(self) -> None:
        """A person with only an id maps to a valid record with defaults."""
        record = mapped({"id": 1})
        assert_avro(record, SCHEMA)
        assert (record["roles"], record["identities"], record["passports"]) == ([], [], [])

    @pytest.mark.parametrize(("raw", "expected"), [(321, "321"), ("0321", "321"), (" 7 ", "7")])
    def test_normalise_greg_id(self, raw: object, expected: str) -> None:
        """Greg ids lose leading zeros whether sent as number or string."""
        assert normalise_greg_id(raw) == expected


class TestRefusals:
    """What does not fit is refused, naming the record and field, never an identity value."""

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("first_name", ["Ingrid"], "first_name must be a string, not a list"),
            ("date_of_birth", "15.05.1999", "date_of_birth '15.05.1999' is not a date"),
            ("registration_completed_date", "2026-08-04T10:00:00", "has no time zone"),
            ("registration_completed_date", 20260804, "must be a timestamp string"),
            ("roles", {"id": "x"}, r"roles\[0\]\.id 'x' is not an id"),
            ("roles", [{"id": 1}], r"roles\[0\]\.type is missing"),
            ("roles", [{"id": 1, "type": "x", "orgunit": {}}], "orgunit is an object without"),
            ("roles", [{"id": 1, "type": "x", "sponsor": True}], r"sponsor must be a number"),
            ("roles", [{"id": 1, "type": "x", "end_date": "2027-02-30"}], "is not a date"),
            ("consents", [{"choice": "yes"}], r"consents\[0\]\.type is missing"),
            ("consents", [{"type": "publish"}], r"consents\[0\]\.type must be an object"),
            ("consents", [{"type": {"identifier": "publish"}, "choice": "kanskje"}], "yes/no"),
            ("identities", "feide_id", "identities must be a list or an object"),
            ("identities", [{"value": "x"}], r"identities\[0\]\.type is missing"),
            ("first_name", f"Ingrid {GUEST_FNR}", "first_name holds what looks like a national ID"),
            (
                "identities",
                [{"type": GUEST_FNR, "value": "x"}],
                r"identities\[0\]\.type holds what looks like a national ID",
            ),
            ("roles", [{"id": 1, "type": GUEST_FNR}], r"roles\[0\]\.type holds what looks like"),
        ],
    )
    def test_bad_field(self, field: str, value: object, problem: str) -> None:
        """A wrong-typed or unparseable field names the record and the field."""
        person = guest()
        person[field] = value
        with pytest.raises(MappingError, match=problem) as caught:
            mapped(person)
        assert str(caught.value).startswith("Greg person 4711: ")
        assert_private_values_absent(str(caught.value))

    @pytest.mark.parametrize(
        ("index", "value", "problem"),
        [
            (1, "1505991234", r"identities\[1\]\.value is not 11 digits"),
            (1, 15059912345, r"identities\[1\]\.value must be a string"),
            (2, "C01X00T47", r"identities\[2\]\.value is not a passport number"),
            (2, {"number": "C01X00T47"}, r"identities\[2\]\.value must be a string"),
            (0, "ingridha", r"identities\[0\]\.value 'ingridha' is not a Feide name"),
            (0, f"{GUEST_FNR}@uio.no", r"identities\[0\]\.value holds what looks like"),
        ],
    )
    def test_bad_trusted_identity_value(self, index: int, value: object, problem: str) -> None:
        """A trusted identity with a malformed value is refused without quoting it."""
        person = guest()
        person["identities"][index]["value"] = value
        with pytest.raises(MappingError, match=problem) as caught:
            mapped(person)
        assert_private_values_absent(str(caught.value))

    def test_untrusted_identity_values_are_not_read(self) -> None:
        """An unverified identity's value is never read, so junk there does no harm."""
        person = load("greg", "person_unregistered.json")
        person["identities"][0]["value"] = {"whatever": ["junk"]}
        assert mapped(person)["national_id_pseudonym"] is None

    def test_two_trusted_national_ids(self) -> None:
        """Two different trusted national IDs are refused: which one is right is for Greg."""
        person = guest()
        person["identities"].append({**person["identities"][1], "id": 9999, "value": "01017012345"})
        with pytest.raises(MappingError, match="identities has 2 different trusted national IDs"):
            mapped(person)

    @pytest.mark.parametrize(
        ("payload", "problem"),
        [
            ([], "Greg person must be a JSON object, not a list"),
            ("{}", "must be a JSON object, not a string"),
            ({}, "Greg person: id is missing"),
            ({"id": -1}, "is not an id"),
            ({"id": 10**40}, "'out of range' is not an id"),
            ({"id": "1; DROP TABLE"}, "is not an id"),
            ({"id": 1.5}, "must be a number or a string of digits"),
        ],
    )
    def test_bad_envelope(self, payload: object, problem: str) -> None:
        """A body that is not one person object with an id is refused."""
        with pytest.raises(MappingError, match=problem):
            mapped(payload)

    def test_settings_are_checked(self) -> None:
        """An empty secret or institution, or a naive fetch time, is refused."""
        with pytest.raises(MappingError, match="no pseudonym secret"):
            map_person(guest(), institution="uio", secret="", fetched_at=FETCHED_AT)
        with pytest.raises(MappingError, match="no institution"):
            map_person(guest(), institution=" ", secret=SECRET, fetched_at=FETCHED_AT)
        with pytest.raises(MappingError, match="timezone-aware"):
            map_person(guest(), institution="uio", secret=SECRET, fetched_at=datetime(2026, 1, 1))


class TestCorrelation:
    """Greg records correlate with DFØ's as the hub expects."""

    def test_guest_later_hired_is_one_person(self) -> None:
        """The guest and the DFØ hire with the same national ID become one person."""
        hire = dfo_employee(load("dfo", "ansatt_future_hire.json"))
        hub = correlated(("source.greg.person", mapped(guest())), ("source.dfo.employee", hire))
        refs = ["source.greg.person/4711", f"source.dfo.employee/{hire['source_id']}"]
        assert len({hub.anchor(ref) for ref in refs}) == 1
        assert hub.anchor(refs[0]).kind is Kind.NIN
        assert hub.anchor(refs[0]).value == national_id_pseudonym(SECRET, GUEST_FNR).split(":")[1]
        assert all(hub.status(ref) is LinkStatus.LINKED for ref in refs)

    def test_passport_matches_dfo_passport(self) -> None:
        """Greg's ``DE-…`` passport has the pseudonym DFØ's annenId (DE, …) has."""
        ansatt = load("dfo", "ansatt_regular.json")
        ansatt["ansatt"][0]["fnr"] = ""
        ansatt["ansatt"][0]["annenId"] = [{"idType": "02", "idLand": "DE", "idNr": "C01X00T47"}]
        person = guest()
        del person["identities"][1]
        hub = correlated(
            ("source.dfo.employee", dfo_employee(ansatt)), ("source.greg.person", mapped(person))
        )
        assert hub.status("source.greg.person/4711") is LinkStatus.LINKED

    def test_unverified_national_id_does_not_link(self) -> None:
        """A guest whose national ID is unverified stays apart from the employee with it."""
        hub = correlated(
            ("source.dfo.employee", dfo_employee(load("dfo", "ansatt_regular.json"))),
            ("source.greg.person", mapped(load("greg", "person_unregistered.json"))),
        )
        assert hub.status("source.greg.person/4712") is LinkStatus.UNMATCHED
