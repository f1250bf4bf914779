"""The dashboard asks each connector's /health and shows what it says, or that it did
not answer."""

from __future__ import annotations

import aiohttp

from connectors.sdk.health import ConnectorState, Health
from connectors.sdk.health_server import serve_health
from hub.dashboard.connector_reports import ConnectorHealthPoller, report_of
from hub.dashboard.state import DeadLetterTally, connector_health
from hub.embedded.process import free_port


def test_an_unanswered_address_is_reported_unreachable() -> None:
    report = report_of("http://127.0.0.1:9", None, None, "ClientConnectorError: refused")
    assert (report["state"], report["last_error"]) == (
        "unreachable",
        "ClientConnectorError: refused",
    )
    odd = report_of("http://x", 200, ["not", "a", "report"], None)
    assert odd["state"] == "unreachable"
    assert odd["last_error"] == "HTTP 200: not a health report"


async def test_reports_come_from_the_running_connectors() -> None:
    health = Health(state=ConnectorState.RETRYING, last_error="SourceUnavailableError: 503")
    runner = await serve_health(health, "greg", 0)
    port = runner.addresses[0][1]
    silent = f"http://127.0.0.1:{free_port()}"
    poller = ConnectorHealthPoller([f"http://127.0.0.1:{port}/", silent])
    try:
        async with aiohttp.ClientSession() as session:
            await poller.poll_once(session)
    finally:
        await runner.cleanup()
    shown = connector_health(poller(), [], DeadLetterTally())
    by_name = {entry["name"]: entry for entry in shown}
    assert by_name["greg"]["state"] == "retrying"
    assert by_name["greg"]["last_error"] == "SourceUnavailableError: 503"
    assert by_name[silent]["state"] == "unreachable"
