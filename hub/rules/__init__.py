"""The rule catalogue: each mismatch the hub detects, one pure rule per module.

A rule is ``(person view, now, settings) -> findings``: no I/O, no faust. See
:mod:`hub.rules.spec` for what a rule module defines, and ``docs/rules.md`` (made
from the rules themselves) for the catalogue.
"""

from __future__ import annotations

from hub.rules import (
    guest_access,
    guest_registration,
    identity_collision,
    identity_disputed,
    new_hire_access,
    paid_guest,
    username_writeback,
    web_profile_stale,
    web_visibility,
)
from hub.rules.settings import RuleSettings, RuleTuning
from hub.rules.spec import Rule, RuleSpec

__all__ = ["RULES", "Rule", "RuleSettings", "RuleSpec", "RuleTuning", "rule_by_id"]

RULES: tuple[Rule, ...] = tuple(
    Rule.from_module(module)
    for module in (
        new_hire_access,
        identity_disputed,
        identity_collision,
        username_writeback,
        web_profile_stale,
        web_visibility,
        guest_access,
        guest_registration,
        paid_guest,
    )
)


def rule_by_id(rule_id: str) -> Rule:
    for rule in RULES:
        if rule.rule_id == rule_id:
            return rule
    raise KeyError(rule_id)
