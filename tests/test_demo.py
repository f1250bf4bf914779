"""``hub demo`` through the real broker and registry: a small university's scenario
replayed twice with the same seed (at once, on topics of their own) gives the same
tasks, and they match the ground truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from hub.demo import DemoOptions, run_demo
from hub.settings import load_settings
from hub.simulation.runner import RunOutcome
from hub.simulation.simulator import SimulationSettings, simulate
from tests.conftest import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

OPTIONS = DemoOptions(people=200, seed=7, days=14)


def _demo(kafka: KafkaEndpoint, registry_url: str, state: Path) -> tuple[RunOutcome, list[str]]:
    settings = load_settings(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        schema_registry_url=registry_url,
        state_dir=state,
    )
    lines: list[str] = []
    return run_demo(settings, OPTIONS, echo=lines.append), lines


def _task_set(outcome: RunOutcome) -> list[tuple[Any, ...]]:
    fields = ("task_id", "rule_id", "person_key", "state", "severity", "owner_group", "due_date")
    return sorted(tuple(task[f] for f in fields) for task in outcome.tasks)


class TestDemo:
    def test_the_same_seed_gives_the_same_tasks_and_they_match_the_ground_truth(
        self, kafka: KafkaEndpoint, registry_url: str, tmp_path: Path
    ) -> None:
        """Two runs of one seed give identical task sets: precision and recall 1.0, no
        duplicates; the summary names sources and rules and shows no national ID."""
        with ThreadPoolExecutor(2) as pool:  # two runs at once: their day barriers overlap
            runs = [pool.submit(_demo, kafka, registry_url, tmp_path / n) for n in ("a", "b")]
            (first, lines), (second, _) = (run.result() for run in runs)
        assert first.tasks, "the scenario's faults open tasks"
        one, two = _task_set(first), _task_set(second)
        assert one == two, (
            f"only in the first: {set(one) - set(two)}; second: {set(two) - set(one)}"
        )
        summary = json.loads(next(line for line in lines if line.startswith("{")))
        assert summary == first.score.summary()
        assert summary["expected"] > 0
        assert (summary["precision"], summary["recall"], summary["duplicates"]) == (1.0, 1.0, 0)
        text = "\n".join(lines)
        assert "events by source: cerebrum" in text
        assert "tasks by rule: access." in text
        assert "stopped the embedded" not in text, "it started no service of its own"
        scenario = simulate(
            SimulationSettings(seed=OPTIONS.seed, people=OPTIONS.people, days=OPTIONS.days)
        )
        numbers = {e.body["fnr"] for e in scenario.events if e.kind == "ansatt"}
        assert not [n for n in numbers if n in text]


def test_sigterm_stops_the_services_the_demo_started(tmp_path: Path) -> None:
    """``kill <pid>`` of a running demo ends it through its clean-up: the Kafka broker
    and registry it started in its state directory are stopped, no process is left."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("HUB_KAFKA_BOOTSTRAP_SERVERS", "HUB_SCHEMA_REGISTRY_URL")
    }
    env["HUB_STATE_DIR"] = str(tmp_path)
    demo = subprocess.Popen(
        [sys.executable, "-m", "hub", "demo", "--people", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    seen: list[str] = []
    try:
        for line in demo.stdout:
            seen.append(line)
            if "the connectors' log:" in line:
                log = Path(line.split("the connectors' log:", 1)[1].strip())
                break
        else:
            pytest.fail("the demo ended before its replay:\n" + "".join(seen))
        for _ in range(600):  # services and worker up, the replay under way
            if log.exists() and "connector_started" in log.read_text(encoding="utf-8"):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"no connector started within a minute:\n{''.join(seen)}")
        # its Kafka, registry and replay worker (in a process group of its own)
        children = {pid: _command(pid) for pid in _children(demo.pid)}
        demo.send_signal(signal.SIGTERM)
        rest, _ = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
    text = "".join(seen) + rest
    assert demo.returncode != 0, text
    assert "connector_started" not in text, "the connectors log to their file, not among the bars"
    assert "stopped the embedded kafka this demo started" in text, text
    assert "stopped the embedded registry this demo started" in text, text
    left = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert str(tmp_path) not in left.stdout, "a process of the demo's state directory is left"
    assert [c for c in children.values() if "-m hub worker" in c], children
    alive = [pid for pid in children if _alive(pid)]
    assert not alive, f"left running: {[children[pid] for pid in alive]}\n{text}"


def _children(pid: int) -> list[int]:
    table = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True)
    pairs = [tuple(int(n) for n in line.split()) for line in table.stdout.splitlines()]
    return [child for child, parent in pairs if parent == pid]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"  # a zombie has ended; its parent reaps it
