"""The handcrafted scenarios of tests/scenarios/ through the real broker, registry, fake
sources, their SDK connectors and one hub worker on the event clock.

Every file is replayed in one run (their people are distinct, their days shared, so the
run costs one worker and one set of day barriers); each file is then scored on its own
people's tasks: precision 1.0, recall 1.0 and no duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.settings import HubSettings
from hub.simulation.runner import RunOutcome, print_score, run_scenario
from hub.simulation.scenario_file import Scenario, read_scenario
from hub.simulation.scoring import score, subject_keys
from tests.conftest import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

FILES = sorted((Path(__file__).parent / "scenarios").glob("*.jsonl"))


@dataclass(frozen=True)
class Replayed:
    outcome: RunOutcome
    secret: str
    lines: list[str]

    @property
    def tasks(self) -> list[dict[str, Any]]:
        return self.outcome.tasks


def _together(scenarios: list[Scenario]) -> Scenario:
    windows = [each.meta["barrier_minutes"] for each in scenarios if "barrier_minutes" in each.meta]
    combined = Scenario(meta={"institution": "uio"})
    if windows:  # the finest any file asks for
        combined.meta["barrier_minutes"] = min(windows)
    for each in scenarios:
        combined.events += each.events
        combined.expectations += each.expectations
    return combined


@pytest.fixture(scope="module")
def replayed(
    kafka: KafkaEndpoint, registry_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Replayed:
    settings = HubSettings(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        schema_registry_url=registry_url,
        topic_prefix="scenario-files.",
        state_dir=tmp_path_factory.mktemp("scenario-files"),
    )
    lines: list[str] = []
    combined = _together([read_scenario(path) for path in FILES])
    outcome = run_scenario(combined, settings, echo=lines.append, progress=False)
    return Replayed(outcome, settings.pseudonym_secret.get_secret_value(), lines)


def test_the_files_have_people_of_their_own() -> None:
    seen: dict[str, str] = {}
    for path in FILES:
        for key in subject_keys(read_scenario(path), "secret"):
            assert key not in seen, f"{path.name} shares a person with {seen.get(key)}"
            seen[key] = path.name


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_file_opens_exactly_the_tasks_it_expects(replayed: Replayed, path: Path) -> None:
    scenario = read_scenario(path)
    people = subject_keys(scenario, replayed.secret)
    tasks = [task for task in replayed.tasks if task["person_key"] in people]
    result = score(scenario, tasks, replayed.secret)
    report: list[str] = []
    print_score(result, tasks, echo=report.append)
    explained = "\n".join([*replayed.lines, *report])
    assert result.expected == len(scenario.expectations), "an expectation is repeated"
    assert (result.precision, result.recall, len(result.duplicates)) == (1.0, 1.0, 0), explained


def test_every_task_belongs_to_a_file(replayed: Replayed) -> None:
    people = set().union(*(subject_keys(read_scenario(p), replayed.secret) for p in FILES))
    strays = [
        f"{t['rule_id']} {t['person_key']} {t['title_en']}"
        for t in replayed.tasks
        if t["person_key"] not in people
    ]
    assert not strays, "\n".join(strays)
