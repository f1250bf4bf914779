"""The ``profile-files`` connector: a directory of exported page files.

- **incremental**: files changed since the cursor (their modification time, then their
  name), oldest first; the cursor is the last file delivered.
- **full reconciliation**: every file; a page whose file is gone is deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.profile_files.mapping import map_page
from connectors.sdk import Connector, ConnectorSettings, Item, Record, mapped
from connectors.sdk.errors import SourceUnavailableError

__all__ = ["ProfileFilesConnector", "ProfileFilesSettings", "file_cursor"]


class ProfileFilesSettings(ConnectorSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_PROFILE_FILES_")

    directory: Path = Field(description="Where the CMS writes its page files (*.json).")
    poll_interval_s: float = Field(default=300.0, gt=0)


def file_cursor(modified_ns: int, name: str) -> str:
    """A file's place in the order of changes, as text that sorts the same way."""
    return f"{modified_ns:020d}|{name}"


class ProfileFilesConnector(Connector[ProfileFilesSettings]):
    """Published person pages from a CMS export directory."""

    name = "profile-files"
    schema = "no.bott.hub.web.Profile"
    topic = "source.web.profile"
    settings_model = ProfileFilesSettings

    def key(self, record: Record) -> str:
        return str(record["profile_id"])

    def _files(self) -> list[tuple[str, Path, int]]:
        """(cursor, path, mtime in ns) of every page file, in the order they changed."""
        try:
            found = [
                (path, path.stat().st_mtime_ns) for path in self.settings.directory.glob("*.json")
            ]
        except OSError as exc:
            raise SourceUnavailableError(f"cannot read {self.settings.directory}: {exc}") from exc
        return sorted((file_cursor(ns, path.name), path, ns) for path, ns in found)

    def _item(self, path: Path, modified_ns: int, cursor: str | None) -> Item:
        modified = datetime.fromtimestamp(modified_ns / 1e9, tz=UTC)
        origin = f"file:{path.name}"
        mapper = partial(
            map_page, institution=self.settings.institution, modified_at=modified, origin=origin
        )
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SourceUnavailableError(f"cannot read {path}: {exc}") from exc
        return mapped(raw, mapper, origin=origin, key=path.stem, cursor=cursor)

    async def changes(self, cursor: str | None) -> AsyncIterator[Item]:
        files = await asyncio.to_thread(self._files)
        for position, path, modified_ns in files:
            if cursor is None or position > cursor:
                yield self._item(path, modified_ns, position)

    async def list_all(self) -> AsyncIterator[Item]:
        for _, path, modified_ns in await asyncio.to_thread(self._files):
            yield self._item(path, modified_ns, None)
