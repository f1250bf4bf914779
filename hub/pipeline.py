"""The hub's processing steps, free of faust: the agents in :mod:`hub.app` call these.

1. :meth:`Pipeline.correlate` decodes a source record and re-keys it by person.
2. :meth:`Pipeline.evaluate` folds a person event into the person's state, runs the
   rules and returns the task transitions.

Both raise :class:`~hub.errors.HubError` subclasses for bad input; the agents send
such records to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import AvroCodec
from hub.correlation import person_key_for
from hub.errors import MappingError
from hub.findings import Evidence, Finding
from hub.person_view import PersonView, SourceKind, apply_record
from hub.rules import RULES, Rule, RuleSettings
from hub.tasks.lifecycle import Transition, reconcile
from hub.topics import TopicCatalog

__all__ = ["PERSON_EVENT", "PERSON_STATE", "TASK", "Pipeline", "state_of", "view_of"]

PERSON_EVENT = "no.bott.hub.PersonEvent"
PERSON_STATE = "no.bott.hub.PersonState"
TASK = "no.bott.hub.tasks.CorrectionTask"

SOURCE_TOPICS = (SourceKind.DFO_EMPLOYEE, SourceKind.IAM_ACCOUNT)

Record = dict[str, Any]


def view_of(state: Record) -> PersonView:
    """A person view from its stored state (a PersonState record)."""
    return PersonView(
        person_key=state["person_key"],
        institution=state["institution"],
        employee=state.get("employee"),
        accounts={a["source_id"]: a for a in state.get("accounts", [])},
        tasks={t["task_id"]: t for t in state.get("tasks", [])},
    )


def state_of(view: PersonView) -> Record:
    """The stored state (a PersonState record) of a person view."""
    return {
        "person_key": view.person_key,
        "institution": view.institution,
        "employee": view.employee,
        "accounts": [view.accounts[k] for k in sorted(view.accounts)],
        "tasks": [view.tasks[k] for k in sorted(view.tasks)],
    }


@dataclass
class Pipeline:
    """Everything the processing steps need: codec, schemas, topics, secret and rules."""

    codec: AvroCodec
    catalog: SchemaCatalog
    topics: TopicCatalog
    secret: str
    rule_settings: RuleSettings
    clock: str = "wall"
    rules: tuple[Rule, ...] = RULES
    queue_for: Callable[[str], str | None] = field(default=lambda _owner: None)

    def __post_init__(self) -> None:
        self._logical = {self.topics.name(t): t for t in SOURCE_TOPICS}

    @property
    def source_topic_names(self) -> list[str]:
        return sorted(self._logical)

    async def correlate(self, topic: str, value: bytes | None) -> tuple[str, bytes]:
        """Decode a source record; return (person key, encoded PersonEvent)."""
        logical = self._logical.get(topic)
        if logical is None:
            raise MappingError(f"{topic} is not a source topic of this hub")
        if value is None:
            raise MappingError("the record has no value (a tombstone is not a source record)")
        schema_name = self.topics[logical].value_schema
        assert schema_name is not None  # noqa: S101 - source topics always name a schema
        record = await self.codec.decode(value, self.catalog[schema_name])
        key = person_key_for(self.secret, logical, record)
        event = {
            "person_key": key,
            "institution": record["institution"],
            "source_topic": logical,
            "record": (schema_name, record),
        }
        encoded = await self.codec.encode(
            self.topics.name("hub.person-events"), self.catalog[PERSON_EVENT], event
        )
        return key, encoded

    def now(self, event: Record) -> datetime:
        """Wall time in production; the event's own source time on the event-time clock."""
        if self.clock == "event":
            stamp: datetime = event["record"]["source_timestamp"]
            return stamp
        return datetime.now(UTC)

    def evaluate(self, state: Record | None, event: Record) -> tuple[Record, list[Transition]]:
        """Fold a decoded PersonEvent into the person's state and run the rules."""
        view = (
            view_of(state)
            if state is not None
            else PersonView(person_key=event["person_key"], institution=event["institution"])
        )
        view = apply_record(view, event["source_topic"], event["record"])
        now = self.now(event)
        findings: list[Finding] = []
        evaluated: dict[str, Sequence[Evidence]] = {}
        for rule in self.rules:
            findings.extend(rule.evaluate(view, now, self.rule_settings))
            evaluated[rule.rule_id] = rule.evidence(view)
        transitions = reconcile(
            institution=view.institution,
            person_key=view.person_key,
            tasks=view.tasks,
            findings=findings,
            evaluated_rules=evaluated,
            now=now,
            queue_for=self.queue_for,
        )
        if transitions:
            tasks = dict(view.tasks)
            tasks.update({t.task["task_id"]: t.task for t in transitions})
            view = PersonView(
                person_key=view.person_key,
                institution=view.institution,
                employee=view.employee,
                accounts=view.accounts,
                tasks=tasks,
            )
        return state_of(view), transitions
