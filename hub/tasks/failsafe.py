"""The failsafe: when one rule's tasks would open or resolve en masse (an HR mistake ending
30% of contracts at once), hold the changes and raise one incident instead, until an
operator confirms (the held changes go out) or rejects them (they are dropped).

Pure: :func:`admit` takes one proposed task transition, :func:`decide` one operator
decision; both return the new gate, the transitions to publish, and the incident to
report (if it changed). The gate is per institution and rule (topic
``hub.task-proposals`` is keyed so), and counts the rule's open tasks and the opens
and resolves within a sliding window of task time (event time in replays).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hub.rules.settings import FailsafeSettings

__all__ = ["admit", "decide", "gate_key", "new_gate", "supersedes"]

Record = dict[str, Any]
_OPENING = frozenset({"opened", "reopened"})
_SAMPLE = 20


def gate_key(institution: str, rule_id: str) -> str:
    """The key of a rule's gate (and of its proposals and commands)."""
    return f"{institution}|{rule_id}"


def new_gate(institution: str, rule_id: str) -> Record:
    return {
        "institution": institution,
        "rule_id": rule_id,
        "open_count": 0,
        "recent": [],
        "incident": None,
        "held": [],
        "rejected_task_ids": [],
        "incidents_seen": 0,
    }


def supersedes(task: Record, taken: Record | None) -> bool:
    """Whether a proposed task state is newer than the state of the same task the gate
    last took (``taken``). Faust delivers at least once: after a restart the gate reads
    proposals again from its committed offset, and an old proposal taken a second time
    after a newer one (an OPEN after its RESOLVED) would publish a stale state. Task
    time (``updated_at``) orders first: a task made again from scratch (a person whose
    records all went and came back) starts at revision 1 but later in time."""
    if taken is None:
        return True
    return (task["updated_at"], task["revision"]) > (taken["updated_at"], taken["revision"])


def _note(recent: list[Record], now: datetime, opening: bool) -> list[Record]:
    """Count one change in its minute: a gate keeps at most a count per minute and kind
    of the window, however many tasks a bulk load opens (it is written per change)."""
    minute = now.replace(second=0, microsecond=0)
    for i in range(len(recent) - 1, max(len(recent) - 3, -1), -1):
        if recent[i]["at"] == minute and recent[i]["opening"] == opening:
            recent[i] = {**recent[i], "count": recent[i]["count"] + 1}
            return recent
    recent.append({"at": minute, "opening": opening, "count": 1})
    return recent


def _count(gate: Record, proposal: Record) -> None:
    kind = proposal["kind"]
    if kind in _OPENING:
        gate["open_count"] += 1
    elif kind == "resolved":
        gate["open_count"] = max(0, gate["open_count"] - 1)


def admit(
    gate: Record, proposal: Record, settings: FailsafeSettings
) -> tuple[Record, list[Record], Record | None]:
    """Take one proposed transition: publish it, hold it, or (after a rejection) drop it."""
    gate = {**gate, "recent": list(gate["recent"]), "held": list(gate["held"])}
    task = proposal["task"]
    incident = gate["incident"]
    if incident is not None and incident["state"] == "HOLDING":
        gate["held"] = [p for p in gate["held"] if p["task"]["task_id"] != task["task_id"]]
        gate["held"].append(proposal)
        incident = {**incident, "held": len(gate["held"])}
        gate["incident"] = incident
        return gate, [], incident
    if task["task_id"] in gate["rejected_task_ids"]:
        # A change an operator rejected: drop it until the task is back where it was.
        if task["state"] == "RESOLVED":
            gate["rejected_task_ids"] = [
                t for t in gate["rejected_task_ids"] if t != task["task_id"]
            ]
        return gate, [], None
    if not settings.enabled or proposal["kind"] not in (*_OPENING, "resolved"):
        _count(gate, proposal)
        return gate, [proposal], None
    now: datetime = task["updated_at"]
    window = timedelta(minutes=settings.window_minutes)
    gate["recent"] = _note(
        [r for r in gate["recent"] if r["at"] > now - window], now, proposal["kind"] in _OPENING
    )
    opened = sum(r["count"] for r in gate["recent"] if r["opening"])
    resolved = sum(r["count"] for r in gate["recent"]) - opened
    limit = max(settings.min_changes, settings.share * max(gate["open_count"], 1))
    if opened > limit or resolved > limit:
        gate["incidents_seen"] += 1
        key = gate_key(gate["institution"], gate["rule_id"])
        incident = {
            "incident_id": f"{key}|{gate['incidents_seen']}",
            "institution": gate["institution"],
            "rule_id": gate["rule_id"],
            "state": "HOLDING",
            "opened_in_window": opened,
            "resolved_in_window": resolved,
            "open_before": gate["open_count"],
            "held": 1,
            "sample_task_ids": [task["task_id"]],
            "tripped_at": now,
            "decided_at": None,
            "decided_by": None,
            "reason": None,
        }
        gate["incident"] = incident
        gate["held"] = [proposal]
        return gate, [], incident
    _count(gate, proposal)
    return gate, [proposal], None


def decide(gate: Record, command: Record) -> tuple[Record, list[Record], Record | None]:
    """Apply an operator's CONFIRM or REJECT to the gate's held changes."""
    incident = gate["incident"]
    if (
        incident is None
        or incident["state"] != "HOLDING"
        or incident["incident_id"] != command["incident_id"]
    ):
        return gate, [], None
    held = list(gate["held"])
    decided = {
        **incident,
        "state": "CONFIRMED" if command["decision"] == "CONFIRM" else "REJECTED",
        "held": len(held),
        "sample_task_ids": [p["task"]["task_id"] for p in held[:_SAMPLE]],
        "decided_at": command["decided_at"],
        "decided_by": command["decided_by"],
        "reason": command.get("reason"),
    }
    gate = {**gate, "incident": decided, "held": [], "recent": []}
    if command["decision"] == "CONFIRM":
        for proposal in held:
            _count(gate, proposal)
        return gate, held, decided
    rejected = [p["task"]["task_id"] for p in held if p["task"]["state"] == "OPEN"]
    gate["rejected_task_ids"] = sorted(set(gate["rejected_task_ids"]) | set(rejected))
    return gate, [], decided
