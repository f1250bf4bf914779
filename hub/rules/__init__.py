"""The rule catalogue: each mismatch the hub detects, one pure rule per module.

A rule is ``(person view, now, settings) -> findings``: no I/O, no faust. See
:mod:`hub.rules.spec` for what a rule module defines, and ``docs/rules.md`` (made
from the rules themselves) for the catalogue.
"""

from __future__ import annotations

from hub.rules import (
    closed_cost_centre,
    contract_without_pay,
    guest_access,
    guest_registration,
    hourly_access,
    identity_collision,
    identity_disputed,
    joiner_contact,
    leader_approver,
    leaver_access,
    new_hire_access,
    org_unit_unknown,
    paid_guest,
    pay_without_contract,
    position_classification,
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
        org_unit_unknown,
        leader_approver,
        pay_without_contract,
        contract_without_pay,
        closed_cost_centre,
        hourly_access,
        leaver_access,
        position_classification,
        joiner_contact,
    )
)


def rule_by_id(rule_id: str) -> Rule:
    for rule in RULES:
        if rule.rule_id == rule_id:
            return rule
    raise KeyError(rule_id)
