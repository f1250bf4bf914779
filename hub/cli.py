"""The ``hub`` command line.

Exit codes: 0 success; 1 the hub could not do it (the message says why and what to
do); 2 the command was used wrongly; 3 a service asked about is not running; 4 a
stale service (left from a crash) was found.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

import click

from hub.clock import start_of_day
from hub.embedded.service import LocalJavaService, ServiceState
from hub.errors import HubError
from hub.settings import HubSettings, load_settings

__all__ = ["cli", "main"]

EXIT_FAILED = 1
EXIT_NOT_RUNNING = 3
EXIT_STALE = 4
EXIT_INTERRUPTED = 130  # stopped with Ctrl-C, as shells report it

# A moment on the command line: a date, or a local or offset date and time.
_TIME = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"])


def _settings() -> HubSettings:
    from hub.logs import configure_logging  # noqa: PLC0415

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """The university integration hub: finds mismatches between DFØ, IAM, Greg, Unit4,
    OrgReg and web profiles, and turns them into correction tasks."""


def _service_group(
    name: str, what: str, make: Callable[[HubSettings, int | None], LocalJavaService]
) -> click.Group:
    @click.group(name=name, help=f"Run the embedded {what} (for demos, tests and development).")
    def group() -> None:
        pass

    @group.command(help=f"Start the embedded {what}, unless it already runs.")
    @click.option("--port", type=int, default=None, help="Port to listen on (default: a free one).")
    def start(port: int | None) -> None:
        service = make(_settings(), port)
        result = service.start()
        verb = "started" if result.started else "already running"
        click.echo(f"{name} {result.record.version} {verb} at {result.record.address}")
        click.echo(f"  pid {result.record.pid}, log {result.record.log_path}")

    @group.command(help=f"Fetch the {what}'s jars from Maven Central into the cache.")
    def install() -> None:
        service = make(_settings(), None)
        service.install()
        click.echo(f"{name} {service.version} is installed in {service.install_dir}")

    @group.command(help=f"Stop the embedded {what}; no process is left behind.")
    def stop() -> None:
        pids = make(_settings(), None).stop()
        click.echo(f"{name} stopped (pids {pids})" if pids else f"{name} was not running")

    @group.command(help=f"Say whether the embedded {what} runs and answers.")
    def status() -> None:
        current = make(_settings(), None).status()
        click.echo(current.message)
        if current.state is ServiceState.STOPPED:
            sys.exit(EXIT_NOT_RUNNING)
        if current.state is ServiceState.STALE:
            sys.exit(EXIT_STALE)

    return group


def _make_kafka(settings: HubSettings, port: int | None) -> LocalJavaService:
    from hub.endpoints import embedded_kafka  # noqa: PLC0415

    return embedded_kafka(settings, port)


def _make_registry(settings: HubSettings, port: int | None) -> LocalJavaService:
    from hub.endpoints import embedded_registry  # noqa: PLC0415

    return embedded_registry(settings, port)


cli.add_command(_service_group("kafka", "Apache Kafka broker (KRaft)", _make_kafka))
cli.add_command(_service_group("registry", "Apicurio schema registry", _make_registry))


@cli.command()
def worker() -> None:
    """Run a stream-processing worker (correlation, rules, tasks) until stopped."""
    import faust  # noqa: PLC0415

    from hub.app import create_app, ensure_changelogs, rocksdb_options  # noqa: PLC0415
    from hub.endpoints import kafka_bootstrap, make_pipeline, registry_url  # noqa: PLC0415
    from hub.kafka_security import faust_credentials  # noqa: PLC0415
    from hub.topics import ensure_topics  # noqa: PLC0415

    settings = _settings()
    gc.set_threshold(*settings.worker_gc_thresholds)
    bootstrap = kafka_bootstrap(settings, start=True)
    pipeline = make_pipeline(settings, registry_url(settings, start=True))
    asyncio.run(ensure_topics(bootstrap, pipeline.topics))
    hub_app = create_app(
        app_id=settings.topic_prefix + settings.app_id,
        bootstrap_servers=bootstrap,
        pipeline=pipeline,
        datadir=settings.state_dir / "worker",
        store=settings.table_store,
        web_port=settings.worker_web_port,
        credentials=faust_credentials(),
        session_timeout=settings.worker_session_timeout_seconds,
        commit_interval=settings.worker_commit_interval_seconds,
        fetch_wait_ms=settings.worker_fetch_wait_ms,
        store_options=rocksdb_options(
            settings.rocksdb_write_buffer_mb, settings.rocksdb_block_cache_mb
        ),
    )
    asyncio.run(ensure_changelogs(bootstrap, hub_app))
    faust.Worker(
        hub_app.app, loglevel=settings.log_level, override_logging=False, quiet=True
    ).execute_from_commandline()


@cli.group()
def schemas() -> None:
    """Check the Avro schemas in schemas/avro/."""


@schemas.command("check")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(__file__).resolve().parents[1],
    show_default=True,
    help="The git checkout whose history the schemas must stay compatible with.",
)
def schemas_check(repo: Path) -> None:
    """Every schema parses and reads data written with each earlier version in git."""
    from hub.avro.catalog import SchemaCatalog  # noqa: PLC0415
    from hub.avro.compatibility import check_schema_history  # noqa: PLC0415

    catalog = SchemaCatalog(repo / "schemas" / "avro")
    problems = check_schema_history(repo, "schemas/avro")
    for problem in problems:
        click.echo(f"incompatible: {problem}", err=True)
    if problems:
        sys.exit(EXIT_FAILED)
    click.echo(f"{len(list(catalog))} schemas parse and are backward compatible with history")


@cli.group()
def rules() -> None:
    """The rule catalogue."""


@rules.command("list")
def rules_list() -> None:
    """Every rule: id, severity, owner and title."""
    from hub.rules import RULES  # noqa: PLC0415

    for rule in sorted(RULES, key=lambda r: r.rule_id):
        spec = rule.spec
        click.echo(
            f"{spec.rule_id:<42} {spec.severity.value}  {spec.owner_group:<10} {spec.title_en}"
        )


@rules.command("docs")
@click.option("--check", is_flag=True, help="Fail (exit 1) if docs/rules.md is out of date.")
def rules_docs(check: bool) -> None:
    """Write docs/rules.md from the rules' own metadata and examples."""
    from hub.rules import RULES  # noqa: PLC0415
    from hub.rules.catalogue import CATALOGUE_FILE, render_catalogue  # noqa: PLC0415

    page = render_catalogue(RULES)
    current = CATALOGUE_FILE.read_text() if CATALOGUE_FILE.exists() else ""
    if check:
        if page != current:
            click.echo(f"{CATALOGUE_FILE} is out of date with the rules; run 'make docs'", err=True)
            sys.exit(EXIT_FAILED)
        click.echo(f"{CATALOGUE_FILE} is up to date ({len(RULES)} rules)")
        return
    CATALOGUE_FILE.write_text(page)
    click.echo(f"wrote {CATALOGUE_FILE} ({len(RULES)} rules)")


@cli.group()
def tasks() -> None:
    """List tasks and decide on exceptions."""


@tasks.command("list")
@click.option("--state", default=None, help="Only tasks in this state (OPEN, SUPPRESSED, ...).")
@click.option("--rule", "rule_id", default=None, help="Only tasks of this rule.")
def tasks_list(state: str | None, rule_id: str | None) -> None:
    """The latest state of every task, one line each."""
    from hub.task_commands import latest_tasks  # noqa: PLC0415

    found = asyncio.run(latest_tasks(_settings()))
    for task in sorted(found.values(), key=lambda t: (t["state"], t["rule_id"], t["task_id"])):
        if (state and task["state"] != state.upper()) or (rule_id and task["rule_id"] != rule_id):
            continue
        due = task["due_date"].isoformat() if task["due_date"] else "-"
        click.echo(
            f"{task['task_id']}  {task['state']:<10} {task['severity']}  due {due}"
            f"  {task['rule_id']}  {task['title_en']}"
        )


@tasks.command("suppress")
@click.argument("task_id")
@click.option("--reason", required=True, help="Why the mismatch is accepted.")
@click.option("--by", required=True, help="Who accepts it.")
@click.option(
    "--until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Expiry (YYYY-MM-DD)."
)
def tasks_suppress(task_id: str, reason: str, by: str, until: datetime | None) -> None:
    """Accept an exception: the task is suppressed until it expires."""
    from hub.task_commands import send_feedback  # noqa: PLC0415

    expires = start_of_day(until.date()) if until else None
    task = asyncio.run(
        send_feedback(
            _settings(), task_id, "SUPPRESS", decided_by=by, reason=reason, expires_at=expires
        )
    )
    click.echo(
        f"suppressed {task_id} ({task['rule_id']}) until {until.date() if until else 'withdrawn'}"
    )


@tasks.command("unsuppress")
@click.argument("task_id")
@click.option("--by", required=True, help="Who withdraws the exception.")
def tasks_unsuppress(task_id: str, by: str) -> None:
    """Withdraw an exception: the task is judged afresh."""
    from hub.task_commands import send_feedback  # noqa: PLC0415

    asyncio.run(
        send_feedback(
            _settings(), task_id, "UNSUPPRESS", decided_by=by, reason=None, expires_at=None
        )
    )
    click.echo(f"withdrew the exception for {task_id}")


@tasks.command("show")
@click.argument("task_id")
def tasks_show(task_id: str) -> None:
    """One task in full: who, what, why, by when, and the evidence."""
    from hub.task_commands import latest_tasks  # noqa: PLC0415
    from hub.topic_tail import plain_json  # noqa: PLC0415

    task = asyncio.run(latest_tasks(_settings())).get(task_id)
    if task is None:
        raise HubError(f"no task {task_id} on hub.tasks (see 'hub tasks list')")
    click.echo(plain_json(task, indent=2))


@cli.group()
def topics() -> None:
    """The hub's topics as deploy/topics.yaml declares them."""


@topics.command("list")
def topics_list() -> None:
    """Each topic of the catalogue: name, partitions, cleanup policy, what it holds."""
    from hub.topics import TopicCatalog  # noqa: PLC0415

    for spec in TopicCatalog(prefix=_settings().topic_prefix):
        click.echo(
            f"{spec.name:<40} {spec.partitions:>3}  {spec.cleanup_policy:<14} {spec.description}"
        )


@topics.command("apply")
@click.option("--dry-run", is_flag=True, help="Only say what would change.")
def topics_apply(dry_run: bool) -> None:
    """Create or update the topics (partitions, compaction, retention) on the cluster.

    Exits 1 when a difference cannot be applied (fewer partitions, another
    replication factor): those need a person."""
    from hub.endpoints import kafka_bootstrap  # noqa: PLC0415
    from hub.topic_admin import apply_topics  # noqa: PLC0415
    from hub.topics import TopicCatalog  # noqa: PLC0415

    settings = _settings()
    catalog = TopicCatalog(prefix=settings.topic_prefix)
    changes = asyncio.run(
        apply_topics(kafka_bootstrap(settings, start=False), catalog, dry_run=dry_run)
    )
    if not changes:
        click.echo("the topics match deploy/topics.yaml")
    for change in changes:
        click.echo(("would " if dry_run and change.kind != "cannot" else "") + change.line())
    if any(change.kind == "cannot" for change in changes):
        sys.exit(EXIT_FAILED)


@cli.command()
@click.argument("topic")
@click.option(
    "--offset",
    "-o",
    default=None,
    help="beginning (default), end, an offset, or -N for the last N of each partition.",
)
@click.option(
    "--since",
    type=_TIME,
    default=None,
    help="Start at the first record at or after this time (local time unless an offset).",
)
@click.option("--follow", "-f", is_flag=True, help="Keep reading new records until Ctrl-C.")
@click.option("--pretty", is_flag=True, help="Indented JSON with a heading per record.")
@click.option("--partition", "-p", type=int, multiple=True, help="Only these partitions.")
@click.option("--max-messages", "-n", type=int, default=None, help="Stop after N records.")
def tail(  # noqa: PLR0917 - click passes each option as an argument
    topic: str,
    offset: str | None,
    since: datetime | None,
    follow: bool,
    pretty: bool,
    partition: tuple[int, ...],
    max_messages: int | None,
) -> None:
    """Read a topic with Avro decoded to JSON (one line per record, or --pretty).

    TOPIC is a name from deploy/topics.yaml (hub.tasks, source.dfo.employee, ...) or
    a topic's full name on the cluster."""
    from hub.topic_tail import TailedRecord, parse_start, render, tail_topic  # noqa: PLC0415

    start = parse_start(offset, since.astimezone() if since else None)
    style: Literal["json", "pretty"] = "pretty" if pretty else "json"

    def show(record: TailedRecord) -> None:
        click.echo(render(record, style))

    asyncio.run(
        tail_topic(
            _settings(),
            topic,
            show,
            start=start,
            follow=follow,
            partitions=list(partition) or None,
            limit=max_messages,
        )
    )


@cli.command()
@click.option("--all", "every_group", is_flag=True, help="Every group, not only the hub's.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per partition.")
def lag(every_group: bool, as_json: bool) -> None:
    """Consumer lag per group and partition: how far behind each reader is."""
    import json  # noqa: PLC0415

    from hub.consumer_lag import hub_reads, read_lag, total_lag  # noqa: PLC0415
    from hub.endpoints import kafka_bootstrap  # noqa: PLC0415
    from hub.topics import TopicCatalog  # noqa: PLC0415

    settings = _settings()
    prefix = "" if every_group else settings.topic_prefix
    reads = hub_reads(
        settings.topic_prefix + settings.app_id, TopicCatalog(prefix=settings.topic_prefix)
    )
    rows = asyncio.run(read_lag(kafka_bootstrap(settings, start=False), prefix, reads))
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_dict()))
        return
    if not rows:
        click.echo("no consumer group has committed offsets yet")
        return
    click.echo(f"{'GROUP':<36} {'TOPIC':<44} {'PART':>4} {'COMMITTED':>10} {'END':>10} {'LAG':>8}")
    for row in rows:
        committed = "-" if row.committed is None else str(row.committed)
        click.echo(
            f"{row.group:<36} {row.topic:<44} {row.partition:>4} {committed:>10}"
            f" {row.end:>10} {row.lag:>8}"
        )
    for group, total in total_lag(rows).items():
        click.echo(f"total lag of {group}: {total}")


@cli.group()
def tickets() -> None:
    """Deliver tasks to RT, TOPdesk or ServiceNow (docs/tasks.md)."""


@tickets.command("run")
def tickets_run() -> None:
    """Run the ticket sink: hub.tasks in, tickets out, until stopped (SIGTERM)."""
    from hub.settings import load_model  # noqa: PLC0415
    from hub.tickets.commands import run_sink  # noqa: PLC0415
    from hub.tickets.settings import TicketSettings  # noqa: PLC0415

    settings = _settings()
    asyncio.run(run_sink(settings, load_model(TicketSettings, "ticket")))


@tickets.command("refs")
@click.option("--system", default=None, help="Only tickets in this system (rt, topdesk, ...).")
def tickets_refs(system: str | None) -> None:
    """The ticket each task became, one line each (from hub.ticket-refs)."""
    from hub.tickets.refs import latest_refs  # noqa: PLC0415

    found = asyncio.run(latest_refs(_settings()))
    for ref in sorted(found.values(), key=lambda r: (r["system"], r["task_id"])):
        if system and ref["system"] != system:
            continue
        number = ref["ticket_number"] or ref["ticket_id"]
        click.echo(
            f"{ref['task_id']}  {ref['system']:<10} {number:<14} {ref['synced_state']:<10}"
            f" rev {ref['synced_revision']}  {ref['queue'] or '-'}"
        )


@tickets.command("fake-server")
@click.argument("system", type=click.Choice(["rt", "topdesk", "servicenow"]))
@click.option("--port", type=int, default=0, show_default=True, help="0 takes a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
def tickets_fake_server(system: str, port: int, host: str) -> None:
    """Serve a fake RT, TOPdesk or ServiceNow (tickets in memory) until stopped; prints
    its address. Faults and a person resolving tickets: POST /_fake/faults and
    /_fake/tickets/ID/resolve."""
    from hub.tickets.commands import serve_fake  # noqa: PLC0415
    from hub.tickets.fake_server import FakeTicketServer  # noqa: PLC0415

    _settings()

    def announce(fake: FakeTicketServer) -> None:
        click.echo(f"fake {system} listening at {fake.url}")
        click.echo("point the ticket sink at it with:")
        for name, value in fake.sink_env().items():
            click.echo(f"  export {name}={value}")
        click.echo("tickets: GET /_fake/tickets; faults: POST /_fake/faults")
        sys.stdout.flush()

    asyncio.run(serve_fake(system, host, port, announce))


@cli.group()
def failsafe() -> None:
    """Decide on failsafe holds (a rule's tasks changed en masse)."""


def _decide(incident_id: str, decision: str, by: str, reason: str | None) -> None:
    from hub.failsafe_commands import send_decision  # noqa: PLC0415

    settings = _settings()
    asyncio.run(send_decision(settings, incident_id, decision, by, reason))
    click.echo(f"{decision.lower()}ed {incident_id} (by {by})")


@failsafe.command("confirm")
@click.argument("incident_id")
@click.option("--by", required=True, help="Who decides (name or username).")
@click.option("--reason", default=None, help="Why, for the audit log.")
def failsafe_confirm(incident_id: str, by: str, reason: str | None) -> None:
    """The mass change is real: publish the held task changes."""
    _decide(incident_id, "CONFIRM", by, reason)


@failsafe.command("reject")
@click.argument("incident_id")
@click.option("--by", required=True, help="Who decides (name or username).")
@click.option("--reason", default=None, help="Why, for the audit log.")
def failsafe_reject(incident_id: str, by: str, reason: str | None) -> None:
    """The mass change is a mistake: drop the held task changes."""
    _decide(incident_id, "REJECT", by, reason)


@cli.group()
def connector() -> None:
    """Run the connectors that bring source systems' records to Kafka."""


@connector.command("list")
def connector_list() -> None:
    """Every connector: name, schema, topic, and whether it can reconcile."""
    from connectors.catalog import CONNECTORS, connector_class  # noqa: PLC0415

    rows = [connector_class(name).describe() for name in sorted(CONNECTORS)]
    width = {field: max(len(str(row[field])) for row in rows) for field in rows[0]}
    for info in rows:
        modes = "incremental + full" if info["reconciles"] else "incremental"
        click.echo(
            f"{info['name']:<{width['name']}}  {info['topic']:<{width['topic']}}"
            f"  {info['schema']:<{width['schema']}}  {modes}"
        )


@connector.command("run")
@click.argument("name")
@click.option(
    "--reconcile",
    "reconcile_once",
    is_flag=True,
    help="Run one full reconciliation and exit (for a scheduler), instead of following.",
)
@click.option(
    "--health-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve GET /health (state and counters as JSON) on 127.0.0.1 at this port.",
)
def connector_run(name: str, reconcile_once: bool, health_port: int | None) -> None:
    """Run connector NAME until stopped (SIGINT/SIGTERM end it cleanly).

    Its settings come from its own HUB_<SOURCE>_* variables (see docs/connectors.md);
    Kafka and the registry from HUB_KAFKA_BOOTSTRAP_SERVERS / HUB_SCHEMA_REGISTRY_URL or
    the embedded ones. Exit codes: 0 stopped, 1 failed or misconfigured, 2 bad usage.
    """
    from connectors.catalog import CONNECTORS  # noqa: PLC0415
    from connectors.sdk.launch import run_connector  # noqa: PLC0415

    if name not in CONNECTORS:
        raise click.BadParameter(
            f"no connector named {name!r}; known: {', '.join(sorted(CONNECTORS))}",
            param_hint="NAME",
        )
    asyncio.run(
        run_connector(_settings(), name, reconcile_once=reconcile_once, health_port=health_port)
    )


@cli.command()
@click.option("--since", type=_TIME, required=True, help="Read again from this time (local).")
@click.option("--dry-run", is_flag=True, help="Only say where each partition would go.")
def replay(since: datetime, dry_run: bool) -> None:
    """Reprocess the source topics from a time, e.g. after a rule fix.

    Stop the workers first; the next 'hub worker' reads the records again. Tasks are
    not duplicated: the same finding keeps its task, a fixed one resolves it."""
    from hub.endpoints import kafka_bootstrap  # noqa: PLC0415
    from hub.replay import rewind_group  # noqa: PLC0415
    from hub.topics import TopicCatalog  # noqa: PLC0415

    settings = _settings()
    catalog = TopicCatalog(prefix=settings.topic_prefix)
    topics = [s.name for s in catalog if s.logical_name.startswith("source.")]  # with org units
    group = settings.topic_prefix + settings.app_id
    plan = asyncio.run(
        rewind_group(
            kafka_bootstrap(settings, start=False),
            group,
            topics,
            since.astimezone(),
            dry_run=dry_run,
        )
    )
    if not plan:
        click.echo(f"nothing to replay: {group} has read nothing on the source topics since then")
    for move in plan:
        click.echo(("would move " if dry_run else "moved ") + move.line())
    if plan and not dry_run:
        click.echo(f"start the workers ('hub worker'): {group} reads from there again")


@cli.group()
def deadletters() -> None:
    """Replay dead letters after the cause is fixed (read them with 'hub tail')."""


@deadletters.command("replay")
@click.option("--since", type=_TIME, default=None, help="Only dead letters from this time.")
@click.option("--stage", default=None, help="Only those that failed in this stage (route, ...).")
@click.option("--dry-run", is_flag=True, help="Only count what would be sent back.")
def deadletters_replay(since: datetime | None, stage: str | None, dry_run: bool) -> None:
    """Send dead letters back to the hub topic they were read from."""
    from hub.endpoints import kafka_bootstrap  # noqa: PLC0415
    from hub.replay import replay_dead_letters  # noqa: PLC0415
    from hub.topics import TopicCatalog  # noqa: PLC0415

    settings = _settings()
    catalog = TopicCatalog(prefix=settings.topic_prefix)
    done = asyncio.run(
        replay_dead_letters(
            kafka_bootstrap(settings, start=False),
            catalog.name("hub.deadletter"),
            {spec.name for spec in catalog},
            since=since.astimezone() if since else None,
            stage=stage,
            dry_run=dry_run,
        )
    )
    verb = "would send" if dry_run else "sent"
    for topic, count in sorted(done.sent.items()):
        click.echo(f"{verb} {count} back to {topic}")
    for origin, count in sorted(done.left.items()):
        click.echo(
            f"left {count} from {origin}: not a hub topic (a connector's source data;"
            " its next full reconciliation fetches it again)"
        )
    if not done.sent and not done.left:
        click.echo("no dead letters match")


@cli.command()
def doctor() -> None:
    """Check Kafka, the topics, the workers, dead letters and the schema registry; say
    what is wrong and how to fix it. Exits 1 when a check fails (warnings exit 0)."""
    from hub.doctor import Status, run_doctor  # noqa: PLC0415

    findings = asyncio.run(run_doctor(_settings()))
    for finding in findings:
        for line in finding.lines():
            click.echo(line)
    if any(f.status is Status.FAILED for f in findings):
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: a free one).",
)
@click.option(
    "--connector",
    "connectors",
    multiple=True,
    metavar="URL",
    help="A connector's health address (hub connector run --health-port), e.g."
    " http://127.0.0.1:9101; repeat for each.",
)
def dashboard(host: str, port: int, connectors: tuple[str, ...]) -> None:
    """Serve the dashboard, a web page: open tasks by rule, severity, owner and age,
    overdue tasks, dead letters, lag and connector health, and each task with its
    evidence. It reads hub.tasks as it changes; Ctrl-C stops it."""
    from hub.dashboard.server import run_dashboard  # noqa: PLC0415

    asyncio.run(run_dashboard(_settings(), host, port, click.echo, connectors))


@cli.group()
def scenario() -> None:
    """Simulated universities: generate, replay and score scenarios (docs/scenarios.md)."""


@scenario.command("generate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--people", type=int, default=1000, show_default=True)
@click.option("--days", type=int, default=90, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--fault-rate", type=float, default=0.05, show_default=True)
def scenario_generate(path: Path, people: int, days: int, seed: int, fault_rate: float) -> None:
    """Write a simulated university's scenario to PATH (JSON Lines)."""
    from hub.simulation.scenario_file import write_scenario  # noqa: PLC0415
    from hub.simulation.simulator import SimulationSettings, simulate  # noqa: PLC0415

    settings = SimulationSettings(
        seed=seed,
        people=people,
        days=days,
        fault_rate=fault_rate,
        institution=_settings().institution,
    )
    generated = simulate(settings)
    write_scenario(generated, path)
    click.echo(
        f"{path}: {len(generated.events)} events, {len(generated.expectations)} expectations"
    )


@scenario.command("run")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def scenario_run(path: Path) -> None:
    """Replay PATH through the fakes, connectors, Kafka and a worker; score the tasks."""
    from hub.simulation.runner import print_score, run_scenario  # noqa: PLC0415
    from hub.simulation.scenario_file import read_scenario  # noqa: PLC0415

    outcome = run_scenario(read_scenario(path), _settings())
    print_score(outcome.score, outcome.tasks)


@scenario.command("score")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def scenario_score(path: Path) -> None:
    """Compare the tasks on hub.tasks (HUB_TOPIC_PREFIX's) with PATH's expectations."""
    from hub.simulation.runner import print_score, score_scenario  # noqa: PLC0415
    from hub.simulation.scenario_file import read_scenario  # noqa: PLC0415

    print_score(score_scenario(read_scenario(path), _settings()), None)


@cli.command()
@click.option(
    "--people",
    type=click.IntRange(min=50),
    default=None,
    help="How many people the university has [default: HUB_DEMO_PEOPLE, else 20,000].",
)
@click.option("--seed", type=int, default=None, help="The simulation's seed [default: 2021].")
@click.option(
    "--keep-running",
    is_flag=True,
    help="Leave Kafka, the registry and a dashboard running, and say how to use them.",
)
def demo(people: int | None, seed: int | None, keep_running: bool) -> None:
    """A mid-size university's three months through the hub: generate the default
    scenario, replay it on the embedded Kafka and registry, print the summary and the
    score against the ground truth, and stop what it started."""
    from hub.demo import DEFAULT_PEOPLE, DEFAULT_SEED, DemoOptions, run_demo  # noqa: PLC0415

    if people is None:
        people = int(os.environ.get("HUB_DEMO_PEOPLE") or DEFAULT_PEOPLE)
    options = DemoOptions(
        people=people,
        seed=DEFAULT_SEED if seed is None else seed,
        keep_running=keep_running,
    )
    outcome = run_demo(_settings(), options)
    summary = outcome.score.summary()
    if summary["precision"] < 1 or summary["recall"] < 1 or summary["duplicates"]:
        raise HubError("the hub's tasks differ from the ground truth (see above)")


def main() -> None:
    """Entry point: HubErrors become one clear line and exit code 1."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
