"""Tests for the Cerebrum mapping: recorded REST responses in, valid IAM records out."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest

from connectors.cerebrum.mapping import AccountBodies, PersonBodies, map_account, map_person
from connectors.greg.mapping import map_person as map_greg_person
from hub.correlation.identifiers import Kind
from hub.correlation.resolve import LinkStatus
from hub.errors import MappingError
from hub.privacy import mask_identifier, pseudonym
from tests.source_checks import (
    FETCHED_AT,
    SECRET,
    assert_avro,
    assert_input_untouched,
    correlated,
    dfo_employee,
    load,
)

PERSON = "no.bott.hub.iam.Person"
ACCOUNT = "no.bott.hub.iam.Account"
EMPLOYEE_FNR = "01017012345"
GUEST_FNR = "15059912345"
PRIVATE_VALUES = (EMPLOYEE_FNR, GUEST_FNR, "FK1234567", "C01X00T47")
KARI_AFFILIATIONS = [
    {
        "affiliation": "ANSATT",
        "status": "vitenskapelig",
        "org_unit_id": "1234",
        "source_system": "DFO_SAP",
    },
    {
        "affiliation": "TILKNYTTET",
        "status": "ekst_partner",
        "org_unit_id": "1300",
        "source_system": "GREG",
    },
]


def employee_bodies() -> PersonBodies:
    """The recorded responses for Kari Nordmann (person 5501)."""
    return PersonBodies.from_responses("5501", load("cerebrum", "person_employee.json"))


def guest_bodies() -> PersonBodies:
    """The recorded responses for the guest Ingrid Haugland (person 5502)."""
    return PersonBodies.from_responses("5502", load("cerebrum", "person_guest.json"))


def primary_bodies() -> AccountBodies:
    """The recorded responses for Kari's primary account kno012, with its owner's."""
    return AccountBodies.from_responses("kno012", load("cerebrum", "account_primary.json"), "5501")


def locked_bodies() -> AccountBodies:
    """The recorded responses for Ola's locked account olan, with its owner's."""
    return AccountBodies.from_responses("olan", load("cerebrum", "account_locked.json"), "5601")


def person(bodies: PersonBodies, realm: str | None = "uio.no") -> dict[str, object]:
    """Map person bodies with the test settings."""
    return map_person(
        bodies, institution="uio", secret=SECRET, fetched_at=FETCHED_AT, feide_realm=realm
    )


def account(bodies: AccountBodies, realm: str | None = "uio.no") -> dict[str, object]:
    """Map account bodies with the test settings."""
    return map_account(
        bodies, institution="uio", secret=SECRET, fetched_at=FETCHED_AT, feide_realm=realm
    )


def recorded_person(responses: object) -> dict[str, object]:
    """Map person 5501 from responses by path (MappingError when they are not a mapping)."""
    if not isinstance(responses, dict):
        raise MappingError("the recorded responses are not a mapping")
    return person(PersonBodies.from_responses("5501", responses))


def recorded_account(responses: object) -> dict[str, object]:
    """Map account kno012 and its owner from responses by path."""
    if not isinstance(responses, dict):
        raise MappingError("the recorded responses are not a mapping")
    return account(AccountBodies.from_responses("kno012", responses, "5501"))


def assert_private_values_absent(text: str) -> None:
    """No national ID or passport number appears in ``text``."""
    for value in PRIVATE_VALUES:
        assert value not in text


@pytest.mark.parametrize(
    ("mapper", "bodies", "schema"),
    [
        (person, employee_bodies, PERSON),
        (person, guest_bodies, PERSON),
        (account, primary_bodies, ACCOUNT),
        (account, locked_bodies, ACCOUNT),
    ],
)
def test_recorded_responses_are_valid_avro(mapper: Any, bodies: Any, schema: str) -> None:
    """Every recorded set of responses maps to a record that validates and round-trips."""
    record = mapper(bodies())
    assert_avro(record, schema)
    assert_private_values_absent(repr(record))


class TestPersons:
    """Recorded person responses map to valid Person records."""

    def test_employee(self) -> None:
        """The employee's ids, names, identity numbers and accounts come out right."""
        record = person(employee_bodies())
        assert (record["source_system"], record["style"]) == ("cerebrum", "cerebrum")
        assert record["source_id"] == record["iam_person_id"] == "5501"
        assert record["uhid"] is None
        assert (record["first_name"], record["last_name"]) == ("Kari", "Nordmann")
        assert record["birth_date"] == date(1970, 1, 1)
        assert record["national_id_pseudonym"] == pseudonym(SECRET, "nin", EMPLOYEE_FNR)
        assert record["national_id_masked"] == mask_identifier(EMPLOYEE_FNR)
        assert record["passports"] == [
            {
                "country": "NO",
                "pseudonym": pseudonym(SECRET, "passport", "NO-FK1234567"),
                "masked": mask_identifier("FK1234567"),
            }
        ]
        assert record["external_ids"] == [
            {"id_type": "DFO_PID", "value": "123456"},
            {"id_type": "GREG_PID", "value": "4711"},
        ]
        assert record["usernames"] == ["kno012", "kno012-drift"]
        assert record["primary_username"] == "kno012"
        assert record["feide_principal_name"] == "kno012@uio.no"
        assert record["public_visibility_consent"] is None
        assert record["reserved_from_publication"] is False

    def test_employee_affiliations(self) -> None:
        """Affiliations keep affiliation, status, unit and source."""
        assert person(employee_bodies())["affiliations"] == KARI_AFFILIATIONS

    def test_guest(self) -> None:
        """Cerebrum's own id type names, a deleted affiliation and a reservation are read."""
        record = person(guest_bodies(), realm=None)
        assert record["iam_person_id"] == "5502"
        assert record["birth_date"] == date(1999, 5, 15)
        assert record["external_ids"] == [{"id_type": "GREG_PID", "value": "4711"}]
        assert record["national_id_pseudonym"] == pseudonym(SECRET, "nin", GUEST_FNR)
        assert record["affiliations"] == [
            {
                "affiliation": "TILKNYTTET",
                "status": "gjesteforsker",
                "org_unit_id": "339",
                "source_system": "GREG",
            }
        ]
        assert record["reserved_from_publication"] is True
        assert record["feide_principal_name"] is None

    @pytest.mark.parametrize(
        ("consents", "expected"),
        [
            ([{"name": "publish", "type": "opt-in"}], True),
            ([{"name": "greg-publish", "type": "opt-out"}], False),
            ([{"name": "cristin", "type": "opt-in"}], None),
            ([], None),
        ],
    )
    def test_publish_consent(self, consents: list[dict[str, str]], expected: bool | None) -> None:
        """A publishing consent is true when opted in, false when opted out, else null."""
        bodies = replace(employee_bodies(), consents={"consents": consents})
        assert person(bodies)["public_visibility_consent"] is expected

    def test_no_primary_account(self) -> None:
        """Without a primary account there is no primary username nor Feide name."""
        bodies = replace(employee_bodies(), accounts={"accounts": []})
        record = person(bodies)
        assert (record["usernames"], record["primary_username"]) == ([], None)
        assert record["feide_principal_name"] is None

    def test_minimal_person(self) -> None:
        """A person with only an id and empty lists maps to a valid record."""
        bodies = PersonBodies(
            person={"id": 1},
            affiliations={"affiliations": []},
            external_ids={"external_ids": []},
            accounts={"accounts": []},
            consents={"consents": []},
        )
        record = person(bodies)
        assert_avro(record, PERSON)
        assert record["national_id_pseudonym"] is None

    def test_input_is_not_modified(self) -> None:
        """Mapping leaves the parsed bodies untouched."""
        assert_input_untouched(person, employee_bodies())
        assert_input_untouched(account, primary_bodies())

    def test_paths(self) -> None:
        """The bodies' request paths are the API's."""
        assert PersonBodies.paths("5501") == {
            "person": "/v1/persons/5501",
            "affiliations": "/v1/persons/5501/affiliations",
            "external_ids": "/v1/persons/5501/external-ids",
            "accounts": "/v1/persons/5501/accounts",
            "consents": "/v1/persons/5501/consents",
        }

    def test_missing_response(self) -> None:
        """Gathering bodies without one of the responses names the missing path."""
        responses = load("cerebrum", "person_employee.json")
        del responses["/v1/persons/5501/consents"]
        with pytest.raises(MappingError, match="no response for /v1/persons/5501/consents"):
            PersonBodies.from_responses("5501", responses)


class TestAccounts:
    """Recorded account responses map to valid Account records."""

    def test_primary_account(self) -> None:
        """The account's name is its id; owner, Feide name and status come out right."""
        record = account(primary_bodies())
        assert record["source_id"] == record["username"] == "kno012"
        assert record["iam_person_id"] == "5501"
        assert record["feide_principal_name"] == "kno012@uio.no"
        assert (record["status"], record["expires_on"]) == ("ACTIVE", None)
        assert record["publicly_visible"] is None

    def test_affiliations_by_priority_with_owner_status(self) -> None:
        """Affiliations come by priority, with status and source from the owner's match."""
        assert account(primary_bodies())["affiliations"] == [
            *KARI_AFFILIATIONS,
            {"affiliation": "STUDENT", "status": None, "org_unit_id": "77", "source_system": None},
        ]

    def test_owner_ids_with_identity_numbers_as_pseudonyms(self) -> None:
        """The owner's DFO_PID is kept; national ID and passport only as pseudonyms."""
        assert account(primary_bodies())["external_ids"] == [
            {"id_type": "NO_BIRTHNO", "value": pseudonym(SECRET, "nin", EMPLOYEE_FNR)},
            {"id_type": "PASSNR", "value": pseudonym(SECRET, "passport", "NO-FK1234567")},
            {"id_type": "DFO_PID", "value": "123456"},
            {"id_type": "GREG_PID", "value": "4711"},
        ]

    def test_locked_account(self) -> None:
        """An active account under a quarantine that locks it is DISABLED, not Feide."""
        record = account(locked_bodies())
        assert record["status"] == "DISABLED"
        assert record["expires_on"] == date(2027, 6, 30)
        assert record["feide_principal_name"] is None
        assert record["external_ids"] == [{"id_type": "DFO_PID", "value": "7"}]

    @pytest.mark.parametrize(
        ("active", "expire_date", "expected"),
        [
            (False, "2026-11-01T00:00:00", "EXPIRED"),
            (False, "2026-11-22", "EXPIRED"),
            (False, None, "DELETED"),
            (False, "2027-01-01T00:00:00", "DELETED"),
            (None, None, "UNKNOWN"),
            (True, "2027-01-01T00:00:00", "ACTIVE"),
        ],
    )
    def test_status(self, active: bool | None, expire_date: str | None, expected: str) -> None:
        """Inactive accounts are expired or deleted by their expiry date; no flag is unknown."""
        bodies = primary_bodies()
        body = {**load("cerebrum", "account_primary.json")["/v1/accounts/kno012"]}
        body.update(active=active, expire_date=expire_date)
        assert account(replace(bodies, account=body))["status"] == expected

    def test_without_owner_bodies(self) -> None:
        """Without the owner's bodies the account has no statuses, sources or ids."""
        record = account(
            replace(primary_bodies(), owner_affiliations=None, owner_external_ids=None)
        )
        affiliations = record["affiliations"]
        assert isinstance(affiliations, list)
        assert {a["status"] for a in affiliations} == {None}
        assert record["external_ids"] == []

    def test_group_owned_account(self) -> None:
        """An account owned by a group has no person."""
        body = {**load("cerebrum", "account_primary.json")["/v1/accounts/kno012"]}
        body["owner"] = {"id": 77, "type": "group"}
        assert account(replace(primary_bodies(), account=body))["iam_person_id"] is None

    def test_paths(self) -> None:
        """The account's paths, with its owner's when the owner is known."""
        assert AccountBodies.paths("kno012") == {
            "account": "/v1/accounts/kno012",
            "affiliations": "/v1/accounts/kno012/affiliations",
            "quarantines": "/v1/accounts/kno012/quarantines",
        }
        assert AccountBodies.paths("kno012", "5501")["owner_external_ids"] == (
            "/v1/persons/5501/external-ids"
        )


class TestRefusals:
    """What does not fit is refused, naming the record and field, never an identity number."""

    @pytest.mark.parametrize(
        ("part", "body", "problem"),
        [
            ("person", [], "Cerebrum person must be a JSON object, not a list"),
            ("person", {"id": "x"}, "Cerebrum person: id 'x' is not an id"),
            ("person", {"id": 5501, "birth_date": "01.01.1970"}, "birth_date '01.01.1970'"),
            (
                "person",
                {"id": 5501, "names": [{"name": "Kari"}]},
                r"names\[0\]\.variant is missing",
            ),
            ("affiliations", {"affiliation": []}, "the affiliations response has no"),
            (
                "affiliations",
                {"affiliations": [{"affiliation": "ANSATT", "ou": 5}]},
                r"5501: affiliations\[0\]\.ou must be an object",
            ),
            (
                "affiliations",
                {"affiliations": [{"ou": {"id": 5}}]},
                r"affiliations\[0\]\.affiliation is missing",
            ),
            (
                "external_ids",
                {"external_ids": [{"id_type": "norwegianNationalId", "external_id": "0101701234"}]},
                r"external_ids\[0\]\.external_id is not 11 digits",
            ),
            (
                "external_ids",
                {"external_ids": [{"id_type": "PASSNR", "external_id": "FK1234567"}]},
                r"external_ids\[0\]\.external_id is not a passport number",
            ),
            (
                "external_ids",
                {"external_ids": [{"id_type": "DFO_PID", "external_id": "12a"}]},
                "'12a' is not an id",
            ),
            (
                "external_ids",
                {
                    "external_ids": [
                        {"id_type": "NO_BIRTHNO", "external_id": EMPLOYEE_FNR},
                        {"id_type": "NO_BIRTHNO", "external_id": GUEST_FNR},
                    ]
                },
                "external_ids has 2 different national IDs",
            ),
            (
                "accounts",
                {"accounts": [{"name": "a", "primary": True}, {"name": "b", "primary": True}]},
                "accounts has 2 primary accounts",
            ),
            ("accounts", {"accounts": [{"name": "../etc"}]}, "is not an account name"),
            ("consents", {"consents": [{"type": "opt-in"}]}, r"consents\[0\]\.name is missing"),
            ("consents", "opt-out", "must be a JSON object, not a string"),
            (
                "affiliations",
                {"affiliations": [{"affiliation": "ANSATT", "status": EMPLOYEE_FNR}]},
                r"affiliations\[0\]\.status holds what looks like a national ID",
            ),
            (
                "person",
                {"id": 5501, "names": [{"variant": "FIRST", "name": f"Kari {EMPLOYEE_FNR}"}]},
                r"names\[0\]\.name holds what looks like a national ID",
            ),
            ("accounts", {"accounts": [{"name": GUEST_FNR}]}, "name holds what looks like"),
        ],
    )
    def test_bad_person_body(self, part: str, body: object, problem: str) -> None:
        """A malformed body names the person and the field."""
        with pytest.raises(MappingError, match=problem) as caught:
            person(replace(employee_bodies(), **{part: body}))
        assert str(caught.value).startswith("Cerebrum person")
        assert_private_values_absent(str(caught.value))

    @pytest.mark.parametrize(
        ("part", "body", "problem"),
        [
            ("account", {"id": 1}, "Cerebrum account: name is missing"),
            ("account", {"name": "kno 012"}, "'kno 012' is not an account name"),
            (
                "account",
                {"name": "kno012", "active": "kanskje"},
                "active 'kanskje' is not a yes/no",
            ),
            ("account", {"name": "kno012", "owner": [5501]}, "owner must be an object"),
            ("account", {"name": "kno012", "contexts": "LDAP_account"}, "contexts must be a list"),
            ("account", {"name": "kno012", "contexts": [None]}, "contexts is missing"),
            ("account", {"name": "kno012", "active": False, "expire_date": "snart"}, "not a date"),
            ("quarantines", {"locked": "maybe"}, "kno012 quarantines: locked 'maybe'"),
            (
                "affiliations",
                {"affiliations": [{"affiliation": "ANSATT", "priority": -1}]},
                r"affiliations\[0\]\.priority",
            ),
            (
                "owner_external_ids",
                {"external_ids": [{"id_type": "NO_BIRTHNO", "external_id": 1017012345}]},
                r"kno012 owner: external_ids\[0\]\.external_id must be a string",
            ),
        ],
    )
    def test_bad_account_body(self, part: str, body: object, problem: str) -> None:
        """A malformed account body names the account and the field."""
        with pytest.raises(MappingError, match=problem) as caught:
            account(replace(primary_bodies(), **{part: body}))
        assert_private_values_absent(str(caught.value))

    def test_settings_are_checked(self) -> None:
        """An empty secret or a naive fetch time is refused."""
        with pytest.raises(MappingError, match="no pseudonym secret"):
            map_account(primary_bodies(), institution="uio", secret="", fetched_at=FETCHED_AT)
        with pytest.raises(MappingError, match="timezone-aware"):
            map_person(
                employee_bodies(), institution="uio", secret=SECRET, fetched_at=datetime(2026, 1, 1)
            )


class TestCorrelation:
    """Cerebrum records correlate with DFØ's and Greg's as the hub expects."""

    def test_employee_person_and_account_join_the_dfo_employee(self) -> None:
        """The IAM person and account with DFO_PID 00123456 are the DFØ employee 123456."""
        hub = correlated(
            ("source.dfo.employee", dfo_employee(load("dfo", "ansatt_regular.json"))),
            ("source.iam.person", person(employee_bodies())),
            ("source.iam.account", account(primary_bodies())),
        )
        refs = ["source.dfo.employee/123456", "source.iam.person/5501", "source.iam.account/kno012"]
        assert len({hub.anchor(ref) for ref in refs}) == 1
        assert hub.anchor(refs[0]).kind is Kind.NIN
        assert all(hub.status(ref) is LinkStatus.LINKED for ref in refs)

    def test_account_links_by_employee_number_alone(self) -> None:
        """Ola's account carries only his DFO_PID, and still joins DFØ employee 7."""
        hub = correlated(
            ("source.dfo.employee", dfo_employee({"ansatt": [{"id": "00000007"}]})),
            ("source.iam.account", account(locked_bodies())),
        )
        assert hub.anchor("source.iam.account/olan") == hub.anchor("source.dfo.employee/7")
        assert hub.status("source.iam.account/olan") is LinkStatus.LINKED

    def test_guest_person_joins_the_greg_guest(self) -> None:
        """The IAM guest with GREG_PID 4711 is the Greg guest 4711."""
        guest = map_greg_person(
            load("greg", "person_guest_researcher.json"),
            institution="uio",
            secret=SECRET,
            fetched_at=FETCHED_AT,
        )
        hub = correlated(
            ("source.greg.person", guest), ("source.iam.person", person(guest_bodies()))
        )
        assert hub.anchor("source.iam.person/5502") == hub.anchor("source.greg.person/4711")
        assert hub.status("source.iam.person/5502") is LinkStatus.LINKED
