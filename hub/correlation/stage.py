"""The correlation stage: source records in, person events out.

For one institution at a time it keeps an :class:`IdentityIndex`, and for every
source record it returns what to remember (the identity states) and what each
affected person must hear: the record itself (UPSERT), a record leaving for another
person after a merge or a split (DETACH with ``moved_to``), or a changed link
status (RELINK). National IDs and passports go no further than this stage: person
events carry only pseudonyms, and the link evidence only masked forms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.correlation.extract import identities_of, masked_forms, record_ref
from hub.correlation.identifiers import Identifier, Kind, person_key
from hub.correlation.index import AssignmentChange, IdentityIndex, Version
from hub.correlation.resolve import Assignment, RecordIdentity
from hub.person_event import person_event
from hub.person_view import record_version

__all__ = ["CorrelationStage", "Outgoing"]

Record = dict[str, Any]
_SECRET_KINDS = frozenset({Kind.NIN, Kind.DNR, Kind.PASSPORT})


@dataclass(frozen=True)
class Outgoing:
    """A person event to send: the person key and the PersonEvent record."""

    person_key: str
    event: Record


@dataclass
class CorrelationStage:
    """Correlation state and logic for the institutions of one partition."""

    secret: str
    schemas: Mapping[str, str]  # source topic (logical) -> the schema of its values
    indexes: dict[str, IdentityIndex] = field(default_factory=dict)
    masked: dict[Identifier, str] = field(default_factory=dict)
    # How often each record has been (re)assigned; person events carry it so that
    # person views act only on the newest word about a record.
    seqs: dict[str, int] = field(default_factory=dict)
    _parts: dict[str, set[str]] = field(default_factory=dict)
    _clock: datetime | None = None

    # -- state ----------------------------------------------------------------

    def restore(self, states: Iterable[Record]) -> None:
        """Rebuild from stored identity states (after a restart or a rebalance)."""
        for state in states:
            identifiers = frozenset(
                Identifier(Kind(i["kind"]), i["value"]) for i in state["identifiers"]
            )
            for item in state["identifiers"]:
                if item.get("masked"):
                    self.masked[Identifier(Kind(item["kind"]), item["value"])] = item["masked"]
            index = self.indexes.setdefault(state["institution"], IdentityIndex())
            index.upsert(
                RecordIdentity(state["ref"], identifiers, state["linking"]),
                (state["timestamp_ms"], state.get("version_digest", "")),
            )
            self.seqs[state["ref"]] = state.get("assignment_seq", 0)
            base = state["ref"].split("#", 1)[0]
            self._parts.setdefault(base, set()).add(state["ref"])

    def _state(self, institution: str, identity: RecordIdentity, version: Version) -> Record:
        return {
            "ref": identity.ref,
            "institution": institution,
            "timestamp_ms": version[0],
            "version_digest": version[1],
            "linking": identity.linking,
            "assignment_seq": self.seqs.get(identity.ref, 0),
            "identifiers": [
                {"kind": i.kind.value, "value": i.value, "masked": self.masked.get(i)}
                for i in sorted(identity.identifiers, key=Identifier.sort_key)
            ],
        }

    # -- presentation -----------------------------------------------------------

    def display(self, identifier: Identifier) -> str:
        """An identifier as people may see it: identity numbers masked."""
        if identifier.kind in _SECRET_KINDS:
            return f"{identifier.kind.value}:{self.masked.get(identifier, '***')}"
        return str(identifier)

    def key_of(self, institution: str, assignment: Assignment) -> str:
        return person_key(self.secret, institution, assignment.anchor)

    def link_of(self, institution: str, assignment: Assignment) -> Record:
        """The Link record: status and evidence, identity numbers masked."""
        return {
            "status": assignment.status.value.upper(),
            "anchor": self.display(assignment.anchor),
            "shared": [self.display(i) for i in assignment.shared],
            "candidates": [
                {"person_key": person_key(self.secret, institution, c), "anchor": self.display(c)}
                for c in assignment.candidates
            ],
            "conflicts": [
                {
                    "kind": c.kind.value,
                    "ours": [self.display(Identifier(c.kind, v)) for v in c.ours],
                    "theirs": [self.display(Identifier(c.kind, v)) for v in c.theirs],
                }
                for c in assignment.conflicts
            ],
        }

    # -- processing -------------------------------------------------------------

    def process(
        self, source: str, record: Record
    ) -> tuple[list[tuple[str, Record | None]], list[Outgoing]]:
        """Take one decoded source record; return the identity states to store (by
        reference; None to forget one) and the person events to send."""
        institution = record["institution"]
        self._clock = record["source_timestamp"]  # every event this record causes happens now
        index = self.indexes.setdefault(institution, IdentityIndex())
        self.masked.update(masked_forms(record))
        version = record_version(record)
        identities = identities_of(source, record)
        base = record_ref(source, record)
        current = {i.ref for i in identities}
        events: list[Outgoing] = []
        changes: list[AssignmentChange] = []
        # A position's holders are parts of one record: a holder who left is removed,
        # unless this version is older than the one the parts came from.
        parts = self._parts.get(base, set())
        known = [index.versions[r] for r in parts if r in index.versions]
        if not known or version >= max(known):
            for gone in sorted(parts - current - {base}):
                changes.extend(index.remove(gone))
            self._parts[base] = current
        for identity in identities:
            found = index.upsert(identity, version)
            if found is None:  # an older or repeated version: the person view decides
                assignment = index.assignments.get(identity.ref)
                if assignment is not None:
                    events.append(
                        self._upsert(institution, source, identity.ref, record, assignment)
                    )
                continue
            changes.extend(found)
        settled, moved = self._settle(institution, source, record, current, changes)
        return settled, events + moved

    def process_deletion(
        self, source: str, institution: str, source_id: str, deleted_at: datetime
    ) -> tuple[list[tuple[str, Record | None]], list[Outgoing]]:
        """Forget a record its source deleted (and, for a position, every holder part).

        The person that had it hears DETACH without a new owner; records that stayed
        together only through it may part and move (DETACH/RELINK as for any change).
        A deletion of a record the stage never saw changes nothing.
        """
        self._clock = deleted_at
        index = self.indexes.setdefault(institution, IdentityIndex())
        base = f"{source}/{source_id}"
        refs = sorted(self._parts.pop(base, set()) | {base})
        changes: list[AssignmentChange] = []
        for ref in refs:
            changes.extend(index.remove(ref))
        return self._settle(institution, source, {}, set(refs), changes)

    def _settle(
        self,
        institution: str,
        source: str,
        record: Record,
        touched: set[str],
        changes: list[AssignmentChange],
    ) -> tuple[list[tuple[str, Record | None]], list[Outgoing]]:
        """Number the changed assignments, tell the persons concerned, and say which
        identity states to store (None: forget) for the changed and touched records.
        ``record`` is the one just processed; a touched ref that is still in the index
        is its own (it travels with the event)."""
        index = self.indexes[institution]
        events: list[Outgoing] = []
        for change in changes:
            if change.before != change.after:
                self.seqs[change.ref] = self.seqs.get(change.ref, 0) + 1
            events.extend(self._events_for(institution, source, record, touched, change))
        states: list[tuple[str, Record | None]] = []
        for ref in sorted({c.ref for c in changes} | touched):
            stored = index.records.get(ref)
            if stored is None:
                states.append((ref, None))
                self.seqs.pop(ref, None)
            else:
                states.append((ref, self._state(institution, stored, index.versions[ref])))
        return states, events

    def _event(self, key: str, institution: str, source: str, **fields: Any) -> Outgoing:
        """A person event; one about a record carries the record's assignment_seq."""
        ref = fields.get("record_ref")
        if ref and "assignment_seq" not in fields:
            fields["assignment_seq"] = self.seqs.get(ref, 0)
        fields.setdefault("event_time", self._clock)
        return Outgoing(key, person_event(key, institution, source, **fields))

    def _upsert(
        self, institution: str, source: str, ref: str, record: Record, assignment: Assignment
    ) -> Outgoing:
        key = self.key_of(institution, assignment)
        return self._event(
            key,
            institution,
            source,
            record=(self.schemas[source], record),
            record_ref=ref,
            link=self.link_of(institution, assignment),
            event_time=record["source_timestamp"],
        )

    def _events_for(
        self,
        institution: str,
        source: str,
        record: Record,
        own_refs: set[str],
        change: AssignmentChange,
    ) -> list[Outgoing]:
        before = self.key_of(institution, change.before) if change.before else None
        after = self.key_of(institution, change.after) if change.after else None
        ref_source = change.ref.split("/", 1)[0]
        if change.after is None or after is None:  # the record is gone
            if before is None:
                return []
            return [
                self._event(before, institution, ref_source, action="DETACH", record_ref=change.ref)
            ]
        own = change.ref in own_refs
        link = self.link_of(institution, change.after)
        if before is not None and before != after:
            # The record changed person. It goes by way of the old person, which sends
            # it on (in the newest version: the one carried here, if this is it),
            # together with its open tasks when nothing is left there.
            return [
                self._event(
                    before,
                    institution,
                    ref_source,
                    action="DETACH",
                    record=(self.schemas[source], record) if own else None,
                    record_ref=change.ref,
                    moved_to=after,
                    link=link,
                )
            ]
        if own:
            return [self._upsert(institution, source, change.ref, record, change.after)]
        return [
            self._event(
                after, institution, ref_source, action="RELINK", record_ref=change.ref, link=link
            )
        ]
