"""What the rules ask of the reference table on every evaluation ("is any OrgReg unit
loaded?", "which DFØ units have this cost centre?") is answered from one pass over the
table, kept until the table changes (hub.reference), instead of a scan per evaluation."""

from __future__ import annotations

from typing import Any

from hub.app import _forget_after_changelog
from hub.reference import LiveReference


class CountingTable(dict[bytes, Any]):
    """A table that counts the passes over its keys."""

    passes = 0

    def __iter__(self) -> Any:
        self.passes += 1
        return super().__iter__()


def _unit(unit_id: str, cost_centre: str = "") -> dict[str, Any]:
    record = {"org_unit_id": unit_id, "cost_centre": cost_centre}
    return {"source_topic": "source.dfo.orgunit", "record": record}


def test_many_questions_cost_one_pass_over_the_keys() -> None:
    table = CountingTable({f"dfo:{n}".encode(): _unit(str(n)) for n in range(3000)})
    reference = LiveReference(table).data
    for _ in range(100):
        assert not reference.has_orgreg()
        assert reference.dfo_org_units
    assert table.passes == 1


def test_units_by_cost_centre_cost_one_pass_over_the_units() -> None:
    table = CountingTable({f"dfo:{n}".encode(): _unit(str(n), f"CC{n % 10}") for n in range(3000)})
    reference = LiveReference(table).data
    for _ in range(100):
        units = reference.dfo_units_for_cost_centre("CC3")
        assert len(units) == 300
        assert {u["cost_centre"] for u in units} == {"CC3"}
        assert reference.dfo_units_for_cost_centre("CC99") == ()
    assert table.passes == 1


def test_a_unit_moved_to_another_cost_centre_is_seen_once_forgotten() -> None:
    table = CountingTable({b"dfo:1": _unit("1", "A"), b"dfo:2": _unit("2", "")})
    live = LiveReference(table)
    assert [u["org_unit_id"] for u in live.data.dfo_units_for_cost_centre("A")] == ["1"]
    table[b"dfo:1"] = _unit("1", "B")
    live.forget()
    assert live.data.dfo_units_for_cost_centre("A") == ()
    assert [u["org_unit_id"] for u in live.data.dfo_units_for_cost_centre("B")] == ["1"]


def test_a_change_is_seen_once_forgotten() -> None:
    table = CountingTable({b"dfo:1": _unit("1")})
    live = LiveReference(table)
    assert not live.data.has_orgreg()
    table[b"orgreg:7"] = {"source_topic": "source.orgreg.orgunit", "record": {"ou_id": 7}}
    assert not live.data.has_orgreg(), "kept until the table's owner says it changed"
    live.forget()
    assert live.data.has_orgreg()
    assert live.data.orgreg_units["7"] == {"ou_id": 7}
    del table[b"orgreg:7"]
    live.forget()
    assert not live.data.has_orgreg()
    assert not LiveReference(CountingTable()).data.dfo_org_units


def test_the_table_forgets_after_it_applies_changelog_records() -> None:
    """Another worker's change arrives as changelog records: what is remembered is
    forgotten after they are applied, not before (a question in between would
    remember the old table again)."""
    seen: list[str] = []

    class Table:
        def apply_changelog_batch(self, batch: Any) -> None:
            seen.append(f"applied {batch}")

    table = Table()
    _forget_after_changelog(table, lambda: seen.append("forgot"))
    table.apply_changelog_batch("b1")
    assert seen == ["applied b1", "forgot"]
