"""What ``hub connector run NAME`` does: settings, Kafka, topics, then the runtime until a
signal stops it."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import click

from connectors.catalog import connector_class
from connectors.sdk.connector import load_connector_settings
from connectors.sdk.errors import ConnectorError
from connectors.sdk.health_server import serve_health
from connectors.sdk.runtime import ConnectorRuntime
from hub.avro.catalog import SchemaCatalog
from hub.endpoints import kafka_bootstrap, make_codec, registry_url
from hub.settings import HubSettings
from hub.topics import TopicCatalog, ensure_topics

__all__ = ["run_connector"]


async def run_connector(
    settings: HubSettings, name: str, *, reconcile_once: bool = False, health_port: int | None
) -> None:
    """Run connector ``name`` until SIGINT/SIGTERM (or one reconciliation)."""
    cls = connector_class(name)
    connector_settings = load_connector_settings(cls.settings_model)
    if reconcile_once and not cls.can_list():
        raise ConnectorError(f"connector {name} cannot list its source, so cannot reconcile")
    bootstrap = kafka_bootstrap(settings, start=False)
    catalog = SchemaCatalog()
    topics = TopicCatalog(prefix=settings.topic_prefix)
    await ensure_topics(bootstrap, topics)
    codec = make_codec(catalog, registry_url(settings, start=False))
    runtime = ConnectorRuntime(
        cls(connector_settings), bootstrap=bootstrap, codec=codec, catalog=catalog, topics=topics
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, runtime.stop)
    health = None
    try:
        if health_port is not None:
            health = await serve_health(runtime.health, name, health_port)
        async with runtime:
            click.echo(f"connector {runtime.instance} started (topic {runtime.publisher.topic})")
            if reconcile_once:
                result = await runtime.reconcile()
                click.echo(f"reconciled: {result}")
            else:
                await runtime.run()
        click.echo(f"connector {runtime.instance} stopped: {runtime.health.as_dict()}")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
        if health is not None:
            await health.cleanup()
        await codec.close()
