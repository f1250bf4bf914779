"""Reference data (org units from DFØ and OrgReg) for the rules, kept in a global table.

Every worker holds all of it: rules about any person may ask about any unit. Keys:
``dfo:<org unit id>``, ``orgreg:<ou id>`` and ``orgreg-by-dfo:<DFØ org id>`` (OrgReg
units indexed by their ``dfo_sap`` external key, so a lookup is one read).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from hub.person_view import ReferenceData, units_by_cost_centre

__all__ = [
    "REFERENCE_SOURCES",
    "KeyKinds",
    "LiveReference",
    "deleted_keys",
    "keys_for",
]

Record = dict[str, Any]

REFERENCE_SOURCES = {
    "source.dfo.orgunit": "no.bott.hub.dfo.OrgUnit",
    "source.orgreg.orgunit": "no.bott.hub.orgreg.OrgUnit",
}


def keys_for(source: str, record: Record) -> list[str]:
    """The table keys a reference record is stored under."""
    if source == "source.dfo.orgunit":
        return [f"dfo:{record['org_unit_id']}"]
    keys = [f"orgreg:{record['ou_id']}"]
    keys += [
        f"orgreg-by-dfo:{key['value']}"
        for key in record.get("external_keys") or []
        if key.get("source_system") == "dfo_sap"
    ]
    return keys


def _own_key(source: str, source_id: str) -> str:
    return f"dfo:{source_id}" if source == "source.dfo.orgunit" else f"orgreg:{source_id}"


def deleted_keys(source: str, source_id: str, table: Mapping[bytes, Any]) -> list[str]:
    """The table keys to remove when a source deletes an org unit: the ones the stored
    record was kept under (an OrgReg unit also under its DFØ ids)."""
    own = _own_key(source, source_id)
    stored = table.get(own.encode())
    if stored is None:
        return [own]
    return sorted({own, *keys_for(source, stored["record"])})


class KeyKinds:
    """Which kinds of key (``dfo``, ``orgreg``, ``orgreg-by-dfo``) the reference table
    holds, found in one pass over its keys and kept until the table changes.

    Rules ask "is any OrgReg unit loaded?" on every evaluation. Answered by a scan, that
    costs a step per org unit (an institution without OrgReg scans all of its DFØ
    units), and on RocksDB an iterator over every partition's database even when the
    table is empty. Whoever changes the table calls :meth:`forget`: the reference agent
    after its writes, the table after it applies changelog records from other workers
    (see :class:`LiveReference`)."""

    def __init__(self, table: Mapping[bytes, Any]) -> None:
        self.table = table
        self._kinds: frozenset[bytes] | None = None

    def forget(self) -> None:
        self._kinds = None

    def holds(self, kind: bytes) -> bool:
        if self._kinds is None:
            self._kinds = frozenset(key.partition(b":")[0] for key in list(self.table))
        return kind in self._kinds


class _Prefixed(Mapping[str, Record]):
    """The records of a table whose keys start with ``prefix``, by the rest of the key."""

    def __init__(self, table: MutableMapping[bytes, Any], prefix: str, kinds: KeyKinds) -> None:
        self.table = table
        self.prefix = prefix.encode()
        self.kinds = kinds

    def __getitem__(self, key: str) -> Record:
        value = self.table[self.prefix + key.encode()]
        record: Record = value["record"]
        return record

    def __iter__(self) -> Iterator[str]:
        return (
            k[len(self.prefix) :].decode() for k in list(self.table) if k.startswith(self.prefix)
        )

    def __len__(self) -> int:
        return sum(1 for k in list(self.table) if k.startswith(self.prefix))

    def __bool__(self) -> bool:
        return self.kinds.holds(self.prefix.rstrip(b":"))


class _CostCentres(Mapping[str, Sequence[Record]]):
    """DFØ org units by cost centre, built in one pass over ``units`` and kept until
    :meth:`forget`: the closed cost centre rule asks on every evaluation, and a pass
    costs a step per DFØ unit (on RocksDB, a read and a decode each)."""

    def __init__(self, units: Mapping[str, Record]) -> None:
        self.units = units
        self._index: dict[str, list[Record]] | None = None

    def forget(self) -> None:
        self._index = None

    def _built(self) -> dict[str, list[Record]]:
        if self._index is None:
            self._index = units_by_cost_centre(self.units.values())
        return self._index

    def __getitem__(self, key: str) -> Sequence[Record]:
        return self._built()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())


class LiveReference:
    """A live view of the reference table for the rules (:attr:`data`), and what it
    remembers about the table, to :meth:`forget` when the table changes."""

    def __init__(self, table: MutableMapping[bytes, Any]) -> None:
        self.kinds = KeyKinds(table)
        dfo_org_units = _Prefixed(table, "dfo:", self.kinds)
        self.cost_centres = _CostCentres(dfo_org_units)
        self.data = ReferenceData(
            dfo_org_units=dfo_org_units,
            orgreg_units=_Prefixed(table, "orgreg:", self.kinds),
            orgreg_by_dfo_id=_Prefixed(table, "orgreg-by-dfo:", self.kinds),
            dfo_by_cost_centre=self.cost_centres,
        )

    def forget(self) -> None:
        self.kinds.forget()
        self.cost_centres.forget()
