"""The example connector of docs/connectors.md: its mapping, and the conformance kit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.profile_files.connector import ProfileFilesConnector
from connectors.profile_files.fake_export import ExportDirectory
from connectors.profile_files.mapping import map_page
from connectors.testing.conformance import ConnectorConformance
from hub.errors import MappingError

WHEN = datetime(2026, 11, 20, 8, tzinfo=UTC)


class TestMapPage:
    def test_maps_a_page_file(self) -> None:
        """Fields are renamed, the employee number loses its zeros, times become UTC."""
        record = map_page(
            {"id": "kari", "employeeNumber": "00345678", "visible": True, "unit": {"id": "5"}},
            institution="uio",
            modified_at=WHEN,
            origin="file:kari.json",
        )
        assert record["profile_id"] == record["source_id"] == "kari"
        assert record["employee_id"] == "345678"
        assert record["org_unit_id"] == "5"
        assert record["visible"] is True
        assert record["source_timestamp"] == WHEN

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"visible": True}, "id"),
            ({"id": "kari", "visible": "perhaps"}, "visible"),
            ({"id": "kari", "employeeNumber": "15059912345"}, "employeeNumber"),
            ({"id": "kari", "dataTakenAt": "yesterday"}, "dataTakenAt"),
            ([], "the file"),
        ],
    )
    def test_bad_files_name_the_field_never_the_value(self, payload: object, field: str) -> None:
        """A file that does not fit raises MappingError naming the file and the field,
        without quoting the value (it may be a national ID)."""
        with pytest.raises(MappingError) as raised:
            map_page(payload, institution="uio", modified_at=WHEN, origin="file:kari.json")
        assert "file:kari.json" in str(raised.value)
        assert field in str(raised.value)
        assert "15059912345" not in str(raised.value)


@pytest.mark.kafka
@pytest.mark.registry
class TestProfileFilesConformance(ConnectorConformance):
    connector_class = ProfileFilesConnector

    @pytest.fixture
    def source(self, tmp_path: Path) -> ExportDirectory:
        return ExportDirectory(tmp_path, {"directory": str(tmp_path), "institution": "uio"})
