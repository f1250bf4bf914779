"""A page-file directory the conformance kit can add to, break and delete from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ExportDirectory"]


@dataclass
class ExportDirectory:
    """Writes page files as the CMS export would (file name = page id)."""

    directory: Path
    settings: Mapping[str, object]
    pages: int = 0

    def write(self, page_id: str, content: bytes) -> None:
        part = self.directory / f".{page_id}.part"
        part.write_bytes(content)
        part.rename(self.directory / f"{page_id}.json")  # the export renames into place

    async def add(self, count: int) -> list[str]:
        keys = []
        for _ in range(count):
            self.pages += 1
            page_id = f"person-{self.pages:04d}"
            page = {
                "id": page_id,
                "username": f"user{self.pages}",
                "employeeNumber": f"{self.pages:08d}",
                "name": f"Person {self.pages}",
                "title": "Rådgiver",
                "unit": {"id": "50001300", "name": "Institutt for informatikk"},
                "visible": True,
                "dataTakenAt": "2026-11-20T08:00:00+00:00",
                "dataSource": "iam",
            }
            self.write(page_id, json.dumps(page, ensure_ascii=False).encode())
            keys.append(page_id)
        return keys

    async def add_malformed(self) -> str:
        self.pages += 1
        page_id = f"person-{self.pages:04d}"
        self.write(page_id, b'{"id": "' + page_id.encode() + b'", "visible": "perhaps"}')
        return page_id

    async def remove_silently(self, key: str) -> None:
        (self.directory / f"{key}.json").unlink()
