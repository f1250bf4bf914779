"""The source schemas beyond DFØ employees, positions and IAM accounts: realistic records
validate and round-trip, every topic names a known schema, and no schema has a field for
a raw identity number."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import fastavro.validation
import pytest

from hub.avro.catalog import SchemaCatalog
from hub.avro.wire import read_body, write_body
from hub.topics import TopicCatalog

STAMP = datetime(2025, 8, 4, 6, 30, 12, 345000, tzinfo=UTC)
NIN_PSEUDONYM = "nin:" + "3f9a1c0e7b24d5a8" * 2
PASSPORT = {
    "country": "NO",
    "pseudonym": "pass:" + "a0b1c2d3e4f5a6b7" * 2,
    "masked": "NO-*****6789",
}


def dfo_org_unit() -> dict[str, Any]:
    return {
        "institution": "uio",
        "source_system": "dfo_sap",
        "source_id": "50001300",
        "source_timestamp": STAMP,
        "org_unit_id": "50001300",
        "name": "Institutt for informatikk",
        "parent_id": "50001200",
        "cost_centre": "151000",
        "valid_from": date(2021, 1, 1),
        "valid_to": None,
        "leader_employee_id": "234567",
    }


def greg_person() -> dict[str, Any]:
    return {
        "institution": "uio",
        "source_system": "greg",
        "source_id": "4711",
        "source_timestamp": STAMP,
        "greg_id": "4711",
        "first_name": "Ingrid",
        "last_name": "Haugland",
        "birth_date": date(1961, 3, 14),
        "registration_completed": datetime(2025, 7, 30, 9, 12, 4, tzinfo=UTC),
        "national_id_pseudonym": NIN_PSEUDONYM,
        "national_id_masked": "140361*****",
        "passports": [PASSPORT],
        "feide_id": "ingridha@uio.no",
        "identities": [
            {
                "type": "norwegian_national_id_number",
                "verified": "automatic",
                "verified_at": datetime(2025, 7, 30, 9, 12, 4, tzinfo=UTC),
                "invalid": False,
            },
            {"type": "passport_number", "verified": "manual", "verified_at": STAMP},
            {"type": "feide_id", "verified": None, "verified_at": None, "invalid": False},
            {"type": "private_mobile", "verified": None, "verified_at": None, "invalid": True},
        ],
        "roles": [
            {
                "role_id": "812",
                "type": "emeritus",
                "start_date": date(2025, 8, 1),
                "end_date": date(2027, 7, 31),
                "sponsor_id": "233",
                "org_unit_id": "17",
                "org_unit_active": True,
            },
            {
                "role_id": "813",
                "type": "grader",
                "start_date": date(2025, 11, 15),
                "end_date": date(2025, 12, 20),
                "sponsor_id": None,
                "org_unit_id": None,
            },
        ],
        "consents": [{"type": "publish", "choice": True}],
    }


def iam_person() -> dict[str, Any]:
    return {
        "institution": "uib",
        "source_system": "felles_iam",
        "source_id": "6f1c2a94-3b7e-4d21-9a0c-58e4b7d2c913",
        "source_timestamp": STAMP,
        "iam_person_id": "6f1c2a94-3b7e-4d21-9a0c-58e4b7d2c913",
        "style": "felles_iam",
        "uhid": "6f1c2a94-3b7e-4d21-9a0c-58e4b7d2c913",
        "first_name": "Ola Magnus",
        "last_name": "Nordvik",
        "birth_date": date(1988, 11, 2),
        "national_id_pseudonym": NIN_PSEUDONYM,
        "national_id_masked": "021188*****",
        "passports": [],
        "external_ids": [
            {"id_type": "DFO_PID", "value": "234567"},
            {"id_type": "UHID", "value": "6f1c2a94-3b7e-4d21-9a0c-58e4b7d2c913"},
        ],
        "affiliations": [
            {
                "affiliation": "ANSATT",
                "status": "tekadm",
                "org_unit_id": "50001300",
                "source_system": "DFO_SAP",
            }
        ],
        "usernames": ["onor", "onor-adm"],
        "primary_username": "onor",
        "feide_principal_name": "onor@uib.no",
        "public_visibility_consent": None,
        "reserved_from_publication": False,
    }


def unit4_resource() -> dict[str, Any]:
    return {
        "institution": "uit",
        "source_system": "unit4",
        "source_id": "234567",
        "source_timestamp": STAMP,
        "resource_id": "234567",
        "employee_id": "234567",
        "name": "Kari Johansen",
        "status": "N",
        "cost_centre": "151000",
        "org_unit_id": "50001300",
        "valid_from": date(2023, 1, 1),
        "valid_to": None,
        "email": "kari.johansen@uit.no",
        "username": "kjo012",
    }


def unit4_approver_role() -> dict[str, Any]:
    return {
        "institution": "uit",
        "source_system": "unit4",
        "source_id": "234567:kostnadsgodkjenner:151000",
        "source_timestamp": STAMP,
        "assignment_id": "234567:kostnadsgodkjenner:151000",
        "resource_id": "234567",
        "role": "kostnadsgodkjenner",
        "has_budget_authority": True,
        "cost_centre": "151000",
        "valid_from": date(2024, 1, 1),
        "valid_to": date(2027, 12, 31),
    }


def payroll_result() -> dict[str, Any]:
    return {
        "institution": "ntnu",
        "source_system": "dfo_sap_payroll",
        "source_id": "345678/2025-07/2025-07-R1",
        "source_timestamp": STAMP,
        "employee_id": "345678",
        "period": "2025-07",
        "run_id": "2025-07-R1",
        "run_type": "regular",
        "paid_on": date(2025, 7, 12),
        "lines": [
            {
                "wage_type": "1010",
                "description": "Fastlønn",
                "amount": 52341.67,
                "hours": None,
                "rate": None,
                "position_id": "30012345",
                "cost_centre": "151000",
                "org_unit_id": "50001300",
                "hourly": False,
            },
            {
                "wage_type": "1210",
                "description": "Timelønn sensor",
                "amount": 4305.0,
                "hours": 10.5,
                "rate": 410.0,
                "position_id": "30019876",
                "cost_centre": "152000",
                "org_unit_id": "50001310",
                "hourly": True,
            },
            {"wage_type": "/403", "description": "Forskuddstrekk", "amount": -17890.0},
        ],
        "total_amount": 38756.67,
    }


def web_profile() -> dict[str, Any]:
    return {
        "institution": "uio",
        "source_system": "vortex",
        "source_id": "/ifi/personer/vit/sigridb/index.html",
        "source_timestamp": STAMP,
        "profile_id": "/ifi/personer/vit/sigridb/index.html",
        "username": "sigridb",
        "employee_id": "234567",
        "published_name": "Sigrid Bakken",
        "title": "Førsteamanuensis",
        "org_unit_id": "50001300",
        "org_unit_name": "Institutt for informatikk",
        "phone": "+47 22 85 24 10",
        "email": "sigrid.bakken@ifi.uio.no",
        "visible": True,
        "data_taken_at": datetime(2025, 6, 30, 23, 0, tzinfo=UTC),
        "data_source": "iam",
    }


def orgreg_org_unit() -> dict[str, Any]:
    return {
        "institution": "uio",
        "source_system": "orgreg",
        "source_id": "1234",
        "source_timestamp": STAMP,
        "ou_id": "1234",
        "parent_id": "1200",
        "valid_from": date(1990, 1, 1),
        "valid_to": None,
        "names": {
            "name_nob": "Institutt for informatikk",
            "name_nno": "Institutt for informatikk",
            "name_eng": "Department of Informatics",
        },
        "external_keys": [
            {"source_system": "dfo_sap", "type": "dfo_org_id", "value": "50001300"},
            {"source_system": "sapuio", "type": "legacy_stedkode", "value": "150500"},
        ],
    }


EXAMPLES: dict[str, Any] = {
    "no.bott.hub.dfo.OrgUnit": dfo_org_unit,
    "no.bott.hub.greg.Person": greg_person,
    "no.bott.hub.iam.Person": iam_person,
    "no.bott.hub.unit4.Resource": unit4_resource,
    "no.bott.hub.unit4.ApproverRole": unit4_approver_role,
    "no.bott.hub.payroll.PayrollResult": payroll_result,
    "no.bott.hub.web.Profile": web_profile,
    "no.bott.hub.orgreg.OrgUnit": orgreg_org_unit,
}

COMMON_FIELDS = ["institution", "source_system", "source_id", "source_timestamp"]
IDENTITY_NUMBER_HINTS = ("fnr", "national_id", "passport_number", "fodselsnummer", "idnr")
ALLOWED_IDENTITY_FIELDS = {"national_id_pseudonym", "national_id_masked"}
# Beyond the record's own id (the field after the common four), the fields that make up
# a record's identity and so have no default.
REQUIRED_KEYS = {
    "no.bott.hub.unit4.ApproverRole": {"resource_id", "role"},
    "no.bott.hub.payroll.PayrollResult": {"period", "run_id"},
}


def _with_defaults(schema: Any, record: Any) -> Any:
    """``record`` as a reader fills it in: fields left out take the schema's default."""
    if isinstance(schema, dict) and schema.get("type") == "record" and isinstance(record, dict):
        return {
            f["name"]: _with_defaults(f["type"], record.get(f["name"], f.get("default")))
            for f in schema["fields"]
        }
    if isinstance(schema, dict) and schema.get("type") == "array" and isinstance(record, list):
        return [_with_defaults(schema["items"], item) for item in record]
    if isinstance(schema, list) and isinstance(record, dict):
        named = [b for b in schema if isinstance(b, dict) and b.get("type") == "record"]
        return _with_defaults(named[0], record) if len(named) == 1 else record
    return record


def _field_names(schema: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, field name) in a schema, nested records, arrays and unions included."""
    if isinstance(schema, list):
        for branch in schema:
            yield from _field_names(branch, path)
    elif isinstance(schema, dict):
        for field in schema.get("fields", []):
            where = f"{path}{schema.get('name', '?')}.{field['name']}"
            yield where, field["name"]
            yield from _field_names(field["type"], f"{where}/")
        for key in ("items", "values"):
            if key in schema:
                yield from _field_names(schema[key], path)


class TestSourceRecords:
    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_example_validates_against_its_schema(self, name: str) -> None:
        """A realistic record for each new source schema passes fastavro's validation."""
        schema = SchemaCatalog()[name]
        assert fastavro.validation.validate(EXAMPLES[name](), schema.parsed, raise_errors=True)

    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_example_round_trips_through_the_wire_body(self, name: str) -> None:
        """Each example encodes to an Avro body and decodes back to the same record."""
        schema = SchemaCatalog()[name]
        record = EXAMPLES[name]()
        decoded = read_body(schema.parsed, schema.parsed, write_body(schema.parsed, record))
        assert decoded == _with_defaults(schema.plain, record)

    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_starts_with_the_four_common_fields(self, name: str) -> None:
        """Every new source schema starts with institution, source_system, source_id and
        source_timestamp, shaped as in the DFØ employee schema."""
        fields = SchemaCatalog()[name].plain["fields"]
        employee = {
            f["name"]: f for f in SchemaCatalog()["no.bott.hub.dfo.Employee"].plain["fields"]
        }
        assert [f["name"] for f in fields[:4]] == COMMON_FIELDS
        for field in fields[:4]:
            assert field["type"] == employee[field["name"]]["type"]
        assert isinstance(fields[1].get("default"), str)

    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_optional_fields_have_defaults_and_docs(self, name: str) -> None:
        """Every top-level field after the record's id has a default, and every field
        after the common ones has a doc."""
        fields = SchemaCatalog()[name].plain["fields"]
        required = REQUIRED_KEYS.get(name, set())
        assert [f["name"] for f in fields[5:] if "default" not in f] == sorted(
            required, key=[f["name"] for f in fields].index
        )
        assert [f["name"] for f in fields[4:] if not f.get("doc")] == []

    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_person_event_carries_the_record(self, name: str) -> None:
        """The PersonEvent union has a branch for each new source record, and the record
        survives the trip inside a PersonEvent."""
        schema = SchemaCatalog()["no.bott.hub.PersonEvent"]
        record = EXAMPLES[name]()
        event = {
            "person_key": "p:" + "0123456789abcdef" * 2,
            "institution": record["institution"],
            "source_topic": "source.example",
            "record": (name, record),
        }
        decoded = read_body(schema.parsed, schema.parsed, write_body(schema.parsed, event))
        assert decoded["record"] == _with_defaults(SchemaCatalog()[name].plain, record)


class TestTopicsAndSchemas:
    def test_every_topic_value_schema_is_in_the_catalogue(self) -> None:
        """Each topic that declares a value_schema names a schema in schemas/avro/."""
        catalog = SchemaCatalog()
        known = {s.name for s in catalog}
        named = {t.logical_name: t.value_schema for t in TopicCatalog() if t.value_schema}
        assert {topic: schema for topic, schema in named.items() if schema not in known} == {}
        assert set(EXAMPLES) <= set(named.values())

    def test_new_source_topics_are_compacted(self) -> None:
        """The new source topics keep the latest record per key (cleanup policy compact)."""
        topics = TopicCatalog()
        for logical in (
            "source.dfo.orgunit",
            "source.greg.person",
            "source.iam.person",
            "source.unit4.resource",
            "source.unit4.approver-role",
            "source.payroll.result",
            "source.web.profile",
            "source.orgreg.orgunit",
        ):
            assert topics[logical].cleanup_policy == "compact"
            assert topics[logical].value_schema in EXAMPLES

    def test_no_schema_has_a_raw_identity_number_field(self) -> None:
        """No field in any schema is named like a raw national ID or passport number;
        only the pseudonym and masked forms are allowed."""
        offenders = [
            where
            for schema in SchemaCatalog()
            for where, field in _field_names(schema.plain)
            if field not in ALLOWED_IDENTITY_FIELDS
            and any(hint in field.lower() for hint in IDENTITY_NUMBER_HINTS)
        ]
        assert offenders == []
