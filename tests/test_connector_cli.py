"""``hub connector list|run`` as an operator uses them: exit codes, messages, and a
connector run as a process against the real broker until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.catalog import CONNECTORS
from connectors.profile_files.fake_export import ExportDirectory
from connectors.testing.conformance import kit_environment, read_topic
from tests.conftest import KafkaEndpoint

ROOT = Path(__file__).resolve().parents[1]


def _hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


class TestConnectorCommands:
    def test_list_names_every_connector(self) -> None:
        """`hub connector list` shows each connector with its topic and modes."""
        result = _hub("connector", "list")
        assert result.returncode == 0, result.stderr
        for name in CONNECTORS:
            assert name in result.stdout
        assert "source.payroll.result" in result.stdout

    def test_unknown_connector_is_a_usage_error(self) -> None:
        """An unknown name exits 2 and lists the known ones."""
        result = _hub("connector", "run", "sap-hr")
        assert result.returncode == 2
        assert "dfo-employee" in result.stderr

    def test_missing_setting_exits_1_naming_the_variable(self, tmp_path: Path) -> None:
        """A connector without its required settings exits 1 with one line naming them."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        result = subprocess.run(
            [sys.executable, "-m", "hub", "connector", "run", "profile-files"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env=env,
        )
        assert result.returncode == 1
        assert "HUB_PROFILE_FILES_DIRECTORY" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.kafka
@pytest.mark.registry
class TestConnectorRun:
    async def test_runs_until_sigterm_and_reconciles_on_demand(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        """`hub connector run profile-files` publishes the export's pages, serves its
        health, and exits 0 on SIGTERM; `--reconcile` deletes a removed page and exits."""
        export_dir = tmp_path / "export"
        export_dir.mkdir()
        export = ExportDirectory(export_dir, {})
        keys = await export.add(2)
        env = {
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "HUB_SCHEMA_REGISTRY_URL": registry_url,
            "HUB_TOPIC_PREFIX": topic_prefix,
            "HUB_PROFILE_FILES_DIRECTORY": str(export_dir),
            "HUB_PROFILE_FILES_POLL_INTERVAL_S": "0.2",
            "HUB_LOG_FORMAT": "json",
        }
        log = tmp_path / "connector.log"
        command = [sys.executable, "-m", "hub", "connector", "run", "profile-files"]
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                *command, "--health-port", "0", cwd=ROOT, env=env, stdout=out, stderr=out
            )
        try:
            async with kit_environment(kafka.bootstrap_servers, registry_url, topic_prefix) as kit:
                deadline = time.monotonic() + 60
                published: set[str | None] = set()
                while time.monotonic() < deadline and published != set(keys):
                    published = {r.key for r in await read_topic(kit, "source.web.profile")}
                    await asyncio.sleep(0.3)
                assert published == set(keys), log.read_text()
                process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(process.wait(), 30) == 0, log.read_text()
                assert "stopped" in log.read_text()

                await export.remove_silently(keys[0])
                once = await asyncio.create_subprocess_exec(
                    *command, "--reconcile", cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
                )
                stdout, _ = await asyncio.wait_for(once.communicate(), 120)
                assert once.returncode == 0, stdout
                assert b"deleted=1" in stdout
                records = await read_topic(kit, "source.web.profile")
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        removed = [r.value is None for r in records if r.key == keys[0]]
        assert removed == [False, True], "published, then a tombstone"
