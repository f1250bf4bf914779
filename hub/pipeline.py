"""The hub's processing steps, free of faust: the agents in :mod:`hub.app` call these.

1. :meth:`Pipeline.route` decodes a source record and re-keys it by institution.
2. :meth:`Pipeline.correlate` runs the correlation stage on it and returns the
   identity states to remember and the person events to send.
3. :meth:`Pipeline.evaluate` folds a person event into the person's state, runs the
   rules and returns the task transitions and any events for other persons.

All raise :class:`~hub.errors.HubError` subclasses for bad input; the agents send
such records to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import AvroCodec
from hub.correlation.extract import PERSON_SOURCES
from hub.correlation.partition import correlation_partition
from hub.correlation.stage import CorrelationStage
from hub.errors import MappingError
from hub.findings import Evidence, Finding
from hub.person_event import person_event
from hub.person_view import (
    LinkedRecord,
    MovedRecord,
    PersonView,
    ReferenceData,
    is_newer_or_same,
    upsert_record,
)
from hub.rules import RULES, Rule, RuleSettings
from hub.source_deletion import INSTITUTION_HEADER, SOURCE_ID_HEADER, deletion_of
from hub.tasks.lifecycle import (
    Transition,
    adopt_tasks,
    follow_up,
    follow_up_moments,
    preview_of,
    reconcile,
)
from hub.topics import TopicCatalog


def _seq_of(moved: MovedRecord | None) -> int:
    return -1 if moved is None else moved.seq


__all__ = [
    "FAILSAFE_COMMAND",
    "FAILSAFE_GATE",
    "FAILSAFE_INCIDENT",
    "IDENTITY_EVENT",
    "IDENTITY_STATE",
    "PERSON_EVENT",
    "PERSON_STATE",
    "REFERENCE_RECORD",
    "TASK",
    "TASK_FEEDBACK",
    "TASK_PROPOSAL",
    "Evaluation",
    "Pipeline",
    "state_of",
    "view_of",
]

IDENTITY_EVENT = "no.bott.hub.IdentityEvent"
IDENTITY_STATE = "no.bott.hub.correlation.IdentityState"
PERSON_EVENT = "no.bott.hub.PersonEvent"
PERSON_STATE = "no.bott.hub.PersonState"
REFERENCE_RECORD = "no.bott.hub.ReferenceRecord"
TASK = "no.bott.hub.tasks.CorrectionTask"
TASK_PROPOSAL = "no.bott.hub.tasks.TaskProposal"
TASK_FEEDBACK = "no.bott.hub.tasks.TaskFeedback"
FAILSAFE_COMMAND = "no.bott.hub.tasks.FailsafeCommand"
FAILSAFE_GATE = "no.bott.hub.tasks.FailsafeGate"
FAILSAFE_INCIDENT = "no.bott.hub.tasks.FailsafeIncident"

Record = dict[str, Any]


def view_of(state: Record) -> PersonView:
    """A person view from its stored state (a PersonState record)."""
    return PersonView(
        person_key=state["person_key"],
        institution=state["institution"],
        records={
            r["ref"]: LinkedRecord(
                r["ref"], r["source_topic"], r["record"], r.get("link"), r.get("seq", 0)
            )
            for r in state.get("records", [])
        },
        tasks={t["task_id"]: t for t in state.get("tasks", [])},
        next_check=state.get("next_check"),
        evaluated_at=state.get("evaluated_at"),
        exceptions={e["task_id"]: e for e in state.get("exceptions", [])},
        elsewhere={
            m["ref"]: MovedRecord(m["moved_to"], m["seq"], m.get("link"))
            for m in state.get("elsewhere", [])
        },
    )


def state_of(view: PersonView) -> Record:
    """The stored state (a PersonState record) of a person view."""
    return {
        "person_key": view.person_key,
        "institution": view.institution,
        "records": [
            {
                "ref": r.ref,
                "source_topic": r.source_topic,
                "record": r.record,
                "link": r.link,
                "seq": r.seq,
            }
            for _, r in sorted(view.records.items())
        ],
        "elsewhere": [
            {"ref": ref, "moved_to": m.moved_to, "seq": m.seq, "link": m.link}
            for ref, m in sorted(view.elsewhere.items())
        ],
        "tasks": [view.tasks[k] for k in sorted(view.tasks)],
        "exceptions": [view.exceptions[k] for k in sorted(view.exceptions)],
        "next_check": view.next_check,
        "evaluated_at": view.evaluated_at,
    }


@dataclass(frozen=True)
class Evaluation:
    """What evaluating one person event produced."""

    state: Record | None  # None: the person has nothing left and is forgotten
    transitions: list[Transition]
    forwards: list[Record]  # PersonEvents for other persons (a record or tasks moving)
    now: datetime | None = None  # the moment the rules were evaluated at
    previews: list[Record] = field(default_factory=list)  # findings of rules in preview


class EvidenceOnDemand(Mapping[str, Sequence[Evidence]]):
    """The evaluated rules, each mapped to the evidence it sees in ``view``.

    A rule's evidence is gathered only when asked for: only an open task that its
    rule no longer finds needs it (as its resolution evidence), and gathering it for
    every rule on every evaluation cost about a quarter of an evaluation."""

    def __init__(self, view: PersonView) -> None:
        self.view = view
        self._rules: dict[str, Rule] = {}
        self._seen: dict[str, Sequence[Evidence]] = {}

    def add(self, rule: Rule) -> None:
        self._rules[rule.rule_id] = rule

    def __getitem__(self, rule_id: str) -> Sequence[Evidence]:
        if rule_id not in self._seen:
            self._seen[rule_id] = self._rules[rule_id].evidence(self.view)
        return self._seen[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)


@dataclass
class Pipeline:
    """Everything the processing steps need: codec, schemas, topics, secret and rules."""

    codec: AvroCodec
    catalog: SchemaCatalog
    topics: TopicCatalog
    secret: str
    rule_settings: Mapping[str, RuleSettings] | RuleSettings
    clock: str = "wall"
    rules: tuple[Rule, ...] = RULES

    def __post_init__(self) -> None:
        self._logical = {self.topics.name(t): t for t in PERSON_SOURCES}
        self.schema_of_source = {t: self.topics[t].value_schema or "" for t in PERSON_SOURCES}

    @property
    def source_topic_names(self) -> list[str]:
        return sorted(self._logical)

    def settings_for(self, institution: str) -> RuleSettings:
        """The institution's rule settings (one RuleSettings serves every institution)."""
        if isinstance(self.rule_settings, RuleSettings):
            return self.rule_settings
        return self.rule_settings.get(institution) or RuleSettings()

    def correlation_partition(self, institution: str) -> int:
        """The partition of ``hub.identity-input`` for the institution's records
        (:mod:`hub.correlation.partition`)."""
        return correlation_partition(institution, self.topics["hub.identity-input"].partitions)

    def new_stage(self) -> CorrelationStage:
        return CorrelationStage(secret=self.secret, schemas=self.schema_of_source)

    # -- 1. route -----------------------------------------------------------------

    async def route(
        self,
        topic: str,
        value: bytes | None,
        headers: object = None,
        published_at: datetime | None = None,
    ) -> tuple[str, bytes]:
        """Decode a source record; return (institution, encoded IdentityEvent).

        A tombstone is a deletion when its headers say what was deleted
        (:mod:`hub.source_deletion`); ``published_at`` is when it was published.
        """
        logical = self._logical.get(topic)
        if logical is None:
            raise MappingError(f"{topic} is not a source topic of this hub")
        if value is None:
            deletion = deletion_of(headers)
            if deletion is None:
                raise MappingError(
                    "the record has no value and no deletion headers"
                    f" ({INSTITUTION_HEADER}, {SOURCE_ID_HEADER}): a tombstone must say"
                    " which record its source deleted"
                )
            event: Record = {
                "institution": deletion.institution,
                "source_topic": logical,
                "record": None,
                "deleted_source_id": deletion.source_id,
                "deleted_at": published_at or datetime.now(UTC),
            }
        else:
            schema_name = self.schema_of_source[logical]
            record = await self.codec.decode(value, self.catalog[schema_name])
            event = {
                "institution": record["institution"],
                "source_topic": logical,
                "record": (schema_name, record),
            }
        encoded = await self.codec.encode(
            self.topics.name("hub.identity-input"), self.catalog[IDENTITY_EVENT], event
        )
        return str(event["institution"]), encoded

    # -- 2. correlate -------------------------------------------------------------

    async def correlate(
        self, stage: CorrelationStage, value: bytes | None
    ) -> tuple[list[tuple[str, Record | None]], list[tuple[str, bytes]]]:
        """Run correlation on an IdentityEvent; return (identity states, encoded events)."""
        if value is None:
            raise MappingError("the identity event has no value")
        event = await self.codec.decode(value, self.catalog[IDENTITY_EVENT])
        if event["record"] is None:
            if not event.get("deleted_source_id") or event.get("deleted_at") is None:
                raise MappingError("the identity event has neither a record nor a deletion")
            states, outgoing = stage.process_deletion(
                event["source_topic"],
                event["institution"],
                event["deleted_source_id"],
                event["deleted_at"],
            )
        else:
            states, outgoing = stage.process(event["source_topic"], event["record"])
        encoded = [(o.person_key, await self.encode_person_event(o.event)) for o in outgoing]
        return states, encoded

    def tagged_record(self, source_topic: str, record: Record | None) -> Any:
        """A source record with its schema named (Avro tuple notation), for a union of
        every source's record: the writer takes that branch instead of trying each."""
        schema = self.schema_of_source.get(source_topic)
        if record is None or isinstance(record, tuple) or schema is None:
            return record
        return (schema, record)

    def tagged_state(self, state: Record) -> Record:
        """A PersonState with each of its records' schema named (see tagged_record)."""
        records = [
            {**r, "record": self.tagged_record(r["source_topic"], r["record"])}
            for r in state.get("records", [])
        ]
        return {**state, "records": records}

    async def encode_person_event(self, event: Record) -> bytes:
        record = self.tagged_record(event.get("source_topic", ""), event.get("record"))
        tagged = {**event, "record": record}
        return await self.codec.encode(
            self.topics.name("hub.person-events"), self.catalog[PERSON_EVENT], tagged
        )

    # -- 3. evaluate --------------------------------------------------------------

    def now(self, event: Record, view: PersonView) -> datetime:
        """Wall time in production. On the event clock: the event's own time (or, for an
        event without one, the newest source time the person has seen), but never
        earlier than the person's last evaluation."""
        if self.clock == "event":
            stamp = event.get("event_time")
            if stamp is None and event.get("record") is not None:
                stamp = event["record"]["source_timestamp"]
            if stamp is None:
                stamp = view.latest_source_timestamp
            if view.evaluated_at is not None and (stamp is None or stamp < view.evaluated_at):
                stamp = view.evaluated_at  # a late, older record does not turn time back
            if stamp is not None:
                result: datetime = stamp
                return result
        return datetime.now(UTC)

    @staticmethod
    def feedback_event(feedback: Record) -> Record:
        """The PersonEvent a task decision (TaskFeedback) becomes for the task's person."""
        return person_event(
            feedback["person_key"],
            feedback["institution"],
            "",
            action=feedback["action"],
            exception={
                "task_id": feedback["task_id"],
                "reason": feedback.get("reason") or "",
                "accepted_by": feedback["decided_by"],
                "accepted_at": feedback["decided_at"],
                "expires_at": feedback.get("expires_at"),
            },
            event_time=feedback["decided_at"],
        )

    def recheck_event(self, state: Record, due: datetime) -> Record:
        """A RECHECK PersonEvent for a stored person whose re-check is due."""
        return person_event(
            state["person_key"], state["institution"], "", action="RECHECK", event_time=due
        )

    def _apply(self, view: PersonView, event: Record) -> tuple[PersonView, list[Record]]:
        """The view after the event's action, and events for other persons.

        Correlation numbers its words about each record (``assignment_seq``); a view
        acts only on the newest. A record may arrive after correlation has already
        moved it on (a merge followed by another): the view then remembers where it
        went (``elsewhere``) and sends the late arrival after it.
        """
        action = event["action"]
        if action == "UPSERT" and event["record"] is not None:
            return self._arrive(view, event)
        if action == "DETACH":
            return self._leave(view, event)
        if action in ("SUPPRESS", "UNSUPPRESS") and event.get("exception") is not None:
            task_id = event["exception"]["task_id"]
            exceptions = {k: v for k, v in view.exceptions.items() if k != task_id}
            if action == "SUPPRESS":
                exceptions[task_id] = event["exception"]
            return replace(view, exceptions=exceptions), []
        if action == "RELINK":
            ref, seq = event["record_ref"], event["assignment_seq"]
            current = view.records.get(ref)
            if current is not None:
                if seq >= current.seq:
                    records = {**view.records, ref: replace(current, link=event["link"], seq=seq)}
                    view = replace(view, records=records)
            elif seq > _seq_of(view.elsewhere.get(ref)):
                moved = MovedRecord(view.person_key, seq, event["link"])
                view = replace(view, elsewhere={**view.elsewhere, ref: moved})
        return view, []

    def _arrive(self, view: PersonView, event: Record) -> tuple[PersonView, list[Record]]:
        ref, seq = event["record_ref"], event["assignment_seq"]
        linked = LinkedRecord(ref, event["source_topic"], event["record"], event["link"], seq)
        moved = view.elsewhere.get(ref)
        if moved is not None and moved.seq > seq:
            rest = {k: v for k, v in view.elsewhere.items() if k != ref}
            if moved.moved_to is None:  # removed before it came
                return replace(view, elsewhere=rest), []
            linked = replace(linked, link=moved.link, seq=moved.seq)
            if moved.moved_to != view.person_key:  # moved on before it came: send it after
                return replace(view, elsewhere=rest), [self._carry(view, moved.moved_to, linked)]
            view = replace(view, elsewhere=rest)
        elif moved is not None:
            view = replace(view, elsewhere={k: v for k, v in view.elsewhere.items() if k != ref})
        return upsert_record(view, linked), []

    def _leave(self, view: PersonView, event: Record) -> tuple[PersonView, list[Record]]:
        """A record leaves this person: for ``moved_to`` if set, else it is gone.

        The record goes on in one UPSERT, in the newest of the version held here and
        the one correlation sent along. If it was the person's last record, the person
        was merged away, and its open tasks travel in the same event, so the survivor
        adopts them before its rules run.
        """
        ref, seq, target = event["record_ref"], event["assignment_seq"], event["moved_to"]
        leaving = view.records.get(ref)
        if leaving is not None and leaving.seq > seq:
            return view, []  # correlation has said something newer about it since
        carried = event["record"]
        if leaving is None:
            if seq > _seq_of(view.elsewhere.get(ref)):  # a late arrival is sent after it
                moved = MovedRecord(target, seq, event["link"])
                view = replace(view, elsewhere={**view.elsewhere, ref: moved})
            if carried is None or not target:
                return view, []
            linked = LinkedRecord(ref, event["source_topic"], carried, event["link"], seq)
        else:
            view = replace(view, records={k: v for k, v in view.records.items() if k != ref})
            if not target:
                return view, []
            newest = (
                carried
                if carried is not None and is_newer_or_same(carried, leaving.record)
                else leaving.record
            )
            linked = replace(leaving, record=newest, link=event["link"], seq=seq)
        forward = self._carry(view, target, linked)
        if not view.records:
            forward["adopted_tasks"] = [
                t for _, t in sorted(view.tasks.items()) if t["state"] == "OPEN"
            ]
            view = replace(view, tasks={})
        return view, [forward]

    @staticmethod
    def _carry(view: PersonView, target: str, linked: LinkedRecord) -> Record:
        """An UPSERT that carries a record on to ``target``."""
        return person_event(
            target,
            view.institution,
            linked.source_topic,
            record=linked.record,
            record_ref=linked.ref,
            link=linked.link,
            assignment_seq=linked.seq,
            event_time=linked.record["source_timestamp"],
        )

    def evaluate(
        self, state: Record | None, event: Record, reference: ReferenceData | None = None
    ) -> Evaluation:
        """Fold a decoded PersonEvent into the person's state and run the rules (which
        may look up org units in ``reference``)."""
        view = (
            view_of(state)
            if state is not None
            else PersonView(person_key=event["person_key"], institution=event["institution"])
        )
        if reference is not None:
            view = replace(view, reference=reference)
        now = self.now(event, view)
        transitions: list[Transition] = []
        if event["adopted_tasks"]:  # tasks of a person merged into this one come first
            view, adopted = adopt_tasks(view, event["adopted_tasks"], now)
            transitions.extend(adopted)
        view, forwards = self._apply(view, event)
        settings = self.settings_for(view.institution)
        findings: list[Finding] = []
        previews: list[Record] = []
        evaluated = EvidenceOnDemand(view)
        checks: list[datetime] = []
        for rule in self.rules:
            if not settings.is_enabled(rule.rule_id):
                continue
            found = rule.evaluate(view, now, settings)
            upcoming = rule.next_check(view, now, settings)
            if upcoming is not None and upcoming > now:
                checks.append(upcoming)
            if settings.is_preview(rule.rule_id):
                previews.extend(
                    preview_of(f, view.institution, view.person_key, now, settings.queue_for)
                    for f in found
                )
                continue
            findings.extend(found)
            evaluated.add(rule)
        changed = reconcile(
            institution=view.institution,
            person_key=view.person_key,
            tasks=view.tasks,
            findings=findings,
            evaluated_rules=evaluated,
            now=now,
            queue_for=settings.queue_for,
        )
        transitions.extend(changed)
        tasks = dict(view.tasks)
        tasks.update({t.task["task_id"]: t.task for t in changed})
        # Exceptions and deadlines: suppress, reopen when an exception ends, escalate.
        followed = follow_up(tasks, view.exceptions, now)
        transitions.extend(followed)
        tasks.update({t.task["task_id"]: t.task for t in followed})
        checks += follow_up_moments(tasks, view.exceptions, now)
        view = replace(view, tasks=tasks, next_check=min(checks, default=None), evaluated_at=now)
        keep = bool(view.records or view.tasks or view.elsewhere)
        return Evaluation(state_of(view) if keep else None, transitions, forwards, now, previews)
