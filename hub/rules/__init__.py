"""The rule catalogue: each mismatch the hub detects, one pure rule per module.

A rule is ``(person view, now, settings) -> findings``: no I/O, no faust. Each rule
also says what evidence it looks at, so a resolved task can record what showed
the fix, and when it next needs to look at the person (``next_check``): the moment
a future date (a start date less the lead days, say) makes a finding appear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.findings import Evidence, Finding
from hub.person_view import PersonView
from hub.rules import identity_disputed, new_hire_access
from hub.rules.settings import RuleSettings

__all__ = ["RULES", "Rule", "RuleSettings"]


@dataclass(frozen=True)
class Rule:
    """A rule's id, its check, and the evidence it looks at."""

    rule_id: str
    evaluate: Callable[[PersonView, datetime, RuleSettings], Sequence[Finding]]
    evidence: Callable[[PersonView], Sequence[Evidence]]
    next_check: Callable[[PersonView, datetime, RuleSettings], datetime | None]


RULES: tuple[Rule, ...] = (
    Rule(
        new_hire_access.RULE_ID,
        new_hire_access.evaluate,
        new_hire_access.evidence,
        new_hire_access.next_check,
    ),
    Rule(
        identity_disputed.RULE_ID,
        identity_disputed.evaluate,
        identity_disputed.evidence,
        identity_disputed.next_check,
    ),
)
