"""Map DFØ's ``GET orgenhet/v2/{id}`` body (``{"organisasjon": [{…}]}``) to a
``no.bott.hub.dfo.OrgUnit`` record. Pure: no I/O, no clock.

Fields (from public DFØ client code): ``id``, ``organisasjonsnavn``, ``orgKortnavn``,
``overordnOrgenhetId`` (parent), ``orgKostnadssted`` (cost centre), ``leder[]``
``{lederAnsattnr, lederBrukerident}``. Inferred: ``gyldigFraDato`` / ``gyldigTilDato``
for the unit's validity. The quirks of :mod:`connectors.dfo.mapping` apply (unwrapped
single objects and lists, zero-padded ids, ``9999-12-31``).
"""

from __future__ import annotations

from datetime import datetime

from connectors.dfo.mapping import dfo_header, sap_number, single_record
from connectors.source_json import code, date_value, text

__all__ = ["ORG_UNIT_KEY", "map_org_unit"]

ORG_UNIT_KEY = "organisasjon"


def _optional_number(value: object) -> str | None:
    """A zero-padded SAP number that may be missing (a parent, a leader)."""
    return None if value is None or value == "" else sap_number(value)


def map_org_unit(payload: object, *, institution: str, fetched_at: datetime) -> dict[str, object]:
    """Map the body of ``GET orgenhet/v2/{id}``; raise MappingError for what does not fit."""
    record, unit_id = single_record(payload, ORG_UNIT_KEY)
    leaders = [leader.get("lederAnsattnr", _optional_number) for leader in record.nested("leder")]
    name = record.get("organisasjonsnavn", text) or record.get("orgKortnavn", text)
    return {
        **dfo_header(record, unit_id, institution, fetched_at),
        "org_unit_id": unit_id,
        "name": name,
        "parent_id": record.get("overordnOrgenhetId", _optional_number),
        "cost_centre": record.get("orgKostnadssted", code),
        "valid_from": record.get("gyldigFraDato", date_value),
        "valid_to": record.get("gyldigTilDato", date_value),
        "leader_employee_id": next((leader for leader in leaders if leader), None),
    }
