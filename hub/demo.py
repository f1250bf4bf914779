"""``hub demo`` (``make demo``): a simulated university's three months through the hub.

The demo starts the embedded Kafka broker and schema registry (unless the settings name
others), generates the default scenario (a mid-size university: 20,000 people over 90
days, with a fixed seed and its injected faults), replays it through the fake sources,
their connectors, Kafka and a hub worker on the event clock, and prints a summary:
events per source, tasks by rule, severity and owner, the score against the ground
truth (precision, recall, duplicates), throughput, and where to look next. It stops
every process it started, unless ``keep_running`` asks it to leave Kafka, the registry
and a dashboard running.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from hub.embedded.process import free_port
from hub.embedded.service import LocalJavaService, ServiceState
from hub.endpoints import embedded_kafka, embedded_registry
from hub.logs import configure_logging
from hub.settings import HubSettings
from hub.simulation.runner import Echo, RunOutcome, print_score, progress_bar, run_scenario
from hub.simulation.scenario_file import write_scenario
from hub.simulation.simulator import SimulationSettings, simulate

__all__ = ["DEFAULT_PEOPLE", "DEFAULT_SEED", "DemoOptions", "run_demo"]

DEFAULT_PEOPLE = 20_000  # a mid-size university
DEFAULT_SEED = 2021  # the year DFØ's systems came to the universities
DEFAULT_DAYS = 90


@dataclass(frozen=True)
class DemoOptions:
    """What the demo simulates, and whether it leaves its services running."""

    people: int = DEFAULT_PEOPLE
    seed: int = DEFAULT_SEED
    days: int = DEFAULT_DAYS
    keep_running: bool = False


def _start_services(
    settings: HubSettings, started: list[LocalJavaService], echo: Echo
) -> HubSettings:
    """The settings pointed at Kafka and a registry, starting the embedded ones when
    none are configured; each service this call starts is added to ``started`` at once
    (so that it is stopped even when the next one fails to start)."""
    update: dict[str, str] = {}
    wanted: list[tuple[str, str, LocalJavaService]] = []
    if not settings.kafka_bootstrap_servers:
        wanted.append(("Kafka", "kafka_bootstrap_servers", embedded_kafka(settings)))
    if settings.wire_format != "single-object" and not settings.schema_registry_url:
        wanted.append(("schema registry", "schema_registry_url", embedded_registry(settings)))
    for label, field, service in wanted:
        already = service.status().state is ServiceState.RUNNING
        echo(f"  {'using' if already else 'starting'} the embedded {label}…")
        result = service.start()
        if result.started:
            started.append(service)
        update[field] = result.record.address
        echo(f"  {label} {result.record.version} at {result.record.address}")
    return settings.model_copy(update=update)


def _start_dashboard(settings: HubSettings, log_path: Path) -> tuple[int, int]:
    """``hub dashboard`` in its own process group on a free port: (pid, port)."""
    port = free_port()
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "HUB_SCHEMA_REGISTRY_URL": settings.schema_registry_url or "",
        "HUB_TOPIC_PREFIX": settings.topic_prefix,
        "HUB_PSEUDONYM_SECRET": settings.pseudonym_secret.get_secret_value(),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", "dashboard", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid, port


def _summary(outcome: RunOutcome, seconds: float, echo: Echo) -> None:
    report = outcome.report
    by_source: Counter[str] = Counter()
    for kind, count in report.events.items():
        by_source[kind.partition("/")[0]] += count
    echo("  events by source: " + ", ".join(f"{s} {n:,}" for s, n in sorted(by_source.items())))
    busy = report.seconds_sending + report.seconds_settling
    echo(
        f"  throughput: {report.total:,} events in {busy:.0f}s through the hub"
        f" ({report.total / max(busy, 1e-6):,.0f} events/s; {report.barriers} barriers,"
        f" {report.seconds_at_barriers:.0f}s of it waiting at them); {seconds:.0f}s in all"
    )
    print_score(outcome.score, outcome.tasks, echo)


def _where_next(settings: HubSettings, scenario_path: Path, echo: Echo) -> None:
    prefix = f"HUB_TOPIC_PREFIX={settings.topic_prefix}"
    echo("\nWhere to look next (with Kafka running: make demo DEMO_ARGS=--keep-running):")
    echo(f"  {prefix} hub tasks list                 the tasks")
    echo(f"  {prefix} hub tasks show TASK_ID         one task with its evidence")
    echo(f"  {prefix} hub scenario score {scenario_path}")
    echo(f"  {prefix} hub dashboard --port 8080      the dashboard at http://127.0.0.1:8080")
    echo("  docs/scenarios.md (what the simulator plays), docs/rules.md (the rules)")


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a supervisor, a CI timeout) ends the demo as Ctrl-C does:
    through its clean-up, which stops the Kafka and registry it started."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set a signal handler
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(settings: HubSettings, options: DemoOptions, echo: Echo = click.echo) -> RunOutcome:
    """Generate the default scenario, replay it through the hub, print the summary and
    score; stop what the demo started unless ``options.keep_running`` (also when it is
    interrupted by Ctrl-C or SIGTERM)."""
    with _sigterm_as_interrupt():
        return _run_demo(settings, options, echo)


def _run_demo(settings: HubSettings, options: DemoOptions, echo: Echo) -> RunOutcome:
    began = time.monotonic()
    # the fakes' HTTP access lines would bury the progress bars
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    stamp = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"  # two runs may meet
    demo_dir = settings.state_dir / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    echo(f"[1/4] Kafka and the schema registry (state in {settings.state_dir})")
    started: list[LocalJavaService] = []
    leave_running = False
    try:
        settings = _start_services(settings, started, echo)
        settings = settings.model_copy(update={"topic_prefix": f"demo-{stamp}."})
        echo(
            f"[2/4] generating a university of {options.people:,} people over"
            f" {options.days} days (seed {options.seed})"
        )
        simulation = SimulationSettings(
            seed=options.seed,
            people=options.people,
            days=options.days,
            institution=settings.institution,
        )
        scenario = simulate(simulation, progress=progress_bar("generate", "people", echo))
        scenario_path = demo_dir / f"demo-{stamp}.jsonl"
        write_scenario(scenario, scenario_path)
        faults = Counter(e.fault for e in scenario.expectations)
        echo(
            f"  {len(scenario.events):,} events and {len(scenario.expectations):,} expected"
            f" tasks ({', '.join(f'{k} {v}' for k, v in sorted(faults.items()))})"
            f" in {scenario_path}"
        )
        for reorganisation in scenario.meta.get("reorganisations", []):
            echo(
                f"  reorganisation: unit {reorganisation['closed']} closes on"
                f" {reorganisation['last_day']}, replaced by {reorganisation['replaced_by']}"
                f" ({reorganisation['members']} members moved,"
                f" {len(reorganisation['positions_left_behind'])} positions left behind)"
            )
        echo("[3/4] replaying it through the fake sources, connectors, Kafka and a hub worker")
        log_path = demo_dir / f"demo-{stamp}.log"
        echo(f"  the connectors' log: {log_path}")
        with log_path.open("a", encoding="utf-8") as log:  # not among the progress bars
            configure_logging(settings.log_level, settings.log_format, log)
            try:
                outcome = run_scenario(scenario, settings, echo=echo)
            finally:
                configure_logging(settings.log_level, settings.log_format)
        echo("[4/4] summary")
        _summary(outcome, time.monotonic() - began, echo)
        _where_next(settings, scenario_path, echo)
        if options.keep_running:
            pid, port = _start_dashboard(settings, demo_dir / f"dashboard-{stamp}.log")
            echo(f"\nThe dashboard runs at http://127.0.0.1:{port} (pid {pid}; stop: kill {pid})")
            leave_running = True
        return outcome
    finally:  # a demo that failed stops what it started, whatever it was asked
        if leave_running:
            for service in started:
                echo(f"left {service.name} running (stop it with 'hub {service.name} stop')")
        else:
            for service in reversed(started):
                service.stop()
                echo(f"stopped the embedded {service.name} this demo started")
