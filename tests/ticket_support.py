"""Builders for ticket tests: a real task made from a rule's example, and variations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hub.rules import RULES
from hub.rules import new_hire_access as rule
from hub.rules.settings import RuleSettings, load_institution_settings
from hub.tasks.lifecycle import reconcile

Record = dict[str, Any]


def institution_settings(institution: str = "uio") -> RuleSettings:
    """An institution's settings from deploy/institutions.yaml."""
    return load_institution_settings(r.rule_id for r in RULES)[institution]


def example_task(institution: str = "uio") -> Record:
    """The task access.new_hire_without_account opens for its example (Kari Nordmann)."""
    view, now = rule.example()
    settings = institution_settings(institution)
    findings = rule.evaluate(view, now, settings)
    (opened,) = reconcile(
        institution=institution,
        person_key=view.person_key,
        tasks={},
        findings=findings,
        evaluated_rules={rule.RULE_ID: []},
        now=now,
        queue_for=settings.queue_for,
    )
    return opened.task


def resolved(task: Record) -> Record:
    """The task resolved by an ACTIVE account."""
    moment = task["updated_at"] + timedelta(days=1)
    return {
        **task,
        "state": "RESOLVED",
        "revision": task["revision"] + 1,
        "resolved_at": moment,
        "updated_at": moment,
        "resolution_evidence": [
            {
                "system": "cerebrum",
                "field": "account acc-9 status",
                "value": "karin: ACTIVE",
                "source_timestamp": moment,
            }
        ],
    }


def reopened(task: Record) -> Record:
    """A resolved task whose finding came back."""
    return {
        **task,
        "state": "OPEN",
        "revision": task["revision"] + 1,
        "resolved_at": None,
        "resolution_evidence": [],
    }


def suppressed(task: Record, expires: datetime | None = None) -> Record:
    """The task under an accepted exception."""
    return {
        **task,
        "state": "SUPPRESSED",
        "revision": task["revision"] + 1,
        "exception": {
            "task_id": task["task_id"],
            "reason": "Account ordered by hand",
            "accepted_by": "kari.hr",
            "accepted_at": datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
            "expires_at": expires,
        },
    }


def unsuppressed(task: Record) -> Record:
    """The exception withdrawn, the problem still there."""
    return {**task, "state": "OPEN", "revision": task["revision"] + 1, "exception": None}
