"""``hub demo``: the walking skeleton on the embedded Kafka and registry.

A DFØ new hire without an IAM account goes through the DFØ connector, the
correlation and rule agents, and opens a correction task on ``hub.tasks``; a
malformed record lands on ``hub.deadletter``; the IAM account arriving resolves
the task. The demo stops what it started.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from connectors.dfo.connector import DfoEmployeeConnector
from hub.deadletter import headers_as_dict
from hub.embedded.service import LocalJavaService, ServiceState
from hub.endpoints import embedded_kafka, embedded_registry, make_pipeline
from hub.errors import HubError
from hub.pipeline import Pipeline
from hub.settings import HubSettings
from hub.topics import ensure_topics

__all__ = ["run_demo"]

_WAIT_SECONDS = 120.0


def _new_hire_body(start: date) -> bytes:
    """A GET ansatte/v2/{id} body, as DFØ returns it, for a hire starting on ``start``."""
    return json.dumps(
        {
            "ansatt": [
                {
                    "id": "00345678",
                    "fnr": "24048812345",
                    "annenId": [],
                    "fornavn": "Kari",
                    "etternavn": "Nordmann",
                    "fdato": "1988-04-24",
                    "brukerident": None,
                    "eksternIdent": None,
                    "stillingId": 30045600,
                    "medarbeidergruppe": "1",
                    "medarbeiderundergruppe": "17",
                    "startdato": start.isoformat(),
                    "sluttdato": "9999-12-31",
                    "dellonnsprosent": 100.0,
                    "tittel": "Førsteamanuensis",
                    "tilleggsstilling": [],
                    "lederflagg": False,
                    "reservasjonPublisering": False,
                    "mobilPrivat": "+47 400 00 000",
                    "organisasjonId": 50001300,
                    "kostnadssted": "130100",
                    "endretDato": date.today().isoformat(),
                }
            ]
        },
        ensure_ascii=False,
    ).encode()


def _account() -> dict[str, Any]:
    """The IAM account Cerebrum creates for the new hire."""
    return {
        "institution": "uio",
        "source_system": "cerebrum",
        "source_id": "cerebrum-account-88123",
        "source_timestamp": datetime.now(UTC),
        "iam_person_id": "cerebrum-person-55321",
        "username": "karinor",
        "feide_principal_name": "karinor@uio.no",
        "status": "ACTIVE",
        "expires_on": None,
        "affiliations": [
            {
                "affiliation": "ANSATT",
                "status": "vitenskapelig",
                "org_unit_id": "50001300",
                "source_system": "DFO_SAP",
            }
        ],
        "external_ids": [{"id_type": "DFO_PID", "value": "00345678"}],
        "publicly_visible": True,
    }


def _show_task(task: dict[str, Any]) -> None:
    click.echo(f"    task_id   {task['task_id']}  (revision {task['revision']})")
    click.echo(f"    rule      {task['rule_id']}")
    click.echo(f"    state     {task['state']}   severity {task['severity']}")
    click.echo(f"    owner     {task['owner_group']}   due {task['due_date']}")
    click.echo(f"    person    {task['display_name']} ({task['person_key']})")
    click.echo(f"    title     {task['title_en']}")
    click.echo(f"              {task['title_nb']}")
    click.echo(f"    fix       {task['suggested_fix_en']}")
    evidence = task["resolution_evidence"] if task["state"] == "RESOLVED" else task["evidence"]
    label = "resolved by" if task["state"] == "RESOLVED" else "evidence"
    for item in evidence:
        click.echo(f"    {label:<9} {item['system']}: {item['field']} = {item['value']}")
    click.echo("    as JSON: " + json.dumps(task, default=str, ensure_ascii=False))


async def _wait_for(bootstrap: str, topic: str, pipeline: Pipeline | None, predicate: Any) -> Any:
    """The first record on ``topic`` (decoded if a pipeline is given) matching ``predicate``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    deadline = time.monotonic() + _WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    item: Any = message
                    if pipeline is not None and message.value is not None:
                        item = await pipeline.codec.decode_any(message.value)
                    if predicate(item):
                        return item
    finally:
        await consumer.stop()
    raise HubError(f"nothing arrived on {topic} within {_WAIT_SECONDS:.0f}s")


async def _walk(settings: HubSettings, bootstrap: str, registry: str, log_path: Path) -> None:
    pipeline = make_pipeline(settings, registry)
    topics = pipeline.topics
    created = await ensure_topics(bootstrap, topics)
    click.echo(f"[3/6] created {len(created)} topics with prefix {settings.topic_prefix!r}")
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HUB_SCHEMA_REGISTRY_URL": registry,
        "HUB_TOPIC_PREFIX": settings.topic_prefix,
        "HUB_WORKER_WEB_PORT": "0",
        "HUB_STATE_DIR": str(log_path.parent),
    }
    with log_path.open("ab") as log:
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub",
            "worker",
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    click.echo(f"[4/6] started a hub worker (pid {worker.pid}, log {log_path})")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        connector = DfoEmployeeConnector(
            producer=producer,
            codec=pipeline.codec,
            catalog=pipeline.catalog,
            topics=topics,
            institution="uio",
            secret=pipeline.secret,
        )
        start = date.today() + timedelta(days=7)
        await connector.publish(_new_hire_body(start))
        click.echo(f"[5/6] DFØ: ansatt 00345678 Kari Nordmann starts {start}; IAM has no account.")
        tasks = topics.name("hub.tasks")
        opened = await _wait_for(bootstrap, tasks, pipeline, lambda t: t["state"] == "OPEN")
        click.echo("  → the hub opened a correction task on " + tasks + ":")
        _show_task(opened)

        employees = topics.name("source.dfo.employee")
        await producer.send_and_wait(employees, key=b"broken", value=b'{"ansatt": [{"id": ')
        letter = await _wait_for(
            bootstrap, topics.name("hub.deadletter"), None, lambda m: m.key == b"broken"
        )
        headers = headers_as_dict(letter.headers)
        click.echo("  → a malformed record on " + employees + " went to the dead-letter topic:")
        for name in ("hub.source.topic", "hub.source.partition", "hub.source.offset", "hub.error"):
            click.echo(f"    {name:<22} {headers.get(name)}")

        account_topic = topics.name("source.iam.account")
        value = await pipeline.codec.encode(
            account_topic, pipeline.catalog["no.bott.hub.iam.Account"], _account()
        )
        await producer.send_and_wait(account_topic, key=b"cerebrum-account-88123", value=value)
        click.echo("[6/6] IAM: account karinor is created for Kari Nordmann.")
        resolved = await _wait_for(
            bootstrap,
            tasks,
            pipeline,
            lambda t: t["task_id"] == opened["task_id"] and t["state"] == "RESOLVED",
        )
        click.echo("  → the same task resolved itself, recording the evidence of the fix:")
        _show_task(resolved)
    finally:
        await producer.stop()
        await pipeline.codec.close()
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(worker.wait(), timeout=30)
        except TimeoutError:
            os.killpg(worker.pid, signal.SIGKILL)
            await worker.wait()


def run_demo(settings: HubSettings, *, keep_running: bool = False) -> None:
    """Run the walking skeleton end to end and stop what it started."""
    services: list[tuple[str, LocalJavaService]] = [
        ("Kafka", embedded_kafka(settings)),
        ("schema registry", embedded_registry(settings)),
    ]
    started: list[LocalJavaService] = []
    began = time.monotonic()
    try:
        addresses = []
        for step, (label, service) in enumerate(services, start=1):
            already = service.status().state is ServiceState.RUNNING
            click.echo(f"[{step}/6] {'using' if already else 'starting'} the embedded {label}…")
            result = service.start()
            if result.started:
                started.append(service)
            addresses.append(result.record.address)
            click.echo(f"  {label} {result.record.version} at {result.record.address}")
        demo_settings = settings.model_copy(
            update={"topic_prefix": f"demo-{datetime.now(UTC):%Y%m%d%H%M%S}."}
        )
        log_path = settings.state_dir / "demo" / "worker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        asyncio.run(_walk(demo_settings, addresses[0], addresses[1], log_path))
        click.echo(f"\nDone in {time.monotonic() - began:.1f}s. Where to look next:")
        click.echo("  hub kafka status       the embedded broker")
        click.echo("  hub --help             every command")
        click.echo(f"  {log_path}   the worker's log")
    finally:
        if keep_running:
            for service in started:
                click.echo(f"left {service.name} running (stop it with 'hub {service.name} stop')")
        else:
            for service in reversed(started):
                service.stop()
                click.echo(f"stopped the embedded {service.name} this demo started")
