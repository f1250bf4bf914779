"""Tests for the Felles IAM mapping: SCIM Users in, valid IAM account and person records out."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.felles_iam.mapping import UserRecords, map_user
from hub.correlation.identifiers import Kind
from hub.correlation.resolve import LinkStatus
from hub.errors import MappingError
from hub.privacy import pseudonym
from tests.source_checks import (
    FETCHED_AT,
    SECRET,
    assert_avro,
    assert_input_untouched,
    correlated,
    dfo_employee,
    load,
)

ACCOUNT = "no.bott.hub.iam.Account"
PERSON = "no.bott.hub.iam.Person"
KARI = "362ff2749bfb11eabbd5600308a4105a"
INGRID = "9c1d2e3f-4a5b-4c6d-8e7f-001122334455"
GUEST_FNR = "15059912345"


def user(name: str) -> dict[str, Any]:
    """A golden SCIM User, for tests to spoil."""
    found: dict[str, Any] = load("felles_iam", name)
    return found


def mapped(payload: object) -> UserRecords:
    """Map a User with the test settings."""
    return map_user(payload, institution="uib", secret=SECRET, fetched_at=FETCHED_AT)


def account(payload: object) -> dict[str, object]:
    """The account record of a User."""
    return mapped(payload).account


def person(payload: object) -> dict[str, object]:
    """The person record of a primary User (None is a test failure)."""
    found = mapped(payload).person
    assert found is not None
    return found


class TestGoldenUsers:
    """The golden Users map to valid records with the right values."""

    @pytest.mark.parametrize("name", ["user_employee.json", "user_guest.json", "user_admin.json"])
    def test_golden_users_are_valid_avro(self, name: str) -> None:
        """Every golden User maps to records that validate and round-trip."""
        records = mapped(user(name))
        assert_avro(records.account, ACCOUNT)
        if records.person is not None:
            assert_avro(records.person, PERSON)
        assert GUEST_FNR not in repr(records)

    def test_employee_account(self) -> None:
        """The account is the User id; uhun, Feide name, status, affiliation and DFO_PID."""
        record = account(user("user_employee.json"))
        assert (record["source_system"], record["source_id"]) == ("felles_iam", KARI)
        assert record["institution"] == "uib"
        assert record["iam_person_id"] == KARI
        assert record["username"] == "kno012"
        assert record["feide_principal_name"] == "kno012@uib.no"
        assert (record["status"], record["expires_on"]) == ("ACTIVE", None)
        assert record["affiliations"] == [
            {
                "affiliation": "ANSATT",
                "status": None,
                "org_unit_id": "121500",
                "source_system": None,
            }
        ]
        assert record["external_ids"] == [{"id_type": "DFO_PID", "value": "123456"}]

    def test_employee_person(self) -> None:
        """A primary account's person is the UH-ID, with names, username and links."""
        record = person(user("user_employee.json"))
        assert record["source_id"] == record["iam_person_id"] == record["uhid"] == KARI
        assert (record["style"], record["source_system"]) == ("felles_iam", "felles_iam")
        assert (record["first_name"], record["last_name"]) == ("Kari", "Nordmann")
        assert (record["usernames"], record["primary_username"]) == (["kno012"], "kno012")
        assert record["external_ids"] == [{"id_type": "DFO_PID", "value": "123456"}]
        assert record["national_id_pseudonym"] is None
        assert record["reserved_from_publication"] is None

    def test_guest_with_national_id(self) -> None:
        """An External guest is TILKNYTTET, with GREG_PID and the national ID as pseudonym."""
        records = mapped(user("user_guest.json"))
        assert records.person is not None
        nin = pseudonym(SECRET, "nin", GUEST_FNR)
        assert records.person["national_id_pseudonym"] == nin
        assert records.person["external_ids"] == [{"id_type": "GREG_PID", "value": "4711"}]
        assert records.account["external_ids"] == [
            {"id_type": "NO_BIRTHNO", "value": nin},
            {"id_type": "GREG_PID", "value": "4711"},
        ]
        assert records.account["affiliations"] == [
            {
                "affiliation": "TILKNYTTET",
                "status": None,
                "org_unit_id": "121500",
                "source_system": None,
            }
        ]

    def test_admin_account_has_no_person(self) -> None:
        """A disabled admin account belongs to its owner's UH-ID but describes no person."""
        records = mapped(user("user_admin.json"))
        assert records.person is None
        assert records.account["iam_person_id"] == KARI
        assert records.account["status"] == "DISABLED"
        assert records.account["affiliations"] == []
        assert records.account["feide_principal_name"] is None

    @pytest.mark.parametrize(
        ("change", "field", "expected"),
        [
            ({"active": None}, "status", "UNKNOWN"),
            ({"active": "false"}, "status", "DISABLED"),
            (
                {"userType": "Student"},
                "affiliations",
                [
                    {
                        "affiliation": "STUDENT",
                        "status": None,
                        "org_unit_id": "121500",
                        "source_system": None,
                    }
                ],
            ),
            ({"userType": "Robot"}, "affiliations", []),
            ({"externalId": None}, "iam_person_id", None),
            ({"userName": "KNO012"}, "username", "KNO012"),
        ],
    )
    def test_account_variants(self, change: dict[str, Any], field: str, expected: object) -> None:
        """Status, affiliation, owner and username follow the User's fields."""
        assert account({**user("user_employee.json"), **change})[field] == expected

    def test_no_person_without_uhid(self) -> None:
        """A primary account without externalId gives no person (it has no person id)."""
        assert mapped({**user("user_employee.json"), "externalId": None}).person is None

    def test_employee_number_from_enterprise_extension(self) -> None:
        """The enterprise extension's employee number serves when no:edu has none."""
        payload = user("user_employee.json")
        del payload["no:edu:scim:user"]["employeeNumber"]
        assert account(payload)["external_ids"] == [{"id_type": "DFO_PID", "value": "123456"}]

    def test_minimal_user(self) -> None:
        """A User with only id and userName maps to a valid account and no person."""
        records = mapped({"id": "abc", "userName": "abc@uit.no"})
        assert_avro(records.account, ACCOUNT)
        assert records.person is None

    def test_input_is_not_modified(self) -> None:
        """Mapping leaves the parsed User untouched."""
        assert_input_untouched(mapped, user("user_guest.json"))


class TestRefusals:
    """What does not fit is refused, naming the User and field, never the national ID."""

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            ({"id": None}, "Felles IAM user: id is missing"),
            ({"id": "../etc"}, "'../etc' is not a user id"),
            ({"externalId": 17}, "externalId must be a string"),
            ({"userName": None}, "userName is missing"),
            ({"userName": "@uib.no"}, "is not a username"),
            ({"userName": "a b@uib.no"}, "is not a username"),
            ({"active": "kanskje"}, "active 'kanskje' is not a yes/no"),
            ({"name": "Kari Nordmann"}, "name must be an object"),
            ({"userType": ["Employee"]}, "userType must be a string"),
            ({"no:edu:scim:user": ["primary"]}, "no:edu:scim:user must be an object"),
            ({"name": {"givenName": GUEST_FNR}}, "name.givenName holds what looks like"),
            ({"userName": f"{GUEST_FNR}@uib.no"}, "userName holds what looks like"),
        ],
    )
    def test_bad_field(self, change: dict[str, Any], problem: str) -> None:
        """A wrong-typed or unparseable field names the User and the field."""
        with pytest.raises(MappingError, match=problem):
            mapped({**user("user_employee.json"), **change})

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("employeeNumber", "12a", "no:edu:scim:user.employeeNumber '12a' is not an id"),
            ("employeeNumber", "999", "the two extensions give different employee numbers"),
            ("gregPersonNumber", {"id": 1}, "gregPersonNumber must be a number"),
            ("norEduPersonNIN", "1505991234", "norEduPersonNIN is not 11 digits"),
            ("primaryOrgUnit", "121500", "primaryOrgUnit must be an object"),
            ("accountType", 1, "accountType must be a string"),
            ("eduPersonPrincipalName", "kno012", "'kno012' is not a Feide name"),
            ("primaryOrgUnit", {"legacyStedkode": GUEST_FNR}, "legacyStedkode holds what looks"),
        ],
    )
    def test_bad_extension_field(self, field: str, value: object, problem: str) -> None:
        """A bad value in the no:edu extension is named by its path, never quoted if a NIN."""
        payload = user("user_employee.json")
        payload["no:edu:scim:user"][field] = value
        with pytest.raises(MappingError, match=problem) as caught:
            mapped(payload)
        assert "1505991234" not in str(caught.value)

    @pytest.mark.parametrize("payload", [[], "user", None, 5])
    def test_not_an_object(self, payload: object) -> None:
        """A body that is not a JSON object is refused."""
        with pytest.raises(MappingError, match="Felles IAM user must be a JSON object"):
            mapped(payload)

    def test_settings_are_checked(self) -> None:
        """An empty secret or institution is refused."""
        with pytest.raises(MappingError, match="no pseudonym secret"):
            map_user(
                user("user_employee.json"), institution="uib", secret="", fetched_at=FETCHED_AT
            )
        with pytest.raises(MappingError, match="no institution"):
            map_user(
                user("user_employee.json"), institution="", secret=SECRET, fetched_at=FETCHED_AT
            )


class TestCorrelation:
    """Felles IAM records correlate with DFØ's as the hub expects."""

    def test_account_and_person_join_the_dfo_employee(self) -> None:
        """Kari's account and person (employeeNumber 00123456) are DFØ employee 123456."""
        records = mapped(user("user_employee.json"))
        assert records.person is not None
        employee = dfo_employee(load("dfo", "ansatt_regular.json"))
        employee["institution"] = "uib"
        hub = correlated(
            ("source.dfo.employee", employee),
            ("source.iam.account", records.account),
            ("source.iam.person", records.person),
        )
        refs = [
            "source.dfo.employee/123456",
            f"source.iam.account/{KARI}",
            f"source.iam.person/{KARI}",
        ]
        assert len({hub.anchor(ref) for ref in refs}) == 1
        assert all(hub.status(ref) is LinkStatus.LINKED for ref in refs)

    def test_admin_account_joins_its_owner_by_uhid(self) -> None:
        """The admin account, with only the owner's UH-ID, joins Kari's person."""
        hub = correlated(
            ("source.iam.person", person(user("user_employee.json"))),
            ("source.iam.account", account(user("user_admin.json"))),
        )
        admin = "source.iam.account/7b00aa11-0000-4000-8000-00000000a001"
        assert hub.anchor(admin) == hub.anchor(f"source.iam.person/{KARI}")
        assert hub.anchor(admin).kind is Kind.DFO  # the person's most stable identifier
        assert hub.status(admin) is LinkStatus.LINKED
