"""The failsafe: a mass change to one rule's tasks is held as one incident until an
operator confirms (the changes go out) or rejects (they are dropped)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from connectors.dfo.mapping import map_employee
from hub.rules.settings import FailsafeSettings
from hub.tasks.failsafe import admit, decide, gate_key, new_gate, supersedes
from tests.conftest import KafkaEndpoint
from tests.factories import DATA, correction_task
from tests.kafka_support import ROOT, TaskView, collect, hub_pipeline, worker_for

RULE = "access.new_hire_without_account"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
SETTINGS = FailsafeSettings(share=0.3, min_changes=3, window_minutes=60)


def proposal(n: int, kind: str = "opened", at: datetime = T0) -> dict[str, Any]:
    return {
        "kind": kind,
        "task": {
            "task_id": f"task-{n}",
            "rule_id": RULE,
            "state": "RESOLVED" if kind == "resolved" else "OPEN",
            "updated_at": at,
        },
    }


def feed(
    gate: dict[str, Any], proposals: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
    published: list[str] = []
    incidents: list[dict[str, Any]] = []
    for p in proposals:
        gate, out, incident = admit(gate, p, SETTINGS)
        published += [o["task"]["task_id"] for o in out]
        if incident is not None:
            incidents.append(incident)
    return gate, published, incidents


def command(incident_id: str, decision: str) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "decision": decision,
        "decided_by": "ola",
        "reason": None,
        "decided_at": T0 + timedelta(hours=1),
    }


class TestReadAgain:
    """Faust delivers at least once: the gate may read a proposal again after a newer
    one of the same task. Only a newer state passes."""

    def test_only_a_later_state_supersedes(self) -> None:
        opened = {"updated_at": T0, "revision": 1}
        resolved = {"updated_at": T0 + timedelta(minutes=1), "revision": 2}
        assert supersedes(opened, None)
        assert supersedes(resolved, opened)
        assert not supersedes(opened, resolved), "an old OPEN read after its RESOLVED"
        assert not supersedes(resolved, resolved), "the same state twice"

    def test_within_one_moment_the_revision_orders(self) -> None:
        assert supersedes({"updated_at": T0, "revision": 2}, {"updated_at": T0, "revision": 1})
        assert not supersedes({"updated_at": T0, "revision": 1}, {"updated_at": T0, "revision": 2})

    def test_a_task_made_again_later_passes_though_its_revision_starts_over(self) -> None:
        """A person whose records all went and came back gets its task from scratch."""
        later = {"updated_at": T0 + timedelta(days=3), "revision": 1}
        assert supersedes(later, {"updated_at": T0, "revision": 4})


class TestGate:
    def test_a_trickle_passes(self) -> None:
        """Changes spread over time never trip the gate."""
        gate = new_gate("uio", RULE)
        _, published, incidents = feed(
            gate, [proposal(n, at=T0 + timedelta(hours=2 * n)) for n in range(10)]
        )
        assert published == [f"task-{n}" for n in range(10)]
        assert incidents == []

    def test_a_burst_trips_once_and_holds_the_rest(self) -> None:
        """Past the limit within the window, changes are held under one incident."""
        gate, published, incidents = feed(new_gate("uio", RULE), [proposal(n) for n in range(10)])
        assert published == ["task-0", "task-1", "task-2"]
        assert incidents[0]["state"] == "HOLDING"
        assert incidents[-1]["held"] == 7
        assert {i["incident_id"] for i in incidents} == {"uio|" + RULE + "|1"}
        assert gate["open_count"] == 3

    def test_confirm_releases_the_held_changes(self) -> None:
        """Confirmation publishes every held change and counts them as open."""
        gate, _, incidents = feed(new_gate("uio", RULE), [proposal(n) for n in range(10)])
        gate, released, decided = decide(gate, command(incidents[0]["incident_id"], "CONFIRM"))
        assert [p["task"]["task_id"] for p in released] == [f"task-{n}" for n in range(3, 10)]
        assert decided is not None
        assert decided["state"] == "CONFIRMED"
        assert decided["decided_by"] == "ola"
        assert gate["open_count"] == 10

    def test_reject_drops_them_and_their_later_resolution(self) -> None:
        """Rejected opens are never published, nor is their resolution when HR reverts."""
        gate, _, incidents = feed(new_gate("uio", RULE), [proposal(n) for n in range(10)])
        gate, released, decided = decide(gate, command(incidents[0]["incident_id"], "REJECT"))
        assert released == []
        assert decided is not None
        assert decided["state"] == "REJECTED"
        later = T0 + timedelta(days=2)
        gate, published, _ = feed(gate, [proposal(5, "resolved", later)])
        assert published == []
        gate, published, _ = feed(gate, [proposal(5, "opened", later + timedelta(days=3))])
        assert published == ["task-5"], "after reverting, the task is judged afresh"

    def test_a_decision_for_another_incident_changes_nothing(self) -> None:
        """Only the incident that holds can be decided."""
        gate, _, _ = feed(new_gate("uio", RULE), [proposal(n) for n in range(10)])
        same, released, decided = decide(gate, command("uio|x|9", "CONFIRM"))
        assert (same, released, decided) == (gate, [], None)

    def test_the_window_is_counted_per_minute_and_kind(self) -> None:
        """However many changes a minute brings, the gate keeps one count per minute and
        kind, and changes that leave the window stop counting."""
        lenient = FailsafeSettings(share=10, min_changes=5000, window_minutes=60)
        gate = new_gate("uio", RULE)
        for n in range(2000):
            at = T0 + timedelta(seconds=n // 100)  # 20 seconds: one minute
            gate, _, _ = admit(
                gate, proposal(n, "resolved" if n % 4 == 0 else "opened", at), lenient
            )
        assert sorted((r["opening"], r["count"]) for r in gate["recent"]) == [
            (False, 500),
            (True, 1500),
        ]
        later = T0 + timedelta(minutes=61)
        gate, _, _ = admit(gate, proposal(9999, at=later), lenient)
        assert [(r["at"], r["count"]) for r in gate["recent"]] == [(later.replace(second=0), 1)]

    def test_a_disabled_failsafe_passes_everything(self) -> None:
        """With the failsafe off, a burst goes out as it comes."""
        gate = new_gate("uio", RULE)
        for n in range(10):
            gate, out, incident = admit(gate, proposal(n), FailsafeSettings(enabled=False))
            assert incident is None
            assert len(out) == 1


def _hire(n: int, secret: str, fetched: datetime) -> dict[str, Any]:
    body = json.loads((DATA / "dfo" / "ansatt_future_hire.json").read_text())
    body["ansatt"][0].update(
        {
            "id": str(800000 + n),
            "fnr": f"1505990{n:04d}",
            "startdato": (fetched.date() + timedelta(days=5)).isoformat(),
            "endretDato": fetched.date().isoformat(),
        }
    )
    return map_employee(body, institution="uio", secret=secret, fetched_at=fetched)


@pytest.mark.kafka
@pytest.mark.registry
class TestFailsafeThroughKafka:
    async def test_mass_change_is_held_and_released_on_confirmation(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        """Ten hires at once open three tasks and one incident; `hub failsafe confirm`
        publishes the other seven."""
        settings_file = tmp_path / "institutions.yaml"
        settings_file.write_text(
            "defaults:\n  failsafe: {share: 0.3, min_changes: 3, window_minutes: 60}\n"
        )
        env = {"HUB_INSTITUTIONS_FILE": str(settings_file), "HUB_CLOCK": "event"}
        pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        employees = pipeline.topics.name("source.dfo.employee")
        tasks = pipeline.topics.name("hub.tasks")
        incidents = pipeline.topics.name("hub.failsafe")
        schema = pipeline.catalog["no.bott.hub.dfo.Employee"]
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        now = datetime.now(UTC)
        try:
            for n in range(10):
                record = _hire(n, pipeline.secret, now)
                await producer.send_and_wait(
                    employees,
                    key=record["employee_id"].encode(),
                    value=await pipeline.codec.encode(employees, schema, record),
                )
        finally:
            await producer.stop()
        with worker_for(kafka, registry_url, topic_prefix, tmp_path, env) as worker:
            held = await collect(
                kafka.bootstrap_servers,
                [tasks, incidents],
                codec=pipeline.codec,
                decode_topics=(tasks, incidents),
                until=lambda rs: any(r.topic == incidents and r.decoded["held"] == 7 for r in rs),
            )
            assert len(TaskView.of(held, tasks).latest) == 3, worker.log()
            incident = [r.decoded for r in held if r.topic == incidents][-1]
            assert incident["state"] == "HOLDING"
            confirm = await asyncio.to_thread(
                subprocess.run,
                [
                    sys.executable,
                    "-m",
                    "hub",
                    "failsafe",
                    "confirm",
                    incident["incident_id"],
                    "--by",
                    "ola.nordmann",
                    "--reason",
                    "HR hired a whole cohort",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
                env={
                    **os.environ,
                    "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                    "HUB_SCHEMA_REGISTRY_URL": registry_url,
                    "HUB_TOPIC_PREFIX": topic_prefix,
                },
            )
            assert confirm.returncode == 0, confirm.stderr
            released = await collect(
                kafka.bootstrap_servers,
                [tasks, incidents],
                codec=pipeline.codec,
                decode_topics=(tasks, incidents),
                until=lambda rs: (
                    len(TaskView.of(rs, tasks).latest) == 10
                    and any(r.topic == incidents and r.decoded["state"] == "CONFIRMED" for r in rs)
                ),
            )
        await pipeline.codec.close()
        decided = [r.decoded for r in released if r.topic == incidents][-1]
        assert decided["decided_by"] == "ola.nordmann"
        assert decided["held"] == 7
        assert {t["state"] for t in TaskView.of(released, tasks).latest.values()} == {"OPEN"}


@pytest.mark.kafka
@pytest.mark.registry
async def test_a_proposal_read_again_after_a_newer_one_publishes_nothing(
    kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    """As after a worker's restart (the chaos suite's kill -9 found it): the gate takes
    an OPEN, its RESOLVED, then the same OPEN again. hub.tasks ends RESOLVED; the OPEN
    read again is dropped and counted, not published over the newer state."""
    pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
    proposals = pipeline.topics.name("hub.task-proposals")
    tasks = pipeline.topics.name("hub.tasks")
    schema = pipeline.catalog["no.bott.hub.tasks.TaskProposal"]
    now = datetime.now(UTC).replace(microsecond=0)
    opened = correction_task(1, now)
    resolved = {
        **opened,
        "state": "RESOLVED",
        "revision": 2,
        "updated_at": now + timedelta(minutes=1),
        "resolved_at": now + timedelta(minutes=1),
    }
    key = gate_key(opened["institution"], opened["rule_id"]).encode()
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for kind, task in (("opened", opened), ("resolved", resolved), ("opened", opened)):
            value = await pipeline.codec.encode(proposals, schema, {"kind": kind, "task": task})
            await producer.send_and_wait(proposals, key=key, value=value)
        # a later task of the same gate, to know the gate has read past the third one
        marker = correction_task(2, now)
        value = await pipeline.codec.encode(proposals, schema, {"kind": "opened", "task": marker})
        await producer.send_and_wait(proposals, key=key, value=value)
    finally:
        await producer.stop()
    with worker_for(kafka, registry_url, topic_prefix, tmp_path) as worker:
        published = await collect(
            kafka.bootstrap_servers,
            [tasks],
            codec=pipeline.codec,
            decode_topics=(tasks,),
            until=lambda rs: any(r.decoded["task_id"] == marker["task_id"] for r in rs),
        )
        log = worker.log()
    await pipeline.codec.close()
    states = [
        (r.decoded["state"], r.decoded["revision"])
        for r in published
        if r.decoded["task_id"] == opened["task_id"]
    ]
    assert states == [("OPEN", 1), ("RESOLVED", 2)], f"{states}\n{log}"
    assert TaskView.of(published, tasks).latest[opened["task_id"]]["state"] == "RESOLVED"
    assert "task_proposal_read_again" in log
