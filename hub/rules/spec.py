"""A rule's own description (:class:`RuleSpec`) and its place in the catalogue (:class:`Rule`).

Every rule module in ``hub/rules/`` defines:

- ``SPEC``: a :class:`RuleSpec` (id, titles, why it matters, systems, severity,
  owner, how the deadline is derived, default lead days and grace);
- ``evaluate(view, now, settings) -> findings``: pure, no I/O, no faust;
- ``evidence(view) -> evidence``: what the rule looks at (a resolved task records it);
- ``next_check(view, now, settings) -> datetime | None``: when a future date will
  make the rule's answer change;
- ``example() -> (view, now)``: a case where the rule fires, for the catalogue page.

``docs/rules.md`` is generated from these (``hub rules docs``), and CI fails when it
is out of date.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import ModuleType

from hub.findings import Evidence, Finding, Severity
from hub.person_view import PersonView
from hub.rules.settings import RuleSettings

__all__ = ["Rule", "RuleSpec"]


@dataclass(frozen=True)
class RuleSpec:
    """What a rule is, for people: the catalogue page is made from this."""

    rule_id: str
    title_en: str
    title_nb: str
    why: str
    systems: tuple[str, ...]
    severity: Severity
    owner_group: str
    deadline: str
    default_lead_days: int = 0
    default_grace: timedelta = timedelta(0)

    def lead_days(self, settings: RuleSettings) -> int:
        return settings.lead_days(self.rule_id, self.default_lead_days)

    def grace(self, settings: RuleSettings) -> timedelta:
        return settings.grace(self.rule_id, self.default_grace)

    def subject(self, view: PersonView, detail: str = "") -> str:
        """The subject of a finding of this rule about the person (see ``finding``)."""
        return f"{view.person_key}/{detail}" if detail else view.person_key

    def has_open_task(self, view: PersonView, detail: str = "") -> bool:
        """Whether the person already has an open task of this rule for this subject.

        A grace period then no longer holds the finding back, so a newer version of
        a source record (which restarts the clock) does not resolve and reopen it.
        """
        subject = self.subject(view, detail)
        return any(
            task.get("rule_id") == self.rule_id
            and task.get("subject") == subject
            and task.get("state") == "OPEN"
            for task in view.tasks.values()
        )

    def finding(
        self,
        view: PersonView,
        *,
        due_date: date | None,
        title_nb: str,
        title_en: str,
        description_nb: str,
        description_en: str,
        suggested_fix_nb: str,
        suggested_fix_en: str,
        evidence: Sequence[Evidence],
        detail: str = "",
    ) -> Finding:
        """A finding of this rule about ``view``'s person (``detail`` tells several
        findings of one rule about one person apart, e.g. ``position:30012345``)."""
        return Finding(
            rule_id=self.rule_id,
            subject=self.subject(view, detail),
            severity=self.severity,
            owner_group=self.owner_group,
            due_date=due_date,
            display_name=view.display_name,
            title_nb=title_nb,
            title_en=title_en,
            description_nb=description_nb,
            description_en=description_en,
            suggested_fix_nb=suggested_fix_nb,
            suggested_fix_en=suggested_fix_en,
            evidence=tuple(evidence),
        )


@dataclass(frozen=True)
class Rule:
    """A rule as the pipeline runs it."""

    spec: RuleSpec
    evaluate: Callable[[PersonView, datetime, RuleSettings], Sequence[Finding]]
    evidence: Callable[[PersonView], Sequence[Evidence]]
    next_check: Callable[[PersonView, datetime, RuleSettings], datetime | None]
    example: Callable[[], tuple[PersonView, datetime]] | None = None

    @property
    def rule_id(self) -> str:
        return self.spec.rule_id

    @classmethod
    def from_module(cls, module: ModuleType) -> Rule:
        """The rule a module in hub/rules/ defines (see the module docstring)."""
        return cls(
            spec=module.SPEC,
            evaluate=module.evaluate,
            evidence=module.evidence,
            next_check=module.next_check,
            example=getattr(module, "example", None),
        )
