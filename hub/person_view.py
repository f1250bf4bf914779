"""The hub's view of one person: the latest version of every source record linked to
them, how each was linked, and the person's tasks.

Pure: the functions here return new views and never do I/O. A record never
overwrites a newer version of itself: versions are compared by source timestamp,
not by arrival order, so old data never overrides new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

__all__ = [
    "LinkedRecord",
    "MovedRecord",
    "PersonView",
    "ReferenceData",
    "SourceKind",
    "is_newer_or_same",
    "record_version",
    "upsert_record",
]

Record = dict[str, Any]


class SourceKind:
    """The logical names of the source topics whose records describe a person."""

    DFO_EMPLOYEE = "source.dfo.employee"
    DFO_POSITION = "source.dfo.position"
    IAM_ACCOUNT = "source.iam.account"
    IAM_PERSON = "source.iam.person"
    GREG_PERSON = "source.greg.person"
    UNIT4_RESOURCE = "source.unit4.resource"
    UNIT4_APPROVER_ROLE = "source.unit4.approver-role"
    PAYROLL_RESULT = "source.payroll.result"
    WEB_PROFILE = "source.web.profile"


@dataclass(frozen=True)
class LinkedRecord:
    """One source record as the person holds it, with the evidence of its link."""

    ref: str
    source_topic: str
    record: Record
    link: Record | None = None
    seq: int = 0  # correlation's assignment_seq of the newest word about this record

    @property
    def source_timestamp(self) -> datetime:
        stamp: datetime = self.record["source_timestamp"]
        return stamp


@dataclass(frozen=True)
class MovedRecord:
    """A record correlation moved elsewhere (or removed, ``moved_to`` None) before it
    arrived here; if it arrives later with an older ``seq``, it is sent on."""

    moved_to: str | None
    seq: int
    link: Record | None = None


@dataclass(frozen=True)
class ReferenceData:
    """Org units, for rules that ask whether a unit or cost centre exists and is open.

    Not about a person, so not in the person's state: the pipeline lends it to the
    view at evaluation time. ``dfo_org_units`` by DFØ org unit id, ``orgreg_units`` by
    OrgReg ou id.
    """

    dfo_org_units: Mapping[str, Record] = field(default_factory=dict)
    orgreg_units: Mapping[str, Record] = field(default_factory=dict)
    orgreg_by_dfo_id: Mapping[str, Record] | None = None  # an index, where one is kept
    dfo_by_cost_centre: Mapping[str, Sequence[Record]] | None = None  # likewise

    def has_orgreg(self) -> bool:
        """Whether any OrgReg unit is loaded (rules stay silent until one is)."""
        return bool(self.orgreg_units) or bool(self.orgreg_by_dfo_id)

    def orgreg_for_dfo(self, dfo_org_id: str) -> Record | None:
        """The OrgReg unit whose external key ``dfo_sap/dfo_org_id`` is ``dfo_org_id``."""
        if self.orgreg_by_dfo_id is not None:
            return self.orgreg_by_dfo_id.get(dfo_org_id)
        for unit in self.orgreg_units.values():
            for key in unit.get("external_keys") or []:
                if key.get("source_system") == "dfo_sap" and key.get("value") == dfo_org_id:
                    return unit
        return None

    def dfo_units_for_cost_centre(self, cost_centre: str) -> Sequence[Record]:
        """The DFØ org units whose cost centre is ``cost_centre``."""
        index = self.dfo_by_cost_centre
        if index is None:
            index = units_by_cost_centre(self.dfo_org_units.values())
        return index.get(cost_centre, ())


def units_by_cost_centre(units: Iterable[Record]) -> dict[str, list[Record]]:
    """DFØ org units by their cost centre (a unit without one is left out)."""
    index: dict[str, list[Record]] = {}
    for unit in units:
        cost_centre = (unit.get("cost_centre") or "").strip()
        if cost_centre:
            index.setdefault(cost_centre, []).append(unit)
    return index


@dataclass(frozen=True)
class PersonView:
    """Per person: their source records (by reference), tasks and next re-check."""

    person_key: str
    institution: str
    records: dict[str, LinkedRecord] = field(default_factory=dict)
    tasks: dict[str, Record] = field(default_factory=dict)
    next_check: datetime | None = None
    elsewhere: dict[str, MovedRecord] = field(default_factory=dict)
    evaluated_at: datetime | None = None
    exceptions: dict[str, Record] = field(default_factory=dict)  # by task id
    reference: ReferenceData = field(default_factory=ReferenceData, compare=False)

    @classmethod
    def of(
        cls, person_key: str, institution: str, records: Iterable[tuple[str, Record]]
    ) -> PersonView:
        """A view holding ``(source topic, record)`` pairs, each under its own reference."""
        linked = [LinkedRecord(f"{s}/{r['source_id']}", s, r) for s, r in records]
        return cls(person_key, institution, records={r.ref: r for r in linked})

    @cached_property
    def _by_source(self) -> dict[str, list[Record]]:
        # A view is never changed (it is replaced), so the rules' many lookups share one
        # grouping of its records.
        grouped: dict[str, list[Record]] = {}
        for _, linked in sorted(self.records.items()):
            grouped.setdefault(linked.source_topic, []).append(linked.record)
        return grouped

    def of_source(self, source: str) -> list[Record]:
        """The person's records from one source, oldest reference first."""
        return list(self._by_source.get(source, ()))

    @cached_property
    def employee(self) -> Record | None:
        """DFØ's employee record (the newest, should a dispute leave two)."""
        employees = self.of_source(SourceKind.DFO_EMPLOYEE)
        return max(employees, key=lambda r: r["source_timestamp"]) if employees else None

    @property
    def accounts(self) -> dict[str, Record]:
        """IAM accounts by account id."""
        return {r["source_id"]: r for r in self.of_source(SourceKind.IAM_ACCOUNT)}

    @property
    def positions(self) -> list[Record]:
        """The DFØ positions the person holds (each lists all its holders)."""
        return self.of_source(SourceKind.DFO_POSITION)

    @property
    def iam_persons(self) -> list[Record]:
        return self.of_source(SourceKind.IAM_PERSON)

    @property
    def greg_persons(self) -> list[Record]:
        return self.of_source(SourceKind.GREG_PERSON)

    @property
    def unit4_resources(self) -> list[Record]:
        return self.of_source(SourceKind.UNIT4_RESOURCE)

    @property
    def approver_roles(self) -> list[Record]:
        return self.of_source(SourceKind.UNIT4_APPROVER_ROLE)

    @property
    def payroll_results(self) -> list[Record]:
        return self.of_source(SourceKind.PAYROLL_RESULT)

    @property
    def web_profiles(self) -> list[Record]:
        return self.of_source(SourceKind.WEB_PROFILE)

    @property
    def disputed(self) -> list[LinkedRecord]:
        """Records whose link to this person is disputed."""
        return [
            r
            for _, r in sorted(self.records.items())
            if r.link is not None and r.link.get("status") == "DISPUTED"
        ]

    @property
    def display_name(self) -> str | None:
        for source in (SourceKind.DFO_EMPLOYEE, SourceKind.IAM_PERSON, SourceKind.GREG_PERSON):
            for record in self.of_source(source):
                name = " ".join(p for p in (record.get("first_name"), record.get("last_name")) if p)
                if name:
                    return name
        return None

    @property
    def latest_source_timestamp(self) -> datetime | None:
        return max((r.source_timestamp for r in self.records.values()), default=None)


def record_version(record: Record) -> tuple[int, str]:
    """A record version's place in time: its source timestamp (ms), then a digest of its
    content, so that two versions with one timestamp order the same way everywhere (in
    correlation and in every person view)."""
    stamp: datetime = record["source_timestamp"]
    content = json.dumps(record, sort_keys=True, default=str, ensure_ascii=False)
    return int(stamp.timestamp() * 1000), hashlib.sha1(content.encode()).hexdigest()[:16]  # noqa: S324 - an ordering, not security


def is_newer_or_same(incoming: Record, current: Record) -> bool:
    """Whether ``incoming`` is the same version as ``current`` or a later one."""
    if incoming["source_timestamp"] != current["source_timestamp"]:
        return bool(incoming["source_timestamp"] > current["source_timestamp"])
    return record_version(incoming) >= record_version(current)


def upsert_record(view: PersonView, linked: LinkedRecord) -> PersonView:
    """The view after a version of a record arrived.

    The record's content is the newest by source timestamp; its link is correlation's
    newest word (the highest ``seq``). An older version never replaces a newer one.
    """
    current = view.records.get(linked.ref)
    if current is not None:
        record = (
            linked.record if is_newer_or_same(linked.record, current.record) else current.record
        )
        link, seq = (
            (linked.link, linked.seq)
            if linked.seq >= current.seq
            else (
                current.link,
                current.seq,
            )
        )
        linked = replace(current, record=record, link=link, seq=seq)
    return replace(view, records={**view.records, linked.ref: linked})
