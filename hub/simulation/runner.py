"""Running and scoring a scenario end to end, with the console output
``hub scenario run|score`` and ``make demo`` print."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from hub.compacted import latest_by_key
from hub.endpoints import kafka_bootstrap, make_pipeline, registry_url
from hub.errors import HubError
from hub.failsafe_commands import send_decision
from hub.pipeline import Pipeline
from hub.settings import HubSettings
from hub.simulation.replay import (
    ReplayReport,
    collect_tasks,
    replay,
    start_replay_worker,
)
from hub.simulation.scenario_file import Scenario
from hub.simulation.scoring import Score, score
from hub.worker_process import stop_worker

__all__ = [
    "Echo",
    "RunOutcome",
    "print_score",
    "progress_bar",
    "run_scenario",
    "score_scenario",
]

Echo = Callable[[str], None]


GO_LIVE_BY = "scenario go-live"


class RunOutcome:
    """A run's report, its tasks and their score, and the failsafe incidents the run
    confirmed at go-live."""

    def __init__(
        self,
        report: ReplayReport,
        tasks: list[dict[str, Any]],
        result: Score,
        confirmed: list[dict[str, Any]] | None = None,
    ) -> None:
        self.report, self.tasks, self.score = report, tasks, result
        self.confirmed = confirmed or []


class _GoLive:
    """The operator at go-live: once the replay has passed the scenario's initial load
    (meta ``go_live_until``), confirm the failsafe holds that tripped during it. The
    hub's first load shows the university's existing problems all at once, and that is
    what the failsafe holds for a person to look at. Holds that trip later stay held
    (their tasks then count as missed)."""

    REASON = "the initial load shows the existing problems at once"
    LIMIT_S = 600.0

    def __init__(self, scenario: Scenario, settings: HubSettings, pipeline: Pipeline) -> None:
        until = scenario.meta.get("go_live_until")
        self.until = datetime.fromisoformat(until) if isinstance(until, str) else None
        self.settings, self.pipeline = settings, pipeline
        self.confirmed: list[dict[str, Any]] = []

    async def __call__(self, moment: datetime) -> bool:
        if self.until is None or moment < self.until:
            return False
        until, self.until = self.until, None  # once
        bootstrap = self.settings.kafka_bootstrap_servers or ""
        topic = self.pipeline.topics.name("hub.failsafe")
        incidents = await latest_by_key(bootstrap, topic, self.pipeline.codec)
        holding = [
            incident
            for incident in incidents.values()
            if incident["state"] == "HOLDING" and incident["tripped_at"] < until
        ]
        for incident in holding:
            await send_decision(
                self.settings, incident["incident_id"], "CONFIRM", GO_LIVE_BY, self.REASON
            )
        ids = {incident["incident_id"] for incident in holding}
        deadline = time.monotonic() + self.LIMIT_S
        while ids:  # the worker publishes the held tasks, then marks the incident CONFIRMED
            if time.monotonic() > deadline:
                raise HubError(f"the worker did not act on the confirmation of {sorted(ids)}")
            await asyncio.sleep(0.2)
            incidents = await latest_by_key(bootstrap, topic, self.pipeline.codec)
            ids = {i for i in ids if incidents[i]["state"] == "HOLDING"}
        self.confirmed += holding
        return bool(holding)


def progress_bar(label: str, unit: str, echo: Echo = click.echo) -> Callable[[int, int], None]:
    """A progress bar on one console line: ``label [###...] done/total unit rate/s``.
    Lines go to ``echo`` only when it is not ``click.echo`` (a test's list, say), where
    only the finished bar is written."""
    began = time.monotonic()
    last: list[tuple[int, int]] = []

    def show(done: int, total: int) -> None:
        if last and last[-1] == (done, total):
            return
        last[:] = [(done, total)]
        width = 30
        filled = int(width * done / total) if total else width
        rate = done / max(time.monotonic() - began, 1e-6)
        line = (
            f"  {label:<8} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} {unit}"
            f" {rate:,.0f}/s"
        )
        if echo is not click.echo:
            if done == total:
                echo(line)
            return
        click.echo(line + ("\n" if done == total else "\r"), nl=False)

    return show


async def _run(scenario: Scenario, settings: HubSettings, echo: Echo, progress: bool) -> RunOutcome:
    bootstrap = kafka_bootstrap(settings, start=True)
    registry = registry_url(settings, start=True)
    pipeline = make_pipeline(settings, registry)
    log_path = settings.state_dir / "scenario" / f"{settings.topic_prefix.rstrip('.')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    worker = await start_replay_worker(settings, bootstrap, registry, log_path)
    echo(f"  hub worker pid {worker.pid} on the event clock (log {log_path})")
    settings = settings.model_copy(
        update={"kafka_bootstrap_servers": bootstrap, "schema_registry_url": registry}
    )
    go_live = _GoLive(scenario, settings, pipeline)
    try:
        report = await replay(
            scenario,
            pipeline,
            settings,
            bootstrap,
            progress=progress_bar("replay", "events", echo) if progress else None,
            settling=progress_bar("settle", "records", echo) if progress else None,
            checkpoint=go_live,
        )
        tasks = await collect_tasks(pipeline, bootstrap)
    finally:
        await stop_worker(worker)
        await pipeline.codec.close()
    return RunOutcome(report, tasks, score(scenario, tasks, pipeline.secret), go_live.confirmed)


def run_scenario(
    scenario: Scenario, settings: HubSettings, *, echo: Echo = click.echo, progress: bool = True
) -> RunOutcome:
    """Replay ``scenario`` on a fresh topic prefix with a worker of its own; score it."""
    if not settings.topic_prefix:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        settings = settings.model_copy(update={"topic_prefix": f"scenario-{stamp}."})
    settings = settings.model_copy(update={"clock": "event"})
    echo(f"  topics prefixed {settings.topic_prefix!r} (score again: HUB_TOPIC_PREFIX=…)")
    outcome = asyncio.run(_run(scenario, settings, echo, progress))
    report = outcome.report
    for source, path in sorted(report.paths.items()):
        echo(f"  {source:<9} {path}")
    for kind, count in sorted(report.events.items()):
        echo(f"  {kind:<18} {count:>8,} events")
    for incident in outcome.confirmed:
        echo(
            f"  failsafe: {incident['rule_id']} opened {incident['held']:,} tasks at once in"
            " the initial load; confirmed as the operator bringing the hub into service would"
        )
    rate = report.total / max(report.seconds_sending, 1e-6)
    echo(
        f"  sent {report.total:,} events in {report.seconds_sending:.1f}s ({rate:,.0f}/s);"
        f" with {report.barriers} barriers ({report.seconds_at_barriers:.0f}s waiting at them);"
        f" the hub caught up {report.seconds_settling:.1f}s later"
    )
    return outcome


def score_scenario(scenario: Scenario, settings: HubSettings) -> Score:
    """Score the tasks already on the prefix's ``hub.tasks``."""

    async def read() -> Score:
        bootstrap = kafka_bootstrap(settings, start=False)
        pipeline = make_pipeline(settings, registry_url(settings, start=False))
        try:
            return score(scenario, await collect_tasks(pipeline, bootstrap), pipeline.secret)
        finally:
            await pipeline.codec.close()

    return asyncio.run(read())


def print_score(result: Score, tasks: list[dict[str, Any]] | None, echo: Echo = click.echo) -> None:
    """Tasks by rule, severity and owner; every false positive, false negative and
    duplicate; time from fault to task; and the summary as the last line (JSON)."""
    if tasks:
        for label, field in (
            ("rule", "rule_id"),
            ("severity", "severity"),
            ("owner", "owner_group"),
        ):
            counts = Counter(str(t[field]) for t in tasks)
            echo(f"  tasks by {label}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for task in result.false_positives:
        echo(f"  false positive: {task['rule_id']} {task['person_key']} {task['title_en']}")
    for item in result.false_negatives:
        echo(
            f"  false negative: {item.rule} {item.subject} ({item.fault}, from {item.at:%Y-%m-%d})"
        )
    for ids in result.duplicates:
        echo(f"  duplicate tasks: {', '.join(ids)}")
    summary = result.summary()
    echo(
        f"  precision {summary['precision']}  recall {summary['recall']}"
        f"  duplicates {summary['duplicates']}  ({summary['true_positives']} of"
        f" {summary['expected']} expected tasks found, {summary['tasks']} tasks in all)"
    )
    echo(json.dumps(summary))
