"""Scoring a replay: the tasks on ``hub.tasks`` against the scenario's expectations.

A task matches an expectation when rule, institution and person agree. The person is
matched by person key: the scorer computes the key the hub gives the expected
person from the scenario's native identifiers and the pseudonym secret (the anchor is
the national ID when the person's DFØ record, or a guest's Greg record, has one, else
the DFØ employee number or the Greg person id; see docs/correlation.md), never from
names. An expectation's subject is ``{"dfo": "<ansattnummer>"}`` or, for a guest,
``{"greg": "<Greg person id>"}``. Every task counts once, whatever its
state: a task that opened and later resolved (IAM provisioned late) was still found.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from connectors.dfo.mapping import normalise_employee_id
from connectors.greg.mapping import NATIONAL_ID, TRUSTED_VERIFICATIONS, normalise_greg_id
from connectors.source_json import national_id
from hub.correlation.identifiers import Identifier, Kind, person_key
from hub.privacy import national_id_pseudonym
from hub.simulation.scenario_file import Expectation, Scenario

__all__ = ["Score", "expected_person_keys", "guest_person_keys", "score", "subject_keys"]

Key = tuple[str, str, str]  # (rule, institution, person key)


def _anchor(secret: str, fnr: str | None, native: str, native_kind: Kind = Kind.DFO) -> Identifier:
    number = national_id(fnr) if fnr else None
    if number:
        kind, _, value = national_id_pseudonym(secret, number).partition(":")
        return Identifier(Kind(kind), value)
    return Identifier(native_kind, native)


def expected_person_keys(scenario: Scenario, secret: str) -> dict[tuple[str, str], str]:
    """The hub's person key of every DFØ employee in the scenario, by (institution,
    employee number): the keyed hash of the person's anchor identifier.

    A national ID on two employee numbers (an identity collision) anchors the first of
    them (correlation takes records in the order of their references); correlation
    disputes the other, which stays a person of its own, keyed by its employee number."""
    institution = str(scenario.meta.get("institution") or "uio")
    fnr_of: dict[str, str | None] = {}
    for event in scenario.events:
        if event.source == "dfo" and event.kind == "ansatt":
            employee_id = normalise_employee_id(event.body.get("id"))
            fnr_of[employee_id] = event.body.get("fnr") or fnr_of.get(employee_id)
    holder: dict[str, str] = {}  # national ID -> the employee number it anchors
    for employee_id in sorted(fnr_of):
        number = national_id(fnr_of[employee_id] or "")
        if number:
            holder.setdefault(number, employee_id)
    for employee_id, fnr in fnr_of.items():
        if holder.get(national_id(fnr or "") or "", employee_id) != employee_id:
            fnr_of[employee_id] = None  # a second employee number: disputed, its own person
    return {
        (institution, employee_id): person_key(
            secret, institution, _anchor(secret, fnr, employee_id)
        )
        for employee_id, fnr in fnr_of.items()
    }


def guest_person_keys(scenario: Scenario, secret: str) -> dict[tuple[str, str], str]:
    """The hub's person key of every Greg guest in the scenario, by (institution, Greg
    person id): the keyed hash of the guest's national ID, else the Greg id. Only a
    trusted national ID counts (verified, not invalid), as in the Greg connector: an
    unverified one is no anchor."""
    institution = str(scenario.meta.get("institution") or "uio")
    fnr_of: dict[str, str | None] = {}
    for event in scenario.events:
        if event.source == "greg" and event.kind == "person" and not event.delete:
            guest = normalise_greg_id(event.body.get("id"))
            numbers = [
                str(identity.get("value"))
                for identity in event.body.get("identities") or []
                if identity.get("type") == NATIONAL_ID
                and identity.get("verified") in TRUSTED_VERIFICATIONS
                and not identity.get("invalid")
            ]
            fnr_of[guest] = (numbers[0] if numbers else None) or fnr_of.get(guest)
    return {
        (institution, guest): person_key(
            secret, institution, _anchor(secret, fnr, guest, Kind.GREG)
        )
        for guest, fnr in fnr_of.items()
    }


def subject_keys(scenario: Scenario, secret: str) -> set[str]:
    """The person keys of everyone the scenario has in DFØ or Greg (the people whose
    tasks belong to it, when several scenarios share one replay)."""
    return {*expected_person_keys(scenario, secret).values()} | {
        *guest_person_keys(scenario, secret).values()
    }


def _subject_key(
    expected: Expectation,
    keys: Mapping[tuple[str, str], str],
    guests: Mapping[tuple[str, str], str],
    secret: str,
) -> str:
    employee_id, guest_id = expected.subject.get("dfo"), expected.subject.get("greg")
    if employee_id is not None:
        normal = normalise_employee_id(employee_id)
        found = keys.get((expected.institution, normal))
        return found or person_key(secret, expected.institution, Identifier(Kind.DFO, normal))
    if guest_id is not None:
        normal = normalise_greg_id(guest_id)
        found = guests.get((expected.institution, normal))
        return found or person_key(secret, expected.institution, Identifier(Kind.GREG, normal))
    raise ValueError(
        f"an expectation's subject needs a 'dfo' or a 'greg' identifier: {expected.subject}"
    )


@dataclass
class Score:
    """What the comparison found."""

    expected: int
    tasks: int
    true_positives: int
    false_positives: list[Mapping[str, Any]] = field(default_factory=list)
    false_negatives: list[Expectation] = field(default_factory=list)
    duplicates: list[list[str]] = field(default_factory=list)
    late_due: list[tuple[Expectation, str]] = field(default_factory=list)
    seconds_to_task: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.true_positives + len(self.false_positives)
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0

    def summary(self) -> dict[str, Any]:
        """The score as a JSON-ready dict (the last line of ``hub scenario score``)."""
        delays = sorted(self.seconds_to_task)
        return {
            "expected": self.expected,
            "tasks": self.tasks,
            "true_positives": self.true_positives,
            "false_positives": len(self.false_positives),
            "false_negatives": len(self.false_negatives),
            "duplicates": len(self.duplicates),
            "due_date_differs": len(self.late_due),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "median_event_hours_to_task": (
                round(delays[len(delays) // 2] / 3600, 2) if delays else None
            ),
        }


def _when(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None


def score(scenario: Scenario, tasks: Iterable[Mapping[str, Any]], secret: str) -> Score:
    """Compare the latest version of each task with the scenario's expectations.

    >>> from hub.simulation.scenario_file import Scenario
    >>> score(Scenario(), [], "secret").summary()["precision"]
    1.0
    """
    keys = expected_person_keys(scenario, secret)
    guests = guest_person_keys(scenario, secret)
    by_key: dict[Key, list[Mapping[str, Any]]] = defaultdict(list)
    latest = {str(t["task_id"]): t for t in tasks}
    for task in latest.values():
        by_key[(task["rule_id"], task["institution"], task["person_key"])].append(task)
    expected: dict[Key, Expectation] = {}
    for each in scenario.expectations:
        expected.setdefault(
            (each.rule, each.institution, _subject_key(each, keys, guests, secret)), each
        )
    result = Score(expected=len(expected), tasks=len(latest), true_positives=0)
    for key, found in sorted(by_key.items()):
        if len(found) > 1:
            result.duplicates.append(sorted(str(t["task_id"]) for t in found))
        hit = expected.get(key)
        if hit is None:
            result.false_positives.extend(found)
            continue
        item = hit
        result.true_positives += 1
        task = min(found, key=lambda t: str(t["task_id"]))
        due = task.get("due_date")
        if item.due is not None and isinstance(due, date) and due != item.due:
            result.late_due.append((item, due.isoformat()))
        opened = _when(task.get("opened_at"))
        if opened is not None:
            result.seconds_to_task.append((opened - item.at).total_seconds())
    result.false_negatives = [item for key, item in sorted(expected.items()) if key not in by_key]
    return result
