"""Tests for the DFØ SAP HR mapping: golden native JSON in, valid Avro records out."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.schema import load_schema
from fastavro.validation import validate

from connectors.dfo.mapping import map_employee, map_position, normalise_employee_id
from hub.errors import MappingError
from hub.privacy import mask_identifier, pseudonym

ROOT = Path(__file__).parents[1]
DATA = ROOT / "tests" / "data" / "dfo"
SECRET = "test-secret-not-for-production"
FETCHED_AT = datetime(2026, 11, 22, 7, 30, tzinfo=UTC)
TODAY = date(2026, 11, 22)
REGULAR_FNR = "01017012345"
FUTURE_FNR = "15059912345"
DUMMY_FNR = "01017000100"
PASSPORT_NUMBER = "FK1234567"
PRIVATE_DETAILS = ("+47 900 00 099", "kari.privat@example.org", "+47 900 00 123")


def load(name: str) -> Any:
    """Read one golden native DFØ JSON file."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def employee(name: str) -> dict[str, object]:
    """Map a golden ansatt file with the test settings."""
    return map_employee(load(name), institution="uib", secret=SECRET, fetched_at=FETCHED_AT)


def position(name: str) -> dict[str, object]:
    """Map a golden stilling file with the test settings."""
    return map_position(load(name), institution="uib", fetched_at=FETCHED_AT)


def regular_ansatt() -> dict[str, Any]:
    """The single ansatt object of the regular golden file, for tests to spoil."""
    record: dict[str, Any] = load("ansatt_regular.json")["ansatt"][0]
    return record


def map_one(ansatt: object) -> dict[str, object]:
    """Map one ansatt object wrapped as DFØ wraps it."""
    return map_employee(
        {"ansatt": [ansatt]}, institution="uib", secret=SECRET, fetched_at=FETCHED_AT
    )


@pytest.fixture(scope="module")
def employee_schema() -> Any:
    """The parsed no.bott.hub.dfo.Employee schema."""
    return load_schema(str(ROOT / "schemas" / "avro" / "no.bott.hub.dfo.Employee.avsc"))


@pytest.fixture(scope="module")
def position_schema() -> Any:
    """The parsed no.bott.hub.dfo.Position schema."""
    return load_schema(str(ROOT / "schemas" / "avro" / "no.bott.hub.dfo.Position.avsc"))


def assert_avro(record: dict[str, object], schema: Any) -> None:
    """Check a record against its schema and that it survives an Avro round trip."""
    assert validate(record, schema, raise_errors=True)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, record)
    buffer.seek(0)
    assert fastavro.schemaless_reader(buffer, schema) == record


def assert_no_secrets(text: str) -> None:
    """Check that no national ID, passport number or private detail leaks into text."""
    for secret_value in (REGULAR_FNR, FUTURE_FNR, DUMMY_FNR, PASSPORT_NUMBER, *PRIVATE_DETAILS):
        assert secret_value not in text


class TestMapEmployee:
    """Golden ansatt files map to valid Employee records."""

    @pytest.mark.parametrize(
        "name", ["ansatt_regular.json", "ansatt_unwrapped.json", "ansatt_future_hire.json"]
    )
    def test_golden_files_are_valid_avro(self, name: str, employee_schema: Any) -> None:
        """Every golden ansatt file maps to a record that validates and round-trips."""
        result = employee(name)
        assert_avro(result, employee_schema)
        assert_no_secrets(repr(result))

    def test_regular_identity(self) -> None:
        """The regular employee's number is normalised and identifiers are pseudonymised."""
        result = employee("ansatt_regular.json")
        assert result["employee_id"] == result["source_id"] == "123456"
        assert result["institution"] == "uib"
        assert result["source_system"] == "dfo_sap"
        assert result["national_id_pseudonym"] == pseudonym(SECRET, "nin", REGULAR_FNR)
        assert result["national_id_masked"] == "*********45"
        assert (result["first_name"], result["last_name"]) == ("Kari", "Nordmann")
        assert result["birth_date"] == date(1970, 1, 1)
        assert result["username"] == "KNO123456"
        assert result["dfo_username"] == "KARI.NORDMANN@UIB.NO"
        assert result["external_username"] == "kno012"

    def test_regular_passport_only(self) -> None:
        """Only annenId entries of type 02 become passports, as pseudonym and mask."""
        result = employee("ansatt_regular.json")
        assert result["passports"] == [
            {
                "country": "NO",
                "pseudonym": pseudonym(SECRET, "passport", f"NO-{PASSPORT_NUMBER}"),
                "masked": mask_identifier(PASSPORT_NUMBER),
            }
        ]

    def test_regular_employment(self) -> None:
        """Positions, dates, percentages, groups and org ids come out as typed values."""
        result = employee("ansatt_regular.json")
        assert result["main_position_id"] == "30012345"
        assert (result["employee_group"], result["employee_subgroup"]) == ("1", "17")
        assert result["start_date"] == date(2015, 8, 1)
        assert result["end_date"] is None
        assert result["part_time_percent"] == 100.0
        assert result["additional_positions"] == [
            {
                "position_id": "30012399",
                "start_date": date(2024, 1, 1),
                "end_date": date(2026, 12, 31),
                "part_time_percent": 20.0,
            },
            {
                "position_id": "30054321",
                "start_date": date(2025, 8, 1),
                "end_date": None,
                "part_time_percent": 10.5,
            },
        ]
        assert (result["org_unit_id"], result["cost_centre"]) == ("50001234", "123400")
        assert result["end_reason"] is None
        assert result["changed_date"] == date(2026, 10, 15)
        assert result["source_timestamp"] == FETCHED_AT

    def test_regular_flags_and_contact(self) -> None:
        """Flags are booleans and private contact details appear only as booleans."""
        result = employee("ansatt_regular.json")
        assert result["head_of_unit"] is True
        assert result["external"] is False
        assert result["reserved_from_publication"] is False
        assert result["work_phone"] == "+47 55 58 00 00"
        assert result["service_phone"] == "55589999"
        assert result["email"] == "kari.nordmann@uib.no"
        assert result["has_private_mobile"] is True
        assert result["has_private_email"] is True

    def test_unwrapped_quirks(self) -> None:
        """An unwrapped ansatt with a dummy fnr, placeholder position and J/N flags maps."""
        result = employee("ansatt_unwrapped.json")
        assert result["employee_id"] == "98765"
        assert result["national_id_pseudonym"] is None
        assert result["national_id_masked"] is None
        assert result["passports"] == []
        assert result["main_position_id"] is None
        assert result["end_date"] is None
        assert result["part_time_percent"] == 0.0
        assert (result["employee_group"], result["employee_subgroup"]) == ("9", "93")
        assert result["additional_positions"] == [
            {
                "position_id": "30077777",
                "start_date": date(2023, 1, 1),
                "end_date": None,
                "part_time_percent": 50.0,
            }
        ]
        assert (result["external"], result["head_of_unit"]) == (True, False)
        assert result["reserved_from_publication"] is True
        assert result["dfo_username"] is None
        assert result["work_phone"] is None
        assert (result["has_private_mobile"], result["has_private_email"]) == (False, False)
        assert result["cost_centre"] == "123400"
        assert result["end_reason"] == "20"

    def test_future_hire(self) -> None:
        """A future hire without usernames maps with its future start date and comma percent."""
        result = employee("ansatt_future_hire.json")
        assert isinstance(result["start_date"], date)
        assert result["start_date"] > TODAY
        assert result["username"] is None
        assert result["external_username"] is None
        assert result["part_time_percent"] == 50.5
        assert result["additional_positions"] == []
        assert result["national_id_pseudonym"] == pseudonym(SECRET, "nin", FUTURE_FNR)
        assert (result["has_private_mobile"], result["has_private_email"]) == (True, False)

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("00123456", "123456"),
            (123456, "123456"),
            (" 0042 ", "42"),
            ("00000000", "0"),
            (0, "0"),
            ("99999999", "99999999"),
        ],
    )
    def test_normalise_employee_id(self, raw: object, expected: str) -> None:
        """Employee numbers lose their leading zeros whether sent as string or number."""
        assert normalise_employee_id(raw) == expected

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            *[(True, True), ("true", True), ("J", True), (1, True), ("ja", True)],
            *[(False, False), ("false", False), ("N", False), (0, False), (None, False)],
        ],
    )
    def test_flag_spellings(self, raw: object, expected: bool) -> None:
        """Every spelling DFØ uses for lederflagg is normalised to a boolean."""
        ansatt = regular_ansatt()
        ansatt["lederflagg"] = raw
        assert map_one(ansatt)["head_of_unit"] is expected

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [(100, 100.0), ("100.0", 100.0), ("50,5", 50.5), (33.3, 33.3), ("", None), (None, None)],
    )
    def test_percent_spellings(self, raw: object, expected: float | None) -> None:
        """Dellønnsprosent as a number or a string with point or comma becomes a float."""
        ansatt = regular_ansatt()
        ansatt["dellonnsprosent"] = raw
        assert map_one(ansatt)["part_time_percent"] == expected

    def test_numeric_placeholder_position_as_string(self) -> None:
        """The placeholder position 99999999 as a string also becomes no main position."""
        ansatt = regular_ansatt()
        ansatt["stillingId"] = "99999999"
        assert map_one(ansatt)["main_position_id"] is None

    def test_placeholder_additional_position_is_dropped(self) -> None:
        """A tilleggsstilling on the placeholder position is left out."""
        ansatt = regular_ansatt()
        ansatt["tilleggsstilling"] = {"stillingId": 99999999, "startdato": "2020-01-01"}
        assert map_one(ansatt)["additional_positions"] == []

    def test_missing_optional_fields(self, employee_schema: Any) -> None:
        """An ansatt with only an id still maps to a valid record with defaults."""
        result = map_one({"id": "7"})
        assert_avro(result, employee_schema)
        assert result["employee_id"] == "7"
        assert result["passports"] == []
        assert result["head_of_unit"] is False

    def test_source_timestamp_is_utc(self) -> None:
        """A fetch time in another zone is kept as the same instant in UTC."""
        oslo = timezone(timedelta(hours=1))
        fetched = datetime(2026, 11, 22, 8, 30, tzinfo=oslo)
        result = map_employee(
            load("ansatt_regular.json"), institution="uib", secret=SECRET, fetched_at=fetched
        )
        assert result["source_timestamp"] == FETCHED_AT

    def test_input_is_not_modified(self) -> None:
        """Mapping leaves the parsed payload untouched."""
        payload = load("ansatt_unwrapped.json")
        before = copy.deepcopy(payload)
        map_employee(payload, institution="uib", secret=SECRET, fetched_at=FETCHED_AT)
        assert payload == before

    def test_pseudonym_depends_on_secret(self) -> None:
        """Another secret gives another national ID pseudonym."""
        other = map_employee(
            load("ansatt_regular.json"), institution="uib", secret="other", fetched_at=FETCHED_AT
        )
        assert (
            other["national_id_pseudonym"]
            != employee("ansatt_regular.json")["national_id_pseudonym"]
        )


class TestMapPosition:
    """Golden stilling files map to valid Position records."""

    @pytest.mark.parametrize("name", ["stilling_professor.json", "stilling_unwrapped.json"])
    def test_golden_files_are_valid_avro(self, name: str, position_schema: Any) -> None:
        """Every golden stilling file maps to a record that validates and round-trips."""
        assert_avro(position(name), position_schema)

    def test_professor(self) -> None:
        """The professor position keeps its code, title, holders and category."""
        result = position("stilling_professor.json")
        assert result["position_id"] == result["source_id"] == "30012345"
        assert result["position_code"] == "20001013"
        assert result["title"] == "Professor"
        assert result["occupation_code"] == "2310101"
        assert result["org_unit_id"] == "50001234"
        assert result["source_timestamp"] == FETCHED_AT
        assert result["holders"] == [
            {"employee_id": "123456", "start_date": date(2015, 8, 1), "end_date": None},
            {
                "employee_id": "111222",
                "start_date": date(2004, 1, 1),
                "end_date": date(2015, 7, 31),
            },
        ]
        assert result["categories"] == [{"category_id": "50078120", "name": "Vitenskapelig"}]

    def test_unwrapped(self) -> None:
        """An unwrapped stilling with single-object holder and category and numeric codes maps."""
        result = position("stilling_unwrapped.json")
        assert result["position_id"] == "30012400"
        assert result["position_code"] == "20001017"
        assert result["occupation_code"] == "2310117"
        assert result["org_unit_id"] == "50001300"
        assert result["holders"] == [
            {
                "employee_id": "234567",
                "start_date": date(2026, 12, 1),
                "end_date": date(2030, 11, 30),
            }
        ]
        assert result["categories"] == [{"category_id": "50078120", "name": "Vitenskapelig"}]

    def test_holder_matches_employee(self) -> None:
        """A holder's employee id equals the mapped employee's id for the same person."""
        holders = position("stilling_unwrapped.json")["holders"]
        assert isinstance(holders, list)
        assert holders[0]["employee_id"] == employee("ansatt_future_hire.json")["employee_id"]

    def test_no_holders_or_categories(self, position_schema: Any) -> None:
        """A vacant position without holders or categories maps to empty lists."""
        result = map_position(
            {"stilling": [{"id": "30000001", "innehaver": None}]},
            institution="uio",
            fetched_at=FETCHED_AT,
        )
        assert_avro(result, position_schema)
        assert (result["holders"], result["categories"]) == ([], [])


def spoiled(field: str, value: object) -> dict[str, Any]:
    """The regular ansatt with one field replaced."""
    ansatt = regular_ansatt()
    ansatt[field] = value
    return ansatt


class TestMappingErrors:
    """Bad input raises MappingError naming the record and never leaking an identifier."""

    @pytest.mark.parametrize(
        "payload",
        [
            None,
            "ansatt",
            42,
            ["ansatt"],
            {},
            {"standard": {"faultText": "IKKE ANSATT"}},
            {"ansatt": []},
            {"ansatt": [regular_ansatt(), regular_ansatt()]},
            {"ansatt": "00123456"},
            {"ansatt": [None]},
            {"ansatt": [[regular_ansatt()]]},
            {"ansatt": None},
        ],
    )
    def test_bad_envelope(self, payload: object) -> None:
        """A body that is not exactly one ansatt object is rejected, naming DFØ ansatt."""
        with pytest.raises(MappingError, match="DFØ ansatt response"):
            map_employee(payload, institution="uib", secret=SECRET, fetched_at=FETCHED_AT)

    @pytest.mark.parametrize(
        "text", ['{"ansatt": [{"id": "00123456", "fnr": "0101', "", "null", '"{}"', "[]"]
    )
    def test_truncated_or_non_object_json(self, text: str) -> None:
        """Truncated or non-object JSON never reaches the mapper as an object and is rejected."""
        try:
            payload: object = json.loads(text)
        except json.JSONDecodeError:
            payload = text
        with pytest.raises(MappingError, match="must be a JSON object") as caught:
            map_employee(payload, institution="uib", secret=SECRET, fetched_at=FETCHED_AT)
        assert "01017012345" not in str(caught.value)

    @pytest.mark.parametrize(
        ("raw_id", "problem"),
        [
            (None, "id is missing"),
            ("", "id is missing"),
            ("../../etc", r"'\.\./\.\./etc' is not a number"),
            ("12a45", "is not a number"),
            (-5, "is negative"),
            ("-5", "is not a number"),
            pytest.param(-(10**5000), "is negative", id="huge-negative"),
            pytest.param(10**5000, "more than 8 digits", id="huge-positive"),
            (12.5, "must be a number or a string of digits"),
            (True, "must be a number or a string of digits"),
            ({"id": 1}, "not an object"),
            pytest.param("1" * 1_000_000, "1000000 digits", id="million-digits"),
            (REGULAR_FNR, "has 10 digits"),
            ("١٢٣", "is not a number"),
        ],
    )
    def test_bad_id(self, raw_id: object, problem: str) -> None:
        """A missing, non-numeric, negative or oversized id is rejected without echoing an fnr."""
        ansatt = spoiled("id", raw_id)
        if raw_id is None:
            del ansatt["id"]
        with pytest.raises(MappingError, match=problem) as caught:
            map_one(ansatt)
        message = str(caught.value)
        assert message.startswith("DFØ ansatt: id ")
        assert len(message) < 200
        assert_no_secrets(message)

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("startdato", "2025-13-01", r"startdato '2025-13-01' is not a date \(YYYY-MM-DD\)"),
            ("sluttdato", "31.12.2025", "sluttdato '31.12.2025' is not a date"),
            ("fdato", "1970-02-30", "fdato '1970-02-30' is not a date"),
            ("endretDato", 20261015, "endretDato must be a date string"),
            ("startdato", "2025-08-01T00:00:00", "is not a date"),
            ("startdato", REGULAR_FNR, r"'\[redacted\]' is not a date"),
            ("fornavn", {"tekst": "Kari"}, "fornavn must be a string, not an object"),
            ("etternavn", ["Nordmann"], "etternavn must be a string, not a list"),
            pytest.param("fornavn", "K" * 1_000_000, "fornavn is too long", id="huge-name"),
            ("tittel", 12, "tittel must be a string, not a number"),
            ("organisasjonId", [50001234], "organisasjonId must be a string or a number"),
            ("kostnadssted", True, "kostnadssted must be a string or a number"),
            ("stillingId", "3001234x", "stillingId '3001234x' is not a number"),
            ("stillingId", {"id": 1}, "stillingId must be a number or a string of digits"),
            ("dellonnsprosent", "hundre", "dellonnsprosent 'hundre' is not a percentage"),
            ("dellonnsprosent", "1e2", "is not a percentage"),
            ("dellonnsprosent", "NaN", "is not a percentage"),
            ("dellonnsprosent", float("nan"), "nan is not between 0 and 100"),
            ("dellonnsprosent", 150, "150 is not between 0 and 100"),
            ("dellonnsprosent", -10.5, "-10.5 is not between 0 and 100"),
            pytest.param(
                "dellonnsprosent", 10**5000, "a huge number is not between", id="huge-percent"
            ),
            ("dellonnsprosent", True, "dellonnsprosent must be a number"),
            ("lederflagg", "kanskje", "lederflagg 'kanskje' is not a yes/no value"),
            ("lederflagg", 2, "lederflagg must be a boolean"),
            ("eksternbruker", [], "eksternbruker must be a boolean"),
            ("fnr", 1017012345, "fnr must be a string, not a number"),
            ("fnr", "0101701234X", "fnr is not 11 digits"),
            ("fnr", "010170-12345", "fnr is not 11 digits"),
            ("fnr", {"fnr": REGULAR_FNR}, "fnr must be a string, not an object"),
            ("mobilPrivat", {"nummer": "+47 900 00 099"}, "mobilPrivat must be a string"),
            pytest.param("privatEpost", "x" * 10_000, "privatEpost is too long", id="long-email"),
            ("tilleggsstilling", "30012399", "tilleggsstilling must be a list or an object"),
            ("tilleggsstilling", [[[]]], "tilleggsstilling holds a list where an object"),
            ("annenId", [None], "annenId holds null where an object"),
            pytest.param("annenId", [{}] * 10_001, "annenId has 10001 entries", id="many-ids"),
        ],
    )
    def test_bad_field(self, field: str, value: object, problem: str) -> None:
        """A wrong-typed or unparseable field names the record and the field, never the fnr."""
        with pytest.raises(MappingError, match=problem) as caught:
            map_one(spoiled(field, value))
        message = str(caught.value)
        assert message.startswith("DFØ ansatt 123456: ")
        assert len(message) < 200
        assert_no_secrets(message)

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            (
                "tilleggsstilling",
                [{"startdato": "2024-01-01"}],
                r"tilleggsstilling\[0\]\.stillingId is missing",
            ),
            (
                "tilleggsstilling",
                [{"stillingId": 1}, {"stillingId": 2, "sluttdato": "2024-02-30"}],
                r"tilleggsstilling\[1\]\.sluttdato '2024-02-30' is not a date",
            ),
            (
                "tilleggsstilling",
                {"stillingId": 1, "dellonnsprosent": "50%"},
                r"tilleggsstilling\[0\]\.dellonnsprosent '50%' is not a percentage",
            ),
            (
                "annenId",
                [{"idType": "02", "idLand": "NO", "idNr": {"nr": PASSPORT_NUMBER}}],
                r"annenId\[0\]\.idNr must be a string or a number, not an object",
            ),
            (
                "annenId",
                [{"idType": "02", "idLand": "NO", "idNr": PASSPORT_NUMBER * 100}],
                r"annenId\[0\]\.idNr is too long",
            ),
        ],
    )
    def test_bad_nested_field(self, field: str, value: object, problem: str) -> None:
        """A bad value inside a nested list names its index, never the passport number."""
        with pytest.raises(MappingError, match=problem) as caught:
            map_one(spoiled(field, value))
        assert_no_secrets(str(caught.value))

    def test_error_never_contains_fnr(self) -> None:
        """An error on a record carrying a real fnr does not repeat the fnr or passport."""
        ansatt = spoiled("startdato", "not a date")
        with pytest.raises(MappingError) as caught:
            map_one(ansatt)
        assert_no_secrets(str(caught.value))
        assert_no_secrets(repr(caught.value))
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__

    def test_naive_fetch_time(self) -> None:
        """A fetch time without a time zone is rejected."""
        with pytest.raises(MappingError, match="DFØ ansatt 123456: fetched_at must be"):
            map_employee(
                load("ansatt_regular.json"),
                institution="uib",
                secret=SECRET,
                fetched_at=datetime(2026, 11, 22, 7, 30),
            )

    def test_empty_secret_or_institution(self) -> None:
        """An empty pseudonym secret or institution is rejected."""
        payload = load("ansatt_regular.json")
        with pytest.raises(MappingError, match="no pseudonym secret"):
            map_employee(payload, institution="uib", secret="", fetched_at=FETCHED_AT)
        with pytest.raises(MappingError, match="no institution"):
            map_employee(payload, institution=" ", secret=SECRET, fetched_at=FETCHED_AT)

    @pytest.mark.parametrize(
        ("payload", "problem"),
        [
            ([], "DFØ stilling response must be a JSON object, not a list"),
            ({"stilling": []}, "holds 0 records"),
            ({"ansatt": [{"id": 1}]}, "has no 'stilling' field"),
            ({"stilling": [{"id": "../1"}]}, "DFØ stilling: id '../1' is not a number"),
            (
                {"stilling": [{"id": 1, "innehaver": [{"innehaverAnsattnr": "-1"}]}]},
                r"DFØ stilling 1: innehaver\[0\]\.innehaverAnsattnr '-1' is not a number",
            ),
            (
                {"stilling": [{"id": 1, "innehaver": {"innehaverStartdato": "2020-01-01"}}]},
                r"innehaver\[0\]\.innehaverAnsattnr is missing",
            ),
            (
                {
                    "stilling": [
                        {
                            "id": 1,
                            "innehaver": [
                                {"innehaverAnsattnr": 5, "innehaverSluttdato": "2020-1-1"}
                            ],
                        }
                    ]
                },
                r"innehaverSluttdato '2020-1-1' is not a date",
            ),
            (
                {"stilling": [{"id": 1, "stillingskat": [{"stillingskatBetegn": "Vit"}]}]},
                r"stillingskat\[0\]\.stillingskatId is missing",
            ),
            ({"stilling": [{"id": 1, "stillingskode": {}}]}, "stillingskode must be a string"),
            ({"stilling": [{"id": 1, "stillingstittel": 5}]}, "stillingstittel must be a string"),
            (
                {"stilling": [{"id": 1, "innehaver": 12345}]},
                "innehaver must be a list or an object",
            ),
        ],
    )
    def test_bad_position(self, payload: object, problem: str) -> None:
        """Malformed stilling bodies are rejected with the record and problem named."""
        with pytest.raises(MappingError, match=problem):
            map_position(payload, institution="uib", fetched_at=FETCHED_AT)

    @pytest.mark.parametrize("raw", [None, "", "abc", -1, "12 34", [1], 1.0, "123456789"])
    def test_normalise_employee_id_rejects(self, raw: object) -> None:
        """normalise_employee_id rejects anything that is not a short non-negative number."""
        with pytest.raises(MappingError, match="DFØ employee number"):
            normalise_employee_id(raw)
