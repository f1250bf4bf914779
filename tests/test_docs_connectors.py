"""docs/connectors.md shows real code: each block that names a file still matches it."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "connectors.md"
BLOCK = re.compile(r"```python\n# (\S+)\n(.*?)```", re.DOTALL)


def _blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(DOC.read_text())


def test_the_walkthrough_shows_code_from_the_repository() -> None:
    """The walk-through has blocks for the mapping, the connector, the catalogue and the
    kit's test class."""
    files = {name for name, _ in _blocks()}
    assert {
        "connectors/profile_files/mapping.py",
        "connectors/profile_files/connector.py",
        "connectors/catalog.py",
        "tests/test_profile_files.py",
    } <= files


@pytest.mark.parametrize(("path", "code"), _blocks(), ids=[name for name, _ in _blocks()])
def test_block_matches_its_file(path: str, code: str) -> None:
    """A block naming a file appears in that file, line for line."""
    source = (ROOT / path).read_text()
    assert code in source or textwrap.dedent(code) in textwrap.dedent(source), (
        f"docs/connectors.md shows code that is no longer in {path}:\n{code}"
    )
