"""The scenario file: JSON Lines of timestamped native source events and expectations.

Each line is one JSON object with a ``type``:

- ``meta``: what the scenario is (``seed``, ``institution``, ``people``, …); optional;
- ``event``: ``at`` (an ISO timestamp with offset), ``source`` and ``kind`` (one of
  :data:`SOURCES`: ``dfo``/``ansatt``, ``cerebrum``/``account``, …) and ``body``: the
  object in the source system's native format, as its fake server stores and serves
  it; with ``"delete": true`` the object the body names (by its id) is deleted;
- ``expect``: a fault's ground truth: ``rule``, ``institution``, ``subject`` (the
  person's native identifier: ``{"dfo": "345678"}``), ``at`` (when the fault becomes
  visible) and ``due`` (the deadline the rule should give).

Events are replayed in ``at`` order (the file's order among equal times).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hub.errors import HubError

__all__ = [
    "SOURCES",
    "Event",
    "Expectation",
    "Scenario",
    "dump_lines",
    "parse_lines",
    "read_scenario",
    "write_scenario",
]

# The sources and the kinds of object each sends (docs/scenarios.md describes each body;
# hub.simulation.sources replays them).
SOURCES: dict[str, frozenset[str]] = {
    "dfo": frozenset({"ansatt", "stilling", "organisasjon", "lonnskjoring"}),
    "cerebrum": frozenset({"person", "account"}),
    "greg": frozenset({"person"}),
    "felles_iam": frozenset({"user"}),
    "unit4": frozenset({"resource", "approver_role"}),
    "web": frozenset({"profile"}),
    "orgreg": frozenset({"ou"}),
    "profile_files": frozenset({"page"}),
}


@dataclass(frozen=True)
class Event:
    """One native object as a source system shows it from ``at`` on."""

    at: datetime
    source: str
    kind: str
    body: dict[str, Any]
    delete: bool = False  # the object the body names is gone from the source


@dataclass(frozen=True)
class Expectation:
    """A fault's ground truth: the task the hub must open."""

    rule: str
    institution: str
    subject: dict[str, str]
    at: datetime
    due: date | None = None
    fault: str = ""


@dataclass
class Scenario:
    """A scenario: its description, its events (in time order) and expectations."""

    meta: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)

    def sorted_events(self) -> list[Event]:
        """The events by time; among equal times in the order given (a stable sort)."""
        return sorted(self.events, key=lambda event: event.at)


def _time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise HubError(f"{where}: 'at' must be an ISO timestamp string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HubError(f"{where}: 'at' is not an ISO timestamp: {value!r}") from None
    if moment.tzinfo is None:
        raise HubError(f"{where}: 'at' needs a UTC offset, e.g. {value}+00:00")
    return moment


def _event(line: dict[str, Any], where: str) -> Event:
    source, kind, body = line.get("source"), line.get("kind"), line.get("body")
    if source not in SOURCES:
        raise HubError(f"{where}: unknown source {source!r}; known: {', '.join(sorted(SOURCES))}")
    if kind not in SOURCES[str(source)]:
        raise HubError(f"{where}: {source} has no kind {kind!r}")
    if not isinstance(body, dict):
        raise HubError(f"{where}: 'body' must be an object")
    delete = line.get("delete", False)
    if not isinstance(delete, bool):
        raise HubError(f"{where}: 'delete' must be true or false")
    return Event(_time(line.get("at"), where), str(source), str(kind), body, delete)


def _expectation(line: dict[str, Any], where: str) -> Expectation:
    subject = line.get("subject")
    if not isinstance(subject, dict) or not subject:
        raise HubError(f'{where}: \'subject\' must be an object such as {{"dfo": "345678"}}')
    for name in ("rule", "institution"):
        if not isinstance(line.get(name), str):
            raise HubError(f"{where}: '{name}' must be a string")
    due = line.get("due")
    return Expectation(
        rule=line["rule"],
        institution=line["institution"],
        subject={str(k): str(v) for k, v in subject.items()},
        at=_time(line.get("at"), where),
        due=date.fromisoformat(due) if isinstance(due, str) else None,
        fault=str(line.get("fault") or ""),
    )


def parse_lines(lines: Iterable[str], name: str = "scenario") -> Scenario:
    """A scenario from its lines; blank lines and lines starting with ``#`` are skipped.

    >>> s = parse_lines(['{"type": "event", "at": "2026-01-05T08:00:00+00:00",'
    ...                  ' "source": "dfo", "kind": "ansatt", "body": {"id": "00345678"}}'])
    >>> s.events[0].source, s.events[0].body["id"]
    ('dfo', '00345678')
    """
    scenario = Scenario()
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{name}:{number}"
        try:
            line = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HubError(f"{where}: not JSON: {exc.msg}") from None
        if not isinstance(line, dict):
            raise HubError(f"{where}: a line must be a JSON object")
        kind = line.get("type")
        if kind == "meta":
            scenario.meta.update({k: v for k, v in line.items() if k != "type"})
        elif kind == "event":
            scenario.events.append(_event(line, where))
        elif kind == "expect":
            scenario.expectations.append(_expectation(line, where))
        else:
            raise HubError(f"{where}: 'type' must be meta, event or expect, not {kind!r}")
    return scenario


def _line(kind: str, fields: dict[str, Any]) -> str:
    return json.dumps({"type": kind, **fields}, ensure_ascii=False, sort_keys=False)


def dump_lines(scenario: Scenario) -> Iterator[str]:
    """The scenario's lines (without newlines): meta, events by time, expectations."""
    if scenario.meta:
        yield _line("meta", scenario.meta)
    for event in scenario.sorted_events():
        fields = {"at": event.at.isoformat(), "source": event.source, "kind": event.kind}
        yield _line(
            "event", {**fields, **({"delete": True} if event.delete else {}), "body": event.body}
        )
    for expected in scenario.expectations:
        yield _line(
            "expect",
            {
                "rule": expected.rule,
                "institution": expected.institution,
                "subject": expected.subject,
                "at": expected.at.isoformat(),
                "due": expected.due.isoformat() if expected.due else None,
                "fault": expected.fault,
            },
        )


def read_scenario(path: Path) -> Scenario:
    with path.open(encoding="utf-8") as lines:
        return parse_lines(lines, str(path))


def write_scenario(scenario: Scenario, path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for line in dump_lines(scenario):
            out.write(line + "\n")
