"""What an institution may tune about its rules, and the file that says it.

``deploy/institutions.yaml`` holds, for UiB, UiO, UiT and NTNU: which rules are on,
which run in preview (findings go to ``hub.rule-preview``, not to tasks), lead days,
grace periods and other parameters per rule, and the queue each owner group's tasks
go to, and the ticket system (``rt``, ``topdesk`` or ``servicenow``) that receives
them. ``defaults`` apply to every institution under its own settings. A bad file
stops startup with a message naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ConfigurationError

__all__ = [
    "INSTITUTIONS",
    "INSTITUTIONS_FILE",
    "FailsafeSettings",
    "RuleSettings",
    "RuleTuning",
    "TicketSystemName",
    "load_institution_settings",
]

# The order gives each its correlation partition (hub.correlation.partition): append only.
INSTITUTIONS = ("uib", "uio", "uit", "ntnu")
INSTITUTIONS_FILE = Path(__file__).resolve().parents[2] / "deploy" / "institutions.yaml"

T = TypeVar("T", int, float, str, bool)
TicketSystemName = Literal["rt", "topdesk", "servicenow"]


class RuleTuning(BaseModel):
    """One rule's settings at one institution; unset values take the rule's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    preview: bool = Field(
        default=False, description="Findings go to hub.rule-preview instead of opening tasks."
    )
    lead_days: int | None = Field(default=None, ge=0, le=365)
    grace_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 90)
    params: dict[str, int | float | str | bool] = Field(default_factory=dict)


class FailsafeSettings(BaseModel):
    """When a rule's tasks change en masse, hold the changes for an operator."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    share: float = Field(
        default=0.3,
        gt=0,
        le=10,
        description="Opens (or resolves) within the window, as a share of the rule's open tasks.",
    )
    min_changes: int = Field(
        default=20, ge=1, description="Never trip on fewer changes than this (small rules)."
    )
    window_minutes: int = Field(default=60, ge=1, le=60 * 24 * 7)


_UNTUNED = RuleTuning()  # a rule the settings leave alone (frozen, so shared)


class RuleSettings(BaseModel):
    """The rule settings of one institution."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: dict[str, RuleTuning] = Field(default_factory=dict)
    failsafe: FailsafeSettings = Field(default_factory=FailsafeSettings)
    queues: dict[str, str] = Field(
        default_factory=dict, description="Owner group -> the ticket queue its tasks go to."
    )
    ticket_system: TicketSystemName | None = Field(
        default=None,
        description="Where the institution's tasks become tickets (servicenow if unset).",
    )

    @classmethod
    def tuned(cls, rule_id: str, **tuning: Any) -> RuleSettings:
        """Settings that tune one rule (convenient in tests and examples)."""
        return cls(rules={rule_id: RuleTuning(**tuning)})

    def tuning(self, rule_id: str) -> RuleTuning:
        return self.rules.get(rule_id) or _UNTUNED

    def is_enabled(self, rule_id: str) -> bool:
        return self.tuning(rule_id).enabled

    def is_preview(self, rule_id: str) -> bool:
        return self.tuning(rule_id).preview

    def lead_days(self, rule_id: str, default: int) -> int:
        value = self.tuning(rule_id).lead_days
        return default if value is None else value

    def grace(self, rule_id: str, default: timedelta) -> timedelta:
        minutes = self.tuning(rule_id).grace_minutes
        return default if minutes is None else timedelta(minutes=minutes)

    def param(self, rule_id: str, name: str, default: T) -> T:
        value = self.tuning(rule_id).params.get(name, default)
        if not isinstance(value, type(default)):
            raise ConfigurationError(
                f"rule {rule_id}: parameter {name!r} should be {type(default).__name__},"
                f" not {value!r}"
            )
        return value

    def queue_for(self, owner_group: str) -> str | None:
        return self.queues.get(owner_group)


class _InstitutionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: RuleSettings = Field(default_factory=RuleSettings)
    institutions: dict[str, RuleSettings] = Field(default_factory=dict)


def _merge(defaults: RuleSettings, own: RuleSettings) -> RuleSettings:
    rules = dict(defaults.rules)
    for rule_id, tuning in own.rules.items():
        base = rules.get(rule_id, RuleTuning())
        changed = tuning.model_dump(exclude_unset=True)
        params = {**base.params, **changed.pop("params", {})}
        rules[rule_id] = base.model_copy(update={**changed, "params": params})
    failsafe = defaults.failsafe.model_copy(
        update=own.failsafe.model_dump(exclude_unset=True)
        if "failsafe" in own.model_fields_set
        else {}
    )
    return RuleSettings(
        rules=rules,
        queues={**defaults.queues, **own.queues},
        failsafe=failsafe,
        ticket_system=own.ticket_system or defaults.ticket_system or "servicenow",
    )


def load_institution_settings(
    known_rules: Iterable[str], path: Path = INSTITUTIONS_FILE
) -> dict[str, RuleSettings]:
    """Every institution's rule settings; raises ConfigurationError naming the bad field."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read the institution settings {path}: {exc}") from exc
    try:
        parsed = _InstitutionsFile.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        )
        raise ConfigurationError(f"{path}: {problems}") from None
    known = set(known_rules)
    for where, settings in [("defaults", parsed.defaults)] + [
        (f"institutions.{name}", s) for name, s in parsed.institutions.items()
    ]:
        for rule_id in settings.rules:
            if rule_id not in known:
                raise ConfigurationError(
                    f"{path}: {where}.rules.{rule_id}: no such rule; known rules:"
                    f" {', '.join(sorted(known))}"
                )
    for name in parsed.institutions:
        if name not in INSTITUTIONS:
            raise ConfigurationError(
                f"{path}: institutions.{name}: unknown institution; expected one of"
                f" {', '.join(INSTITUTIONS)}"
            )
    return {
        name: _merge(parsed.defaults, parsed.institutions.get(name, RuleSettings()))
        for name in INSTITUTIONS
    }
