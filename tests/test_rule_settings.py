"""Rule settings per institution: the settings file, lead days that move both the due
date and the moment a task opens, disabled rules and rules in preview."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.clock import start_of_day
from hub.errors import ConfigurationError
from hub.pipeline import Pipeline
from hub.rules import RULES, RuleSettings, rule_by_id
from hub.rules.settings import INSTITUTIONS, load_institution_settings
from hub.topics import TopicCatalog
from tests.factories import dfo_hire_event

NEW_HIRE = "access.new_hire_without_account"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START = date(2026, 4, 13)
RULE_IDS = [r.rule_id for r in RULES]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "institutions.yaml"
    path.write_text(text)
    return path


def pipeline(settings: dict[str, RuleSettings] | RuleSettings) -> Pipeline:
    catalog = SchemaCatalog()
    return Pipeline(
        codec=SingleObjectCodec(catalog),
        catalog=catalog,
        topics=TopicCatalog(),
        secret="s",
        rule_settings=settings,
        clock="event",
        rules=(rule_by_id(NEW_HIRE),),
    )


def open_task(settings: RuleSettings) -> dict[str, Any]:
    """Run a hire and its re-check; return the task that opens."""
    hub = pipeline(settings)
    first = hub.evaluate(None, dfo_hire_event(START, T0))
    assert first.transitions == [], "nothing yet: the start is weeks away"
    assert first.state is not None
    due = first.state["next_check"]
    second = hub.evaluate(first.state, hub.recheck_event(first.state, due))
    (transition,) = second.transitions
    return transition.task


class TestInstitutionsFile:
    def test_the_shipped_file_loads_for_every_institution(self) -> None:
        """deploy/institutions.yaml is valid and gives each institution its own tuning."""
        settings = load_institution_settings(RULE_IDS)
        assert set(settings) == set(INSTITUTIONS)
        assert settings["ntnu"].lead_days(NEW_HIRE, 0) == 21
        assert settings["uio"].lead_days(NEW_HIRE, 0) == 14, "the default applies"
        assert settings["uio"].queue_for("iam") == "USIT::IAM"
        assert settings["uib"].queue_for("iam") == "IAM", "the default queue applies"

    def test_unknown_rule_is_named(self, tmp_path: Path) -> None:
        """A rule id that does not exist stops startup, naming where it stands."""
        path = write(tmp_path, "institutions:\n  uio:\n    rules:\n      access.typo: {}\n")
        with pytest.raises(ConfigurationError, match=r"institutions\.uio\.rules\.access\.typo"):
            load_institution_settings(RULE_IDS, path)

    def test_wrong_type_is_named(self, tmp_path: Path) -> None:
        """A lead time that is not a number names the field and the value."""
        path = write(
            tmp_path,
            f"institutions:\n  uib:\n    rules:\n      {NEW_HIRE}:\n        lead_days: soon\n",
        )
        with pytest.raises(ConfigurationError, match="lead_days") as caught:
            load_institution_settings(RULE_IDS, path)
        assert "soon" in str(caught.value)

    def test_unknown_institution_and_field_are_refused(self, tmp_path: Path) -> None:
        """Only UiB, UiO, UiT and NTNU, and only known fields, are accepted."""
        with pytest.raises(ConfigurationError, match=r"institutions\.hvl"):
            load_institution_settings(RULE_IDS, write(tmp_path, "institutions:\n  hvl: {}\n"))
        with pytest.raises(ConfigurationError, match="colour"):
            load_institution_settings(RULE_IDS, write(tmp_path, "defaults:\n  colour: red\n"))


class TestLeadDays:
    @pytest.mark.parametrize("lead", [14, 21])
    def test_lead_days_move_the_opening_and_the_due_date(self, lead: int) -> None:
        """The task opens at the start less the lead days and is due halfway to the start."""
        task = open_task(RuleSettings.tuned(NEW_HIRE, lead_days=lead))
        assert task["opened_at"] == start_of_day(START - timedelta(days=lead))
        assert task["due_date"] == START - timedelta(days=lead // 2)

    def test_each_institution_uses_its_own_settings(self) -> None:
        """The same hire at NTNU and at UiO gets NTNU's and UiO's lead days."""
        settings = load_institution_settings(RULE_IDS)
        hub = pipeline(settings)
        moments = {
            inst: hub.evaluate(None, dfo_hire_event(START, T0, inst)).state["next_check"]  # type: ignore[index]
            for inst in ("ntnu", "uio")
        }
        assert moments["ntnu"] == start_of_day(START - timedelta(days=21))
        assert moments["uio"] == start_of_day(START - timedelta(days=14))


class TestEnabledAndPreview:
    def test_a_disabled_rule_finds_nothing(self) -> None:
        """With the rule off, no task opens even when the mismatch is there."""
        hub = pipeline(RuleSettings.tuned(NEW_HIRE, enabled=False, lead_days=60))
        result = hub.evaluate(None, dfo_hire_event(START, T0))
        assert result.transitions == []
        assert result.previews == []

    def test_a_rule_in_preview_reports_instead_of_opening_tasks(self) -> None:
        """In preview, the would-be task goes to the preview list and no task opens."""
        hub = pipeline(RuleSettings.tuned(NEW_HIRE, preview=True, lead_days=60))
        result = hub.evaluate(None, dfo_hire_event(START, T0))
        assert result.transitions == []
        (preview,) = result.previews
        assert preview["state"] == "PREVIEW"
        assert preview["rule_id"] == NEW_HIRE
        assert result.state is not None
        assert result.state["tasks"] == []

    async def test_a_preview_encodes_as_a_task_record(self) -> None:
        """The preview record is a valid CorrectionTask (state PREVIEW) on the wire."""
        hub = pipeline(RuleSettings.tuned(NEW_HIRE, preview=True, lead_days=60))
        (preview,) = hub.evaluate(None, dfo_hire_event(START, T0)).previews
        schema = hub.catalog["no.bott.hub.tasks.CorrectionTask"]
        data = await hub.codec.encode("hub.rule-preview", schema, preview)
        assert (await hub.codec.decode(data, schema))["state"] == "PREVIEW"


class TestCatalogue:
    def test_docs_rules_md_is_generated_from_the_rules(self) -> None:
        """docs/rules.md equals what `hub rules docs` would write (run `make docs`)."""
        from hub.rules.catalogue import CATALOGUE_FILE, render_catalogue  # noqa: PLC0415

        assert CATALOGUE_FILE.read_text() == render_catalogue(RULES)

    def test_every_rule_has_an_example_that_fires(self) -> None:
        """Each rule's example produces at least one finding of that rule."""
        for rule in RULES:
            assert rule.example is not None, rule.rule_id
            view, now = rule.example()
            findings = rule.evaluate(view, now, RuleSettings())
            assert findings, rule.rule_id
            assert {f.rule_id for f in findings} == {rule.rule_id}
