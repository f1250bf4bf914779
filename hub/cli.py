"""The ``hub`` command line.

Exit codes: 0 success; 1 the hub could not do it (the message says why and what to
do); 2 the command was used wrongly; 3 a service asked about is not running; 4 a
stale service (left from a crash) was found.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import click

from hub.clock import start_of_day
from hub.embedded.service import LocalJavaService, ServiceState
from hub.errors import HubError
from hub.settings import HubSettings, load_settings

__all__ = ["cli", "main"]

EXIT_FAILED = 1
EXIT_NOT_RUNNING = 3
EXIT_STALE = 4


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

    from hub.app import create_app  # noqa: PLC0415
    from hub.endpoints import kafka_bootstrap, make_pipeline, registry_url  # noqa: PLC0415
    from hub.topics import ensure_topics  # noqa: PLC0415

    settings = _settings()
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
    )
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


@cli.command()
@click.option("--keep-running", is_flag=True, help="Leave Kafka and the registry running.")
def demo(keep_running: bool) -> None:
    """The walking skeleton on the embedded Kafka: a DFØ new hire without an account
    opens a task; the IAM account arriving resolves it."""
    from hub.demo import run_demo  # noqa: PLC0415

    run_demo(_settings(), keep_running=keep_running)


def main() -> None:
    """Entry point: HubErrors become one clear line and exit code 1."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_FAILED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
