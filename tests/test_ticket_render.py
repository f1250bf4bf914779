"""Tasks as people read them in tickets: who, what, which systems, what to do, by
when, on what evidence; never a national ID; and the example in docs/tasks.md."""

from __future__ import annotations

import re
from pathlib import Path

from hub.tickets import render
from tests.ticket_support import example_task, resolved, suppressed

DOC = Path(__file__).resolve().parents[1] / "docs" / "tasks.md"
EXAMPLE = re.compile(
    r"<!-- rendered-example -->\n```text\n(.*?)\n```\n<!-- /rendered-example -->", re.S
)


class TestTicketText:
    def test_the_ticket_says_who_what_where_what_to_do_by_when_and_why(self) -> None:
        """Every part a person needs to act is in the body."""
        task = example_task()
        text = render.ticket_text(task)
        assert text.subject == f"[P1] {task['title_en']}"
        for part in (
            "Kari Nordmann (hub person key p-kari)",  # who
            task["description_en"],  # what is wrong
            "Systems:     DFØ SAP HR, IAM",  # in which systems
            f"What to do:  {task['suggested_fix_en']}",  # what to do
            "Due:         2026-11-24",  # by when
            "- DFØ SAP HR, start_date: 2026-11-29 (as of 2026-11-22 12:00 UTC)",  # evidence
            "- IAM, accounts: none",
            task["task_id"],
        ):
            assert part in text.body, part

    def test_the_example_in_the_docs_is_what_the_renderer_writes(self) -> None:
        """docs/tasks.md shows the RT ticket of the new-hire example, as rendered now."""
        found = EXAMPLE.search(DOC.read_text())
        assert found is not None, "docs/tasks.md lost its rendered example"
        text = render.ticket_text(example_task())
        assert found.group(1) == f"Subject: {text.subject}\n\n{text.body}"

    def test_national_ids_never_reach_a_ticket(self) -> None:
        """An eleven-digit number that slipped into a task is redacted in every text."""
        task = example_task()
        leaked = {
            "system": "dfo_sap",
            "field": "note",
            "value": "fnr 15059912345",
            "source_timestamp": None,
        }
        task = {**task, "evidence": [*task["evidence"], leaked], "title_en": "x 15059912345"}
        texts = [
            render.ticket_text(task).subject,
            render.ticket_text(task).body,
            render.updated_comment(task),
            render.readback_comment(task),
            render.resolved_comment({**resolved(task), "resolution_evidence": [leaked]}),
        ]
        for text in texts:
            assert "15059912345" not in text
            assert "[redacted-nin]" in text

    def test_an_escalated_task_says_it_is_overdue(self) -> None:
        """The due line and the update comment say the task is past its due date."""
        task = {**example_task(), "escalated": True, "revision": 2}
        assert "2026-11-24 (overdue, escalated)" in render.ticket_text(task).body
        assert render.updated_comment(task).startswith("Past its due date (2026-11-24)")

    def test_the_exception_comment_names_reason_who_and_expiry(self) -> None:
        """Reason, who accepted it and when it expires are in the comment."""
        text = render.exception_comment(suppressed(example_task()))
        assert "Reason:      Account ordered by hand" in text
        assert "Accepted by: kari.hr on 2026-11-23 09:00 UTC" in text
        assert "Expires:     when withdrawn" in text
