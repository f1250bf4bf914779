"""Checks every source mapping shares: records are valid Avro, and hostile JSON is refused.

:func:`json_values` draws arbitrary JSON (huge numbers, NaN, deep nesting, long
strings); :func:`spoiled` draws a realistic payload with one value somewhere in
it replaced, removed or truncated. A mapping given either must return a record
that validates against its schema, or raise :class:`MappingError`: nothing else.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
from fastavro.validation import validate
from hypothesis import strategies as st

from connectors.dfo.mapping import map_employee
from hub.avro.catalog import SchemaCatalog
from hub.errors import MappingError
from tests.test_correlation_cases import Hub

DATA = Path(__file__).resolve().parent / "data"
CATALOG = SchemaCatalog()
SECRET = "test-secret-not-for-production"
FETCHED_AT = datetime(2026, 11, 22, 7, 30, tzinfo=UTC)

Json = Any
Path_ = tuple[str | int, ...]


def load(source: str, name: str) -> Any:
    """One golden native JSON file of ``source``."""
    return json.loads((DATA / source / name).read_text(encoding="utf-8"))


def dfo_employee(
    ansatt: Json = None, *, institution: str = "uio", fetched_at: datetime = FETCHED_AT
) -> dict[str, object]:
    """A DFØ ``ansatt`` body mapped with the test settings, to correlate with. Without
    one: employee 123456, Kari Nordmann (the golden ansatt_regular.json): head of unit
    50001234, cost centre 123400, professor, IAM username kno012."""
    body = load("dfo", "ansatt_regular.json") if ansatt is None else ansatt
    return map_employee(body, institution=institution, secret=SECRET, fetched_at=fetched_at)


def correlated(*records: tuple[str, dict[str, object]]) -> Hub:
    """The correlation state after the (logical topic, record) pairs, in order."""
    hub = Hub()
    for source, record in records:
        hub.feed(source, record)
    return hub


def _encode(record: Any, parsed: Any) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, record)
    return buffer.getvalue()


def assert_avro(record: dict[str, object], schema_name: str) -> None:
    """The record validates against its schema and survives an Avro round trip."""
    parsed = CATALOG[schema_name].parsed
    assert validate(record, parsed, raise_errors=True)
    written = _encode(record, parsed)
    read_back = fastavro.schemaless_reader(io.BytesIO(written), parsed)
    assert _encode(read_back, parsed) == written


def maps_or_refuses(
    mapper: Callable[[Json], dict[str, object]], payload: Json, schema_name: str
) -> dict[str, object] | None:
    """Map ``payload``: a valid record, or None when the mapping refused it with MappingError."""
    try:
        record = mapper(payload)
    except MappingError as refused:
        message = str(refused)
    else:
        assert_avro(record, schema_name)
        return record
    assert 0 < len(message) < 400
    return None


def assert_input_untouched(mapper: Callable[[Json], object], payload: Json) -> None:
    """Mapping leaves what it was given as it was."""
    before = copy.deepcopy(payload)
    mapper(payload)
    assert payload == before


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["", " ", "2026-02-30", "9999-12-31", "01017012345", "yes", "../x", "1e9"])
    | st.text(alphabet="0123456789", min_size=1, max_size=25)
)


def json_values() -> st.SearchStrategy[Json]:
    """Arbitrary JSON values, nested a few levels."""
    return st.recursive(
        _scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )


def _paths(value: Json, prefix: Path_ = ()) -> list[Path_]:
    """Every path into a JSON value, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found.extend(_paths(inner, (*prefix, key)))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.extend(_paths(inner, (*prefix, index)))
    return found


def _replace(value: Json, path: Path_, new: Json, *, remove: bool) -> Json:
    if not path:
        return new
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return value


@st.composite
def spoiled(draw: st.DrawFn, payload: Json) -> Json:
    """``payload`` with one value replaced by arbitrary JSON, or removed."""
    changed = copy.deepcopy(payload)
    path = draw(st.sampled_from(_paths(changed)))
    remove = bool(path) and draw(st.booleans())
    return _replace(changed, path, draw(json_values()), remove=remove)


def mapping_inputs(source: str, *golden: str) -> st.SearchStrategy[Json]:
    """Arbitrary JSON, or one of a source's golden documents spoiled."""
    return st.one_of(json_values(), *(spoiled(load(source, name)) for name in golden))
