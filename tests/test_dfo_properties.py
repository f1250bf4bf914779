"""Property tests: whatever DFØ sends (well-formed, quirky or garbage), the DFØ
connectors' parsing never crashes and never emits a record that breaks its schema; an
error names the problem without quoting a national ID."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.dfo.connector import (
    DfoConnector,
    DfoEmployeeConnector,
    DfoOrgUnitConnector,
    DfoPositionConnector,
)
from connectors.dfo.notifications import KNOWN_URIS, parse_notification
from connectors.dfo.payroll import PayrollRun, map_payroll_result, parse_runs
from connectors.dfo.settings import DfoSettings
from connectors.sdk.items import Failed, Upsert
from connectors.sdk.state import fingerprint
from hub.avro.catalog import SchemaCatalog
from hub.avro.wire import write_body
from hub.errors import HubError, MappingError

CATALOG = SchemaCatalog()
SETTINGS = DfoSettings(base_url="http://127.0.0.1:9/", institution="uio")
NATIONAL_ID = re.compile(r"(?<!\d)\d{11}(?!\d)")
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=12,
)
# Values DFØ really sends for its fields, and near misses.
dfo_values = (
    json_values
    | st.sampled_from(["9999-12-31", "", "J", "N", "true", "1", "100.0", "50,5", "99999999"])
    | st.from_regex(r"[0-9]{1,12}", fullmatch=True)
    | st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True)
    | st.from_regex(r"[0-9]{6}00[012]00", fullmatch=True)
    | st.integers(min_value=0, max_value=10**9)
)


# Plausible values per kind of field (what DFØ means to send), mixed with anything.
PLAUSIBLE = {
    "id": st.from_regex(r"0{0,3}[0-9]{1,8}", fullmatch=True) | st.integers(0, 99_999_999),
    "date": st.dates().map(lambda d: d.isoformat()) | st.sampled_from(["9999-12-31", ""]),
    "flag": st.sampled_from([True, False, "J", "N", "true", "false", 0, 1, None]),
    "percent": st.floats(0, 100) | st.sampled_from(["100.0", "50,5", "20"]),
    "text": st.text(max_size=40) | st.none(),
    "code": st.text(max_size=12) | st.integers(0, 10**9) | st.none(),
    "fnr": st.from_regex(r"[0-9]{11}", fullmatch=True) | st.sampled_from(["", None]),
}


def _value(kind: str) -> Any:
    plausible = PLAUSIBLE[kind]
    return st.one_of(plausible, plausible, plausible, dfo_values)


def _fields(names: dict[str, str], nested: dict[str, dict[str, str]] | None = None) -> Any:
    """A DFØ object with any of ``names`` (mostly plausible values for their kind) and
    nested lists of objects."""
    optional: dict[str, Any] = {name: _value(kind) for name, kind in names.items()}
    for key, inner in (nested or {}).items():
        item = st.fixed_dictionaries({}, optional={n: _value(kind) for n, kind in inner.items()})
        optional[key] = st.one_of(st.lists(item, max_size=3), item, json_values)
    return st.fixed_dictionaries({"id": _value("id")}, optional=optional)


EMPLOYEE = _fields(
    {
        "fnr": "fnr",
        "brukerident": "text",
        "dfoBrukerident": "text",
        "eksternIdent": "text",
        "fornavn": "text",
        "etternavn": "text",
        "fdato": "date",
        "stillingId": "id",
        "medarbeidergruppe": "code",
        "medarbeiderundergruppe": "code",
        "startdato": "date",
        "sluttdato": "date",
        "dellonnsprosent": "percent",
        "tittel": "text",
        "eksternbruker": "flag",
        "lederflagg": "flag",
        "reservasjonPublisering": "flag",
        "telefonnummer": "code",
        "mobilPrivat": "code",
        "epost": "text",
        "privatEpost": "text",
        "organisasjonId": "code",
        "kostnadssted": "code",
        "sluttarsak": "code",
        "endretDato": "date",
    },
    {
        "annenId": {"idType": "code", "idLand": "text", "idNr": "code"},
        "tilleggsstilling": {
            "stillingId": "id",
            "startdato": "date",
            "sluttdato": "date",
            "dellonnsprosent": "percent",
        },
    },
)
POSITION = _fields(
    {
        "stillingskode": "code",
        "stillingstittel": "text",
        "yrkeskode": "code",
        "organisasjonId": "code",
    },
    {
        "innehaver": {
            "innehaverAnsattnr": "id",
            "innehaverStartdato": "date",
            "innehaverSluttdato": "date",
        },
        "stillingskat": {"stillingskatId": "code", "stillingskatBetegn": "text"},
    },
)
ORG_UNIT = _fields(
    {
        "organisasjonsnavn": "text",
        "orgKortnavn": "text",
        "overordnOrgenhetId": "id",
        "orgKostnadssted": "code",
        "gyldigFraDato": "date",
        "gyldigTilDato": "date",
    },
    {"leder": {"lederAnsattnr": "id", "lederBrukerident": "text"}},
)


def _bodies(key: str, objects: Any) -> Any:
    """Response bodies: wrapped, unwrapped, several, other JSON, or any bytes."""
    payloads = (
        st.builds(lambda o: {key: [o]}, objects)
        | st.builds(lambda o: {key: o}, objects)
        | st.builds(lambda os: {key: os}, st.lists(objects, max_size=2))
        | json_values
    )
    return st.builds(lambda p: json.dumps(p).encode(), payloads) | st.binary(max_size=60)


def _check(connector: DfoConnector, body: bytes) -> None:
    item = connector.map_body(body, origin="dfo:test")
    assert isinstance(item, Upsert | Failed)
    if isinstance(item, Upsert):
        write_body(CATALOG[connector.schema].parsed, dict(item.record))  # fits the schema
        assert connector.key(item.record)
        assert fingerprint(item.record)
    else:
        assert isinstance(item.error, HubError)
        assert item.raw == body
        assert not NATIONAL_ID.search(str(item.error)), str(item.error)


class TestSourcePayloads:
    @PROPERTY
    @given(_bodies("ansatt", EMPLOYEE))
    def test_employee_bodies(self, body: bytes) -> None:
        """Any ansatte/v2 body becomes a schema-valid record or a dead letter."""
        _check(DfoEmployeeConnector(SETTINGS), body)

    @PROPERTY
    @given(_bodies("stilling", POSITION))
    def test_position_bodies(self, body: bytes) -> None:
        """Any stillinger/v2 body becomes a schema-valid record or a dead letter."""
        _check(DfoPositionConnector(SETTINGS), body)

    @PROPERTY
    @given(_bodies("organisasjon", ORG_UNIT))
    def test_org_unit_bodies(self, body: bytes) -> None:
        """Any orgenhet/v2 body becomes a schema-valid record or a dead letter."""
        _check(DfoOrgUnitConnector(SETTINGS), body)

    @PROPERTY
    @given(
        st.fixed_dictionaries(
            {},
            optional={
                "ansattnummer": dfo_values,
                "linjer": st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            n: dfo_values
                            for n in [
                                "lonnsart",
                                "lonnsartTekst",
                                "belop",
                                "antall",
                                "sats",
                                "stillingId",
                                "kostnadssted",
                                "organisasjonId",
                                "timelonn",
                            ]
                        },
                    ),
                    max_size=3,
                )
                | json_values,
            },
        )
        | json_values
    )
    def test_payroll_results(self, result: object) -> None:
        """Any payroll result maps to a schema-valid PayrollResult or a MappingError."""
        run = PayrollRun("R1", "2026-10", "regular", datetime(2026, 10, 10, tzinfo=UTC), None)
        try:
            record = map_payroll_result(result, run, institution="uio")
        except MappingError as error:
            problem = str(error)
        else:
            write_body(CATALOG["no.bott.hub.payroll.PayrollResult"].parsed, record)
            return
        assert not NATIONAL_ID.search(problem), problem

    @PROPERTY
    @given(json_values)
    def test_payroll_runs(self, payload: object) -> None:
        """Any runs listing parses to finished runs in order, or a MappingError."""
        try:
            runs = parse_runs({"lonnskjoring": payload})
        except MappingError:
            return
        assert [r.cursor for r in runs] == sorted(r.cursor for r in runs)


notifications = st.fixed_dictionaries(
    {},
    optional={
        "id": dfo_values,
        "uri": st.sampled_from([*KNOWN_URIS, "dfo:ukjent"]) | dfo_values,
        "gyldigEtter": dfo_values,
    },
)


class TestNotifications:
    @PROPERTY
    @given(st.builds(lambda n: json.dumps(n).encode(), notifications | json_values) | st.binary())
    def test_any_body_parses_or_is_a_mapping_error(self, body: bytes) -> None:
        """Whatever arrives on the queue is a notification or a MappingError (a dead
        letter), never another exception."""
        try:
            notification = parse_notification(body)
        except MappingError as error:
            problem = str(error)
        else:
            assert notification.uri in KNOWN_URIS
            assert notification.object_id.isdigit()
            return
        assert not NATIONAL_ID.search(problem), problem

    @PROPERTY
    @given(
        st.sampled_from(KNOWN_URIS),
        st.integers(min_value=0, max_value=99_999_999),
        st.dates().map(lambda d: d.isoformat()) | st.none(),
    )
    def test_well_formed_notifications_round_trip(
        self, uri: str, number: int, valid_from: str | None
    ) -> None:
        """A notification as DFØ sends it (zero-padded id, optional gyldigEtter) reads back
        as its parts, the id without leading zeros."""
        body = {"id": f"{number:08d}", "uri": uri}
        if valid_from is not None:
            body["gyldigEtter"] = valid_from
        parsed = parse_notification(json.dumps(body).encode())
        assert (parsed.uri, parsed.object_id) == (uri, str(number))
        expected = None if valid_from in (None, "9999-12-31") else valid_from
        assert (parsed.valid_from.isoformat() if parsed.valid_from else None) == expected


@pytest.mark.parametrize("cls", [DfoEmployeeConnector, DfoPositionConnector, DfoOrgUnitConnector])
async def test_malformed_notification_is_a_dead_letter_without_fetching(
    cls: type[DfoConnector],
) -> None:
    """A body on the queue that is not a notification becomes a dead letter at once (the
    base URL is unreachable, so a fetch would fail the test)."""
    (item,) = await cls(SETTINGS).on_message(b"\xff not json")
    assert isinstance(item, Failed)
    assert item.raw == b"\xff not json"
