"""The correlation state of one institution, updated one record at a time.

:class:`IdentityIndex` keeps the latest identity of every source record and an
index from identifier to records. An update re-resolves only the records connected
to the changed one (its component), with :func:`~hub.correlation.resolve.resolve`,
and reports every record whose assignment changed. Because resolution depends only
on the set of records, the state after any arrival order of the same records, with
any duplicates, is the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hub.correlation.identifiers import Identifier
from hub.correlation.resolve import Assignment, RecordIdentity, resolve

__all__ = ["AssignmentChange", "IdentityIndex", "Version"]

# A record's version: its source timestamp (ms), then a content digest, so that two
# different versions with one timestamp still order the same way everywhere.
Version = tuple[int, str]


@dataclass(frozen=True)
class AssignmentChange:
    """A record whose person or link status changed (``before`` is None when new)."""

    ref: str
    before: Assignment | None
    after: Assignment | None


def _content(record: RecordIdentity) -> str:
    return f"{record.linking}|" + ",".join(sorted(str(i) for i in record.identifiers))


class IdentityIndex:
    """Latest identities and assignments of one institution's records."""

    def __init__(self) -> None:
        self.records: dict[str, RecordIdentity] = {}
        self.versions: dict[str, Version] = {}
        self.assignments: dict[str, Assignment] = {}
        self._by_identifier: dict[Identifier, set[str]] = {}

    def upsert(
        self, record: RecordIdentity, version: int | Version
    ) -> list[AssignmentChange] | None:
        """Take a record's identity; None when an equal or newer version is already known.

        ``version`` orders the versions of one record: its source timestamp (ms) and a
        content digest, or a bare timestamp (then the identity's content breaks ties).
        """
        if isinstance(version, int):
            version = (version, _content(record))
        current = self.versions.get(record.ref)
        if current is not None and current >= version:
            return None
        old = self.records.get(record.ref)
        self._unindex(old)
        self.records[record.ref] = record
        self.versions[record.ref] = version
        self._index(record)
        seeds = set(record.identifiers) | (set(old.identifiers) if old else set())
        return self._reresolve(seeds, {record.ref})

    def remove(self, ref: str) -> list[AssignmentChange]:
        """Forget a record (its source deleted it)."""
        old = self.records.pop(ref, None)
        self.versions.pop(ref, None)
        if old is None:
            return []
        self._unindex(old)
        changes = self._reresolve(set(old.identifiers), set())
        before = self.assignments.pop(ref, None)
        return [*changes, AssignmentChange(ref, before, None)]

    def component(self, seeds: Iterable[Identifier], refs: Iterable[str] = ()) -> set[str]:
        """Every record connected, through shared identifiers, to the seeds."""
        pending = list(refs)
        for identifier in seeds:
            pending.extend(self._by_identifier.get(identifier, ()))
        seen: set[str] = set()
        while pending:
            ref = pending.pop()
            if ref in seen or ref not in self.records:
                continue
            seen.add(ref)
            for identifier in self.records[ref].identifiers:
                pending.extend(r for r in self._by_identifier.get(identifier, ()) if r not in seen)
        return seen

    def _reresolve(self, seeds: set[Identifier], refs: set[str]) -> list[AssignmentChange]:
        affected = self.component(seeds, refs)
        resolution = resolve(self.records[r] for r in affected)
        changes = []
        for ref in sorted(affected):
            after = resolution.assignments.get(ref)
            before = self.assignments.get(ref)
            if after != before or ref in refs:
                changes.append(AssignmentChange(ref, before, after))
            if after is None:
                self.assignments.pop(ref, None)
            else:
                self.assignments[ref] = after
        return changes

    def _index(self, record: RecordIdentity) -> None:
        for identifier in record.identifiers:
            self._by_identifier.setdefault(identifier, set()).add(record.ref)

    def _unindex(self, record: RecordIdentity | None) -> None:
        if record is None:
            return
        for identifier in record.identifiers:
            refs = self._by_identifier.get(identifier)
            if refs is not None:
                refs.discard(record.ref)
                if not refs:
                    del self._by_identifier[identifier]
