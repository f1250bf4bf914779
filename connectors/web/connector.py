"""The ``web-profile`` connector: published person pages on ``source.web.profile``.

**Incremental**: the profile export's change listing (``GET /api/profiles/changes``,
:mod:`connectors.web.polling`) says which pages changed or were deleted after the last
change read; the connector fetches each changed page (``GET /api/profiles{uri}``) and
publishes a tombstone for each deleted one. A page listed more than once in one answer
is handled once, at its latest change. Each item carries its change's sequence as the
checkpoint, so a restart resumes after the last change delivered.

**Full reconciliation**: every page (``GET /api/profiles``, offset paging). A listing
whose total changes while it is read is read again (offsets moved), so a page is never
taken for deleted because the listing shifted under it.

Answers: a 404 with the export's own error body (``{"status": 404, "error", "message"}``)
means the page is gone (a tombstone); any other 404 is a gateway or a wrong base URL and
is retried, never a deletion, as are 5xx, 401/403, 408 and 429. A change listing that
cannot be read is retried (the cursor stays); a page that cannot be mapped is a dead
letter and the rest goes on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.sdk import http
from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.items import Delete, Failed, Item, Record, mapped
from connectors.source_json import InvalidValueError
from connectors.web.mapping import map_profile, page_uri, profiles
from connectors.web.polling import (
    CHANGES_PATH,
    PROFILES_PATH,
    ChangePage,
    ProfileChange,
    changes_query,
    parse_changes,
)
from hub.errors import HubError, MappingError

__all__ = ["WebProfileConnector", "WebProfileSettings", "classify", "export_not_found", "latest"]


class WebProfileSettings(http.HttpSourceSettings):
    """How to reach the person-page export, from ``HUB_WEB_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="HUB_WEB_")

    token: SecretStr = Field(description="The export's bearer token.")
    page_size: int = Field(
        default=500, ge=1, le=10_000, description="Changes, or pages listed, per request."
    )
    poll_interval_s: float = Field(default=300.0, gt=0)


def export_not_found(response: http.Response) -> str | None:
    """The export's own "no page here" (``{"status": 404, "error", "message"}``), or None
    for any other 404 (a gateway's)."""
    try:
        body = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or body.get("status") != 404:
        return None
    error, message = body.get("error"), body.get("message")
    if not isinstance(error, str) or not isinstance(message, str):
        return None
    return error


classify = partial(
    http.classify,
    source="the web profile export",
    not_found=export_not_found,
    auth_hint=" (check HUB_WEB_TOKEN)",
    gateway_hint=" (check HUB_WEB_BASE_URL)",
)


def latest(page: ChangePage) -> list[ProfileChange]:
    """The changes of one answer, each page once at its latest change, in order."""
    last = {change.uri: change for change in page.changes}
    return sorted(last.values(), key=lambda change: change.sequence)


def _listed_uri(document: object) -> str | None:
    try:
        return page_uri(document.get("uri") if isinstance(document, dict) else None)
    except InvalidValueError:
        return None


class WebProfileConnector(http.HttpConnector[WebProfileSettings]):
    """Published person pages from the web system's profile export."""

    name = "web-profile"
    schema = "no.bott.hub.web.Profile"
    topic = "source.web.profile"
    settings_model = WebProfileSettings
    answers = classify

    def credentials(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.token.get_secret_value()}"}

    def key(self, record: Record) -> str:
        return str(record.get("profile_id") or "")

    def map_page(self, payload: object) -> Record:
        return map_profile(payload, institution=self.settings.institution, fetched_at=self.now())

    # -- incremental: the change listing ------------------------------------------------

    async def changes(self, cursor: str | None) -> AsyncIterator[Item]:
        since = cursor
        while True:
            query = changes_query(since, limit=self.settings.page_size)
            answer = await self.session.get(CHANGES_PATH, params=query)
            if not isinstance(answer, http.Found):
                raise SourceUnavailableError(f"web profile changes: the export answered {answer}")
            try:
                page = parse_changes(answer.body, since=since)
            except MappingError as exc:
                raise SourceUnavailableError(str(exc)) from exc
            for change in latest(page):
                yield await self.on_change(change)
            if not page.more:
                return
            since = page.next_since

    async def on_change(self, change: ProfileChange) -> Item:
        """What one change becomes: the page's record, a deletion or a dead letter."""
        cursor, uri = str(change.sequence), change.uri
        gone = Delete(key=uri, institution=self.settings.institution, source_id=uri, cursor=cursor)
        if change.deleted:
            return gone
        answer = await self.session.get(change.fetch_path)
        if isinstance(answer, http.NotFound):
            return gone
        origin = f"web:{uri}"
        if isinstance(answer, http.Refused):
            error = MappingError(f"the web profile export refused GET {uri}: {answer.status}")
            return Failed(
                raw=answer.detail.encode(), error=error, origin=origin, key=uri, cursor=cursor
            )
        return mapped(answer.body, self.map_page, origin=origin, key=uri, cursor=cursor)

    # -- full reconciliation --------------------------------------------------------------

    async def list_all(self) -> AsyncIterator[Item]:
        """Every page, offset by offset; a total that changes meanwhile is a fault."""
        offset, expected = 0, None
        while expected is None or offset < expected:
            query = {"limit": str(self.settings.page_size), "offset": str(offset)}
            payload = await self.session.get_json(
                PROFILES_PATH, what="web profile listing", params=query
            )
            try:
                documents, total = profiles(payload)
            except HubError as exc:
                raise SourceUnavailableError(str(exc)) from exc
            if expected is not None and total != expected:
                raise SourceUnavailableError(
                    f"the web profile listing changed while it was read ({expected} → {total}"
                    " pages): read again"
                )
            if not documents and offset < total:
                raise SourceUnavailableError("the web profile listing ended before its total")
            expected = total
            offset += len(documents)
            for document in documents:
                raw = json.dumps(document, ensure_ascii=False).encode()
                uri = _listed_uri(document)
                yield mapped(raw, self.map_page, origin=f"web:{uri or '?'}", key=uri)
