"""Every connector in the catalogue passes the conformance kit: each has a test class
that subclasses ConnectorConformance and names it."""

from __future__ import annotations

import ast
from pathlib import Path

from connectors.catalog import CONNECTORS

TESTS = Path(__file__).resolve().parent


def _kit_classes() -> set[str]:
    """The connector classes named by ``connector_class = …`` in the tests' classes."""
    named: set[str] = set()
    for path in TESTS.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else []
            named_here = any(isinstance(t, ast.Name) and t.id == "connector_class" for t in targets)
            if named_here and isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
                named.add(node.value.id)
    return named


def test_every_catalogued_connector_has_a_conformance_test() -> None:
    tested = _kit_classes()
    missing = sorted(n for n, t in CONNECTORS.items() if t.rpartition(":")[2] not in tested)
    assert not missing, f"no conformance test for {missing}"
