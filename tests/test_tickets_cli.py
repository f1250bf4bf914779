"""The ticket commands and clients at their edges: help, exit codes and clear errors;
a fake server run from the CLI; the clients' reading of auth failures, outages, slow
answers and rejections."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.tickets.commands import FAKES, ticket_systems
from hub.tickets.fake_server import FakeTicketServer
from hub.tickets.settings import TicketSettings
from hub.tickets.system import (
    NewTicket,
    TicketRejectedError,
    TicketSystem,
    TicketSystemUnavailableError,
)

ROOT = Path(__file__).resolve().parents[1]
TICKET = NewTicket("task-cli", "USIT::IAM", "[P1] subject", "body", "P1", None)


def hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def client_for(fake: FakeTicketServer, **more: object) -> TicketSystem:
    fields = {name.removeprefix("HUB_").lower(): value for name, value in fake.sink_env().items()}
    return client_for_fields({**fields, **more})


def client_for_fields(fields: dict[str, object]) -> TicketSystem:
    (client,) = ticket_systems(TicketSettings(**fields)).values()  # type: ignore[arg-type]
    return client


class TestCommands:
    @pytest.mark.parametrize(
        "command",
        [["tickets"], ["tickets", "run"], ["tickets", "refs"], ["tickets", "fake-server"]],
    )
    def test_every_ticket_command_has_help(self, command: list[str]) -> None:
        """--help exits 0 and describes the command."""
        result = hub(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout

    def test_run_without_a_ticket_system_says_what_to_set(self) -> None:
        """No URL configured: exit 1 with one line naming the variables."""
        env = {k: "" for k in ("HUB_RT_URL", "HUB_TOPDESK_URL", "HUB_SERVICENOW_URL")}
        result = hub("tickets", "run", env=env)
        assert result.returncode == 1
        assert "no ticket system configured: set HUB_RT_URL" in result.stderr

    def test_a_url_without_credentials_is_named(self) -> None:
        """A system half configured names the missing secret, and never prints one."""
        result = hub("tickets", "run", env={"HUB_RT_URL": "http://127.0.0.1:9", "HUB_RT_TOKEN": ""})
        assert result.returncode == 1
        assert "set HUB_RT_TOKEN" in result.stderr

    def test_an_unknown_system_is_a_usage_error(self) -> None:
        """fake-server with a system it does not know exits 2."""
        assert hub("tickets", "fake-server", "jira").returncode == 2

    def test_the_fake_server_prints_its_address_and_answers(self) -> None:
        """`hub tickets fake-server rt --port 0` prints where it listens and the sink's
        settings; it answers there, and refuses a request without the token."""
        import urllib.error  # noqa: PLC0415
        import urllib.request  # noqa: PLC0415

        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "tickets", "fake-server", "rt", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            url = first.rsplit(" ", 1)[-1].strip()
            assert first.startswith("fake rt listening at http://127.0.0.1:"), first
            assert f"export HUB_RT_URL={url}" in proc.stdout.readline() + proc.stdout.readline()
            with urllib.request.urlopen(f"{url}/_fake/tickets", timeout=5) as answer:  # noqa: S310
                assert answer.read() == b"[]"
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{url}/REST/2.0/ticket/1", timeout=5)  # noqa: S310
            assert refused.value.code == 401
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize("system", sorted(FAKES))
class TestClients:
    async def test_wrong_credentials_are_a_rejection(self, system: str) -> None:
        """401 from the system is TicketRejectedError, with no secret in the message."""
        fake = FAKES[system]()
        await fake.start()
        try:
            env = fake.sink_env()
            secret_key = next(k for k in env if k.endswith(("TOKEN", "PASSWORD")))
            fields = {k.removeprefix("HUB_").lower(): v for k, v in env.items()}
            fields[secret_key.removeprefix("HUB_").lower()] = "wrong-secret"
            client = client_for_fields(fields)
            with pytest.raises(TicketRejectedError, match="401") as caught:
                await client.find("task-x")
            assert "wrong-secret" not in str(caught.value)
            await client.close()
        finally:
            await fake.stop()

    async def test_outages_and_slow_answers_are_unavailable_rejections_are_not(
        self, system: str
    ) -> None:
        """503 and a timeout are worth a retry; a refused queue is a 4xx rejection."""
        fake: FakeTicketServer = FAKES[system]()
        await fake.start()
        client = client_for(fake, tickets_timeout_seconds=0.3)
        try:
            fake.faults.fail_next = 1
            with pytest.raises(TicketSystemUnavailableError, match="503"):
                await client.create(TICKET)
            fake.faults.slow_next, fake.faults.slow_seconds = 1, 1.0
            with pytest.raises(TicketSystemUnavailableError, match="no answer in time"):
                await client.create(TICKET)
            fake.faults.reject_queues = {"USIT::IAM": 403}
            with pytest.raises(TicketRejectedError, match="403"):
                await client.create(TICKET)
            assert fake.views() == [], "nothing was filed"
        finally:
            await client.close()
            await fake.stop()
