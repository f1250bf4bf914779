"""Deciding who is who, as a pure function of a set of records.

:func:`resolve` takes the identities of a set of source records (one institution) and
returns, for each record, the person it belongs to and how it got there:

- *linked*: the record joined a person other records also belong to;
- *unmatched*: no other record shares an identifier with it, so it is a new person;
- *disputed*: it shares an identifier with a person whose exclusive identifiers
  contradict its own (two national IDs, two employee numbers). It is kept apart, as a
  person of its own, with the candidates and the conflicting identifiers as evidence.

Records are considered in a canonical order (by reference), so the result depends
only on the set of records: any arrival order, with any duplicates, gives the same
persons and links.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hub.correlation.identifiers import EXCLUSIVE_KINDS, Identifier, Kind

__all__ = [
    "Assignment",
    "Conflict",
    "LinkStatus",
    "RecordIdentity",
    "Resolution",
    "resolve",
]


class LinkStatus(enum.StrEnum):
    LINKED = "linked"
    UNMATCHED = "unmatched"
    DISPUTED = "disputed"


@dataclass(frozen=True)
class RecordIdentity:
    """What one source record says about identity.

    ``ref`` names the record (``source.dfo.employee/123``). ``linking`` records
    (employees, IAM persons and accounts, Greg persons, Unit4 resources) join their
    identifiers into one person. Other records (a position's holder, a payroll
    result, an approver role, a web profile) only *attach* to the person who holds
    their identifier and never join two people.
    """

    ref: str
    identifiers: frozenset[Identifier]
    linking: bool = True


@dataclass(frozen=True)
class Conflict:
    """Two values of one exclusive kind that would end up on one person."""

    kind: Kind
    ours: tuple[str, ...]
    theirs: tuple[str, ...]


@dataclass(frozen=True)
class Assignment:
    """Where one record belongs: its person's anchor identifier, status and evidence."""

    anchor: Identifier
    status: LinkStatus
    shared: tuple[Identifier, ...] = ()
    candidates: tuple[Identifier, ...] = ()
    conflicts: tuple[Conflict, ...] = ()


@dataclass(eq=False)
class _Group:
    # The identifiers this person owns (records holding them are routed here) ...
    identifiers: set[Identifier] = field(default_factory=set)
    # ... and every identifier its records assert, owned or not (checked for conflicts).
    asserted: set[Identifier] = field(default_factory=set)
    refs: list[str] = field(default_factory=list)
    merged_into: _Group | None = None

    def find(self) -> _Group:
        group = self
        while group.merged_into is not None:
            group = group.merged_into
        return group

    def anchor(self) -> Identifier:
        return min(self.identifiers, key=Identifier.sort_key)


@dataclass
class _Placement:
    group: _Group
    status: LinkStatus
    shared: tuple[Identifier, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    candidates: tuple[_Group, ...] = ()


@dataclass(frozen=True)
class Resolution:
    """Every record's assignment, and the records of each person (by anchor)."""

    assignments: Mapping[str, Assignment]

    def persons(self) -> dict[Identifier, list[str]]:
        result: dict[Identifier, list[str]] = {}
        for ref, assignment in sorted(self.assignments.items()):
            result.setdefault(assignment.anchor, []).append(ref)
        return result


def _conflicts(ours: Iterable[Identifier], groups: list[_Group]) -> list[Conflict]:
    """Exclusive kinds on which groups contradict ``ours`` (the record and the people it
    already joins): both sides have values of the kind, and none in common.

    A record that itself names two values (an old and a new national ID) bridges the
    people holding either, so the values accumulate as groups are taken in.
    """
    found: list[Conflict] = []
    held: dict[Kind, set[str]] = {}
    for identifier in ours:
        if identifier.kind in EXCLUSIVE_KINDS:
            held.setdefault(identifier.kind, set()).add(identifier.value)
    for group in groups:
        theirs: dict[Kind, set[str]] = {}
        for identifier in group.asserted:
            if identifier.kind in EXCLUSIVE_KINDS:
                theirs.setdefault(identifier.kind, set()).add(identifier.value)
        clash = [k for k, v in theirs.items() if held.get(k) and not held[k] & v]
        if clash:
            found.extend(
                Conflict(k, tuple(sorted(held[k])), tuple(sorted(theirs[k]))) for k in sorted(clash)
            )
            continue
        for kind, values in theirs.items():
            held.setdefault(kind, set()).update(values)
    return found


class _Resolver:
    """One pass over the records in canonical order (see :func:`resolve`)."""

    def __init__(self) -> None:
        self.owner: dict[Identifier, _Group] = {}
        self.placements: dict[str, _Placement] = {}

    def touched(self, record: RecordIdentity) -> list[_Group]:
        groups: list[_Group] = []
        for identifier in sorted(record.identifiers, key=Identifier.sort_key):
            group = self.owner.get(identifier)
            if group is not None:
                group = group.find()
                if all(group is not g for g in groups):
                    groups.append(group)
        return groups

    def claim(self, group: _Group, identifiers: Iterable[Identifier]) -> None:
        for identifier in identifiers:
            group.identifiers.add(identifier)
            self.owner[identifier] = group

    def attach(self, record: RecordIdentity) -> None:
        """A non-linking record joins the first person holding one of its identifiers."""
        touched = self.touched(record)
        if touched:
            shared = self.already_known(record)
            self.place(record, touched[0], LinkStatus.LINKED, shared=shared)
        else:
            group = _Group()
            self.claim(group, record.identifiers)
            self.place(record, group, LinkStatus.UNMATCHED)

    def link(self, record: RecordIdentity) -> None:
        """A linking record joins every person it shares an identifier with, unless
        their exclusive identifiers contradict; it is disputed against those."""
        touched = self.touched(record)
        shared = self.already_known(record)
        compatible: list[_Group] = []
        joined = set(record.identifiers)
        pending = list(touched)
        progress = True
        while progress:  # take in every person that does not contradict what is joined
            progress = False
            for group in list(pending):
                if not _conflicts(joined, [group]):
                    compatible.append(group)
                    joined |= group.asserted
                    pending.remove(group)
                    progress = True
        contradicting = pending
        evidence = [c for group in contradicting for c in _conflicts(joined, [group])]
        target = compatible[0] if compatible else _Group()
        for other in compatible[1:]:  # the record links two people: merge them
            other.merged_into = target
            target.refs.extend(other.refs)
            target.asserted |= other.asserted
            self.claim(target, list(other.identifiers))
        taken = {i for g in contradicting for i in g.identifiers}
        own = [i for i in record.identifiers if i not in taken]
        if not target.identifiers and not own:
            own = [Identifier(Kind.RECORD, record.ref)]
        self.claim(target, own)
        if contradicting:
            self.place(
                record,
                target,
                LinkStatus.DISPUTED,
                conflicts=evidence,
                candidates=tuple(contradicting),
                shared=shared,
            )
        else:
            status = LinkStatus.LINKED if compatible else LinkStatus.UNMATCHED
            self.place(record, target, status, shared=shared)

    def place(
        self,
        record: RecordIdentity,
        group: _Group,
        status: LinkStatus,
        *,
        conflicts: list[Conflict] | None = None,
        candidates: tuple[_Group, ...] = (),
        shared: tuple[Identifier, ...] = (),
    ) -> None:
        group.refs.append(record.ref)
        if record.linking:
            group.asserted |= record.identifiers
        self.placements[record.ref] = _Placement(
            group, status, shared, tuple(conflicts or ()), candidates
        )

    def already_known(self, record: RecordIdentity) -> tuple[Identifier, ...]:
        """The record's identifiers some person already holds: the evidence of a link."""
        return tuple(
            sorted((i for i in record.identifiers if i in self.owner), key=Identifier.sort_key)
        )

    def result(self) -> Resolution:
        assignments = {}
        for ref, placement in self.placements.items():
            group = placement.group.find()
            status = placement.status
            if status is LinkStatus.UNMATCHED and len(group.refs) > 1:
                status = LinkStatus.LINKED  # others joined the person it started
            # A later record may have bridged a dispute (naming both national IDs, say):
            # candidates that ended in the record's own person are no longer disputed.
            candidates = {c.find() for c in placement.candidates} - {group}
            conflicts = placement.conflicts
            if status is LinkStatus.DISPUTED and not candidates:
                status, conflicts = LinkStatus.LINKED, ()
            assignments[ref] = Assignment(
                anchor=group.anchor(),
                status=status,
                shared=placement.shared,
                candidates=tuple(sorted({c.anchor() for c in candidates}, key=Identifier.sort_key)),
                conflicts=conflicts,
            )
        return Resolution(assignments)


def resolve(records: Iterable[RecordIdentity]) -> Resolution:
    """Assign every record to a person; see the module docstring.

    Linking records come first, in order of their references, then the attached
    ones: the result is a function of the set of records alone.
    """
    unique = {r.ref: r for r in records}
    resolver = _Resolver()
    for record in sorted(unique.values(), key=lambda r: (not r.linking, r.ref)):
        if not record.identifiers:
            continue
        if record.linking:
            resolver.link(record)
        else:
            resolver.attach(record)
    return resolver.result()
