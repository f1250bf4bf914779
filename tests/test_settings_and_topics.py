"""Tests for the hub's settings (HUB_* environment) and its topic catalogue."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.avro.catalog import SchemaCatalog
from hub.errors import ConfigurationError, HubError
from hub.person_view import SourceKind
from hub.settings import load_settings
from hub.topics import TopicCatalog

SECRET_VALUE = "s3cret-pseudonym-key-for-tests"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No HUB_* variables and no .env file: settings come from this test alone."""
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.usefixtures("clean_env")
class TestLoadSettings:
    def test_defaults_without_environment(self) -> None:
        """With nothing set, the hub runs on the wall clock with the dev secret."""
        settings = load_settings()
        assert settings.clock == "wall"
        assert settings.institutions_file.name == "institutions.yaml"
        assert settings.topic_prefix == ""
        assert settings.uses_dev_secret

    def test_reads_prefixed_environment(self, clean_env: pytest.MonkeyPatch) -> None:
        """HUB_* variables set the matching settings, converted to their types."""
        clean_env.setenv("HUB_CLOCK", "event")
        clean_env.setenv("HUB_WORKER_WEB_PORT", "7070")
        clean_env.setenv("HUB_TOPIC_PREFIX", "t1.")
        settings = load_settings()
        assert settings.clock == "event"
        assert settings.worker_web_port == 7070
        assert settings.topic_prefix == "t1."

    def test_unprefixed_variables_are_ignored(self, clean_env: pytest.MonkeyPatch) -> None:
        """Only HUB_-prefixed variables count: CLOCK alone changes nothing."""
        clean_env.setenv("CLOCK", "event")
        clean_env.setenv("WORKER_WEB_PORT", "3")
        settings = load_settings()
        assert settings.clock == "wall"
        assert settings.worker_web_port == 6066

    def test_dotenv_file_is_read_and_environment_wins(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A .env file in the working directory is read; a real variable overrides it."""
        (tmp_path / ".env").write_text("HUB_CLOCK=event\nHUB_WORKER_WEB_PORT=7\n")
        assert load_settings().clock == "event"
        clean_env.setenv("HUB_WORKER_WEB_PORT", "9")
        assert load_settings().worker_web_port == 9

    def test_keyword_overrides(self) -> None:
        """load_settings(**overrides) takes values from the caller."""
        assert load_settings(clock="event").clock == "event"

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("HUB_CLOCK", "sideways"),
            ("HUB_WORKER_WEB_PORT", "-3"),
            ("HUB_WORKER_WEB_PORT", "fortnight"),
            ("HUB_WORKER_WEB_PORT", "70000"),
            ("HUB_TOPIC_PREFIX", "a/b"),
            ("HUB_INSTITUTION", "oslomet"),
        ],
    )
    def test_bad_value_names_the_variable(
        self, clean_env: pytest.MonkeyPatch, variable: str, value: str
    ) -> None:
        """A bad value raises ConfigurationError naming the environment variable."""
        clean_env.setenv(variable, value)
        with pytest.raises(ConfigurationError) as caught:
            load_settings()
        assert variable in str(caught.value)
        assert isinstance(caught.value, HubError)

    def test_every_bad_variable_is_named(self, clean_env: pytest.MonkeyPatch) -> None:
        """With two bad values, the error names both, so one run fixes them all."""
        clean_env.setenv("HUB_CLOCK", "sideways")
        clean_env.setenv("HUB_WORKER_WEB_PORT", "-3")
        with pytest.raises(ConfigurationError) as caught:
            load_settings()
        assert "HUB_CLOCK" in str(caught.value)
        assert "HUB_WORKER_WEB_PORT" in str(caught.value)

    def test_secret_is_masked_when_printed(self, clean_env: pytest.MonkeyPatch) -> None:
        """The pseudonym secret is usable but never shown by repr() or str()."""
        clean_env.setenv("HUB_PSEUDONYM_SECRET", SECRET_VALUE)
        settings = load_settings()
        assert settings.pseudonym_secret.get_secret_value() == SECRET_VALUE
        assert SECRET_VALUE not in repr(settings)
        assert SECRET_VALUE not in str(settings)
        assert "pseudonym_secret" in repr(settings)
        assert not settings.uses_dev_secret

    def test_settings_are_frozen(self) -> None:
        """Settings cannot be changed after loading."""
        settings = load_settings()
        with pytest.raises(ValidationError, match="frozen"):
            settings.clock = "event"  # type: ignore[misc]
        assert settings.clock == "wall"


SCHEMA_NAMES = {schema.name for schema in SchemaCatalog()}


def write_catalogue(tmp_path: Path, text: str) -> Path:
    """A topics.yaml with ``text`` in a temporary directory."""
    path = tmp_path / "topics.yaml"
    path.write_text(text)
    return path


class TestTopicCatalog:
    def test_declares_every_topic_the_hub_uses(self) -> None:
        """deploy/topics.yaml declares the source, person-event, task and dead-letter topics."""
        names = {spec.logical_name for spec in TopicCatalog()}
        expected = {
            SourceKind.DFO_EMPLOYEE,
            SourceKind.DFO_POSITION,
            SourceKind.IAM_ACCOUNT,
            "hub.person-events",
            "hub.tasks",
            "hub.task-events",
            "hub.deadletter",
        }
        assert expected <= names

    def test_prefix_is_put_before_every_name(self) -> None:
        """With a prefix every cluster name is prefix + logical name."""
        specs = list(TopicCatalog(prefix="t1."))
        assert specs
        for spec in specs:
            assert spec.name == "t1." + spec.logical_name
        assert TopicCatalog(prefix="t1.").name("hub.tasks") == "t1.hub.tasks"

    def test_no_prefix_in_production(self) -> None:
        """Without a prefix the cluster names are the logical names."""
        assert all(spec.name == spec.logical_name for spec in TopicCatalog())

    def test_tasks_topic_is_compacted(self) -> None:
        """hub.tasks keeps the latest state per task, so it is compacted."""
        spec = TopicCatalog()["hub.tasks"]
        assert "compact" in spec.cleanup_policy.split(",")
        assert spec.config()["cleanup.policy"] == spec.cleanup_policy

    def test_audit_log_is_kept_forever(self) -> None:
        """hub.task-events is append-only with infinite retention."""
        spec = TopicCatalog()["hub.task-events"]
        assert spec.cleanup_policy == "delete"
        assert spec.config()["retention.ms"] == "-1"

    def test_every_value_schema_exists(self) -> None:
        """Each value_schema named in topics.yaml is a schema in schemas/avro/."""
        named = [spec.value_schema for spec in TopicCatalog() if spec.value_schema]
        assert named
        missing = [name for name in named if name not in SCHEMA_NAMES]
        assert missing == []

    def test_unknown_topic_is_a_configuration_error(self) -> None:
        """Looking up a topic the catalogue does not declare names it in the error."""
        with pytest.raises(ConfigurationError, match=re.escape("no.such.topic")):
            TopicCatalog().name("no.such.topic")

    def test_defaults_apply_unless_overridden(self, tmp_path: Path) -> None:
        """The defaults section sets partitions; a topic's own value wins."""
        path = write_catalogue(
            tmp_path,
            "defaults:\n  partitions: 3\ntopics:\n  a: {}\n  b:\n    partitions: 8\n",
        )
        catalogue = TopicCatalog(path=path)
        assert catalogue["a"].partitions == 3
        assert catalogue["b"].partitions == 8
        assert catalogue["a"].cleanup_policy == "delete"

    @pytest.mark.parametrize(
        "text",
        [
            "topics: [unclosed\n",
            "topics:\n  a: {partitions: 1\n",
            "- just\n- a list\n",
            "topics: none-here\n",
            "",
        ],
    )
    def test_malformed_file_is_a_configuration_error(self, tmp_path: Path, text: str) -> None:
        """Invalid YAML, or YAML without a topics mapping, raises ConfigurationError."""
        path = write_catalogue(tmp_path, text)
        with pytest.raises(ConfigurationError, match=re.escape(str(path))):
            TopicCatalog(path=path)

    def test_missing_file_is_a_configuration_error(self, tmp_path: Path) -> None:
        """A catalogue file that does not exist raises ConfigurationError naming it."""
        with pytest.raises(ConfigurationError, match="nowhere"):
            TopicCatalog(path=tmp_path / "nowhere.yaml")

    def test_bad_cleanup_policy_is_a_configuration_error(self, tmp_path: Path) -> None:
        """A cleanup_policy Kafka does not know raises, naming the topic and the value."""
        path = write_catalogue(tmp_path, "topics:\n  hub.tasks:\n    cleanup_policy: forever\n")
        with pytest.raises(ConfigurationError) as caught:
            TopicCatalog(path=path)
        assert "hub.tasks" in str(caught.value)
        assert "forever" in str(caught.value)

    @pytest.mark.parametrize(
        "text",
        [
            "topics:\n  a:\n    partitions: four\n",
            "topics:\n  a: compact\n",
            "defaults: [1]\ntopics:\n  a: {}\n",
            "topics:\n  a:\n    retention_ms: seven days\n",
        ],
    )
    def test_semantically_bad_values_are_configuration_errors(
        self, tmp_path: Path, text: str
    ) -> None:
        """Values of the wrong type in topics.yaml raise ConfigurationError, not a crash."""
        path = write_catalogue(tmp_path, text)
        with pytest.raises(ConfigurationError):
            TopicCatalog(path=path)
