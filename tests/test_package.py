"""The package's public surface: importing it has no side effects, and the CLI answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


class TestImport:
    def test_importing_hub_loads_no_kafka_or_faust_and_configures_nothing(self) -> None:
        """`import hub` pulls in neither faust nor aiokafka and leaves logging untouched."""
        out = _python(
            "import logging, sys; before = list(logging.getLogger().handlers);"
            " import hub;"
            " heavy = sorted(m for m in sys.modules if m.split('.')[0] in"
            " ('faust', 'aiokafka', 'mode', 'structlog'));"
            " print(heavy, logging.getLogger().handlers == before)"
        )
        assert out == "[] True"

    def test_building_the_app_connects_to_nothing(self) -> None:
        """create_app builds agents and tables without reaching for a broker."""
        out = _python(
            "from pathlib import Path; import tempfile;"
            " from hub.app import create_app;"
            " from hub.avro.catalog import SchemaCatalog;"
            " from hub.avro.codec import SingleObjectCodec;"
            " from hub.pipeline import Pipeline; from hub.rules import RuleSettings;"
            " from hub.topics import TopicCatalog;"
            " c = SchemaCatalog();"
            " p = Pipeline(codec=SingleObjectCodec(c), catalog=c, topics=TopicCatalog(),"
            " secret='s', rule_settings=RuleSettings());"
            " h = create_app(app_id='x', bootstrap_servers='127.0.0.1:1', pipeline=p,"
            " datadir=Path(tempfile.mkdtemp()));"
            " print(sorted(h.app.agents))"
        )
        assert out == "['correlate', 'evaluate', 'failsafe', 'feedback', 'reference', 'route']"


class TestCommandLine:
    def test_every_command_has_help(self) -> None:
        """`hub --help` and each command's --help exit 0 and describe the command."""
        commands = [
            [],
            ["kafka"],
            ["kafka", "start"],
            ["registry"],
            ["worker"],
            ["schemas", "check"],
            ["demo"],
            ["connector"],
            ["connector", "list"],
            ["connector", "run"],
        ]
        for command in commands:
            result = subprocess.run(
                [sys.executable, "-m", "hub", *command, "--help"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, (command, result.stderr)
            assert "Usage:" in result.stdout, command

    def test_bad_settings_stop_with_a_message_naming_the_variable(self, tmp_path: Path) -> None:
        """An invalid HUB_* value exits 1 with one line naming the variable."""
        result = subprocess.run(
            [sys.executable, "-m", "hub", "kafka", "status"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HUB_CLOCK": "sideways"},
        )
        assert result.returncode == 1
        assert "HUB_CLOCK" in result.stderr
        assert "Traceback" not in result.stderr
