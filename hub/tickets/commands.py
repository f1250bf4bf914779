"""The CLI's edge for tickets: running the sink, serving a fake ticket system, listing
the remembered tickets."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Callable

import structlog
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from hub.endpoints import kafka_bootstrap, make_pipeline, registry_url
from hub.errors import ConfigurationError
from hub.pipeline import Pipeline
from hub.settings import HubSettings
from hub.tickets.fake_rt import FakeRt
from hub.tickets.fake_server import FakeTicketServer
from hub.tickets.fake_servicenow import FakeServiceNow
from hub.tickets.fake_topdesk import FakeTopdesk
from hub.tickets.retry import RetryPolicy, backoff_delay
from hub.tickets.rt import RtTickets
from hub.tickets.servicenow import ServiceNowTickets
from hub.tickets.settings import TicketSettings
from hub.tickets.sink import TicketSink
from hub.tickets.system import TicketSystem
from hub.tickets.topdesk import TopdeskTickets
from hub.topics import ensure_topics

__all__ = ["FAKES", "run_sink", "serve_fake", "ticket_systems"]

log = structlog.get_logger("hub.tickets")

FAKES: dict[str, Callable[[], FakeTicketServer]] = {
    "rt": FakeRt,
    "topdesk": FakeTopdesk,
    "servicenow": FakeServiceNow,
}


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def _needs(name: str, **values: object) -> None:
    missing = [f"HUB_{k.upper()}" for k, v in values.items() if not v]
    if missing:
        raise ConfigurationError(f"{name} is half configured: set {', '.join(missing)}")


def ticket_systems(settings: TicketSettings) -> dict[str, TicketSystem]:
    """A client for each ticket system whose URL is set; a URL without credentials is
    a configuration error naming the missing variables."""
    timeout = settings.tickets_timeout_seconds
    systems: dict[str, TicketSystem] = {}
    if settings.rt_url:
        _needs("RT", rt_token=settings.rt_token)
        systems["rt"] = RtTickets(
            settings.rt_url,
            _secret(settings.rt_token),
            task_field=settings.rt_task_field,
            requestor=settings.rt_requestor,
            timeout_s=timeout,
        )
    if settings.topdesk_url:
        _needs(
            "TOPdesk",
            topdesk_user=settings.topdesk_user,
            topdesk_password=settings.topdesk_password,
        )
        systems["topdesk"] = TopdeskTickets(
            settings.topdesk_url,
            settings.topdesk_user or "",
            _secret(settings.topdesk_password),
            caller=settings.topdesk_caller,
            timeout_s=timeout,
        )
    if settings.servicenow_url:
        _needs(
            "ServiceNow",
            servicenow_user=settings.servicenow_user,
            servicenow_password=settings.servicenow_password,
        )
        systems["servicenow"] = ServiceNowTickets(
            settings.servicenow_url,
            settings.servicenow_user or "",
            _secret(settings.servicenow_password),
            timeout_s=timeout,
        )
    if not systems:
        raise ConfigurationError(
            "no ticket system configured: set HUB_RT_URL, HUB_TOPDESK_URL or HUB_SERVICENOW_URL"
            " (and their credentials)"
        )
    return systems


async def run_sink(hub: HubSettings, tickets: TicketSettings) -> None:
    """Run the ticket sink until SIGTERM or SIGINT."""
    systems = ticket_systems(tickets)
    bootstrap = kafka_bootstrap(hub, start=False)
    pipeline = make_pipeline(hub, registry_url(hub, start=False))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not await _topics_once_kafka_answers(bootstrap, pipeline, stop):
        await pipeline.codec.close()
        return
    sink = TicketSink(
        pipeline=pipeline,
        bootstrap=bootstrap,
        systems=systems,
        group_id=f"{hub.topic_prefix}{hub.app_id}-{tickets.tickets_group}",
        retry=RetryPolicy(
            attempts=tickets.tickets_retry_attempts,
            base_s=tickets.tickets_retry_base_seconds,
            cap_s=tickets.tickets_retry_cap_seconds,
        ),
        readback_s=tickets.tickets_readback_seconds,
    )
    try:
        await sink.run(stop)
    finally:
        await pipeline.codec.close()


async def _topics_once_kafka_answers(
    bootstrap: str, pipeline: Pipeline, stop: asyncio.Event
) -> bool:
    """Make sure of the hub's topics, waiting (with backoff) for a broker that does not
    answer yet: a sink started before Kafka, or during its restart, waits instead of
    exiting. False when stopped first."""
    attempt = 0
    while not stop.is_set():
        try:
            await ensure_topics(bootstrap, pipeline.topics)
        except (KafkaError, OSError) as exc:
            delay = backoff_delay(attempt, base=0.5, cap=30.0, draw=random.random())  # noqa: S311
            log.warning(
                "kafka_not_answering",
                bootstrap=bootstrap,
                error=str(exc) or type(exc).__name__,
                retry_in_s=round(delay, 1),
            )
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        else:
            return True
    return False


async def serve_fake(
    system: str, host: str, port: int, announce: Callable[[FakeTicketServer], None]
) -> None:
    """Serve a fake ticket system until SIGTERM or SIGINT; ``announce`` it once it listens."""
    fake = FAKES[system]()
    await fake.start(host, port)
    announce(fake)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()
