"""One exported page file → a ``no.bott.hub.web.Profile`` record. Pure.

A page file (``<directory>/<anything>.json``) looks like::

    {"id": "kari.nordmann", "username": "karinor", "employeeNumber": "00345678",
     "name": "Kari Nordmann", "title": "Førsteamanuensis",
     "unit": {"id": "50001300", "name": "Institutt for informatikk"},
     "phone": "+47 22 85 00 00", "email": "kari@example.org", "visible": true,
     "dataTakenAt": "2026-11-20T08:00:00+00:00", "dataSource": "iam"}
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from hub.errors import MappingError

__all__ = ["PageFile", "map_page"]


class _Unit(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=500)


class PageFile(BaseModel):
    """The export format: only ``id`` is required; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1, max_length=300, pattern=r"^\S+$")
    username: str | None = Field(default=None, max_length=100)
    employee_number: str | None = Field(
        default=None, alias="employeeNumber", pattern=r"^[0-9]{1,8}$"
    )
    name: str | None = Field(default=None, max_length=500)
    title: str | None = Field(default=None, max_length=500)
    unit: _Unit = Field(default_factory=_Unit)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=300)
    visible: bool = False
    data_taken_at: AwareDatetime | None = Field(default=None, alias="dataTakenAt")
    data_source: str | None = Field(default=None, alias="dataSource", max_length=50)


def map_page(
    payload: object, *, institution: str, modified_at: datetime, origin: str
) -> dict[str, object]:
    """Map a parsed page file; raise MappingError naming the file and the bad fields
    (never quoting their values)."""
    try:
        page = PageFile.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'the file'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise MappingError(f"{origin}: {problems}") from None
    return {
        "institution": institution,
        "source_system": "cms_export",
        "source_id": page.id,
        "source_timestamp": modified_at.astimezone(UTC),
        "profile_id": page.id,
        "username": page.username,
        "employee_id": page.employee_number.lstrip("0") or "0" if page.employee_number else None,
        "published_name": page.name,
        "title": page.title,
        "org_unit_id": page.unit.id,
        "org_unit_name": page.unit.name,
        "phone": page.phone,
        "email": page.email,
        "visible": page.visible,
        "data_taken_at": page.data_taken_at.astimezone(UTC) if page.data_taken_at else None,
        "data_source": page.data_source,
    }
