"""The Unit4 ERP connectors: resources and approver roles from the ObjectAPI.

- ``unit4-resource`` (``source.unit4.resource``) reads ``/v1/objects/resources``;
- ``unit4-approver-role`` (``source.unit4.approver-role``) reads
  ``/v1/objects/approver-roles``.

**Incremental**: Unit4 pushes nothing, so each polls on ``lastUpdated/updatedAt`` with a
keyset cursor (:mod:`connectors.unit4.polling`), paging ``page_size`` documents at a
time. Each cycle starts ``overlap_s`` before the cursor, so a change committed late with
an earlier stamp is still read; what was delivered in that overlap is not delivered
again (:mod:`connectors.unit4.checkpoint`). Every document's item carries the checkpoint
after it.

**Full reconciliation**: every document, paged the same way from the start; the SDK
turns a document no longer listed into a tombstone (Unit4 deletions are invisible to
the cursor).

Answers: the ObjectAPI only lists, so a 404 is never "no such document": it is a wrong
base URL or a gateway, retried. 5xx, 401/403, 408 and 429 are retried too; a page that
cannot be read (not a JSON list, out of order) is a fault of the answer and retried; a
document that cannot be mapped is a dead letter and the poll goes on.
"""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from functools import partial
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.sdk import http
from connectors.sdk.errors import ConnectorError, SourceUnavailableError
from connectors.sdk.items import Failed, Item, Record, mapped
from connectors.source_json import InvalidValueError, code
from connectors.unit4.checkpoint import PollState, decode_state, encode_state
from connectors.unit4.mapping import (
    InstallationCodes,
    documents,
    map_approver_role,
    map_resource,
    normalise_resource_id,
)
from connectors.unit4.polling import (
    APPROVER_ROLES,
    RESOURCES,
    Endpoint,
    PollCursor,
    is_last_page,
    poll_query,
    position,
)
from hub.errors import HubError, MappingError

__all__ = [
    "Unit4ApproverRoleConnector",
    "Unit4Connector",
    "Unit4ResourceConnector",
    "Unit4Settings",
    "classify",
]


class Unit4Settings(http.HttpSourceSettings):
    """How to reach Unit4's ObjectAPI, from ``HUB_UNIT4_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="HUB_UNIT4_")

    token: SecretStr = Field(description="The bearer token (OAuth 2 client credentials).")
    company_id: str = Field(min_length=1, description="The Unit4 company (client) to read.")
    page_size: int = Field(default=500, ge=1, le=10_000, description="Documents per request.")
    overlap_s: float = Field(
        default=120.0,
        ge=0,
        description=(
            "How far before the cursor each poll cycle reads again, for changes committed"
            " late with an earlier stamp (0: strictly after the cursor)."
        ),
    )
    poll_interval_s: float = Field(default=300.0, gt=0)
    cost_centre_attribute: str = Field(default="C1", description="Relation id of cost centres.")
    org_unit_attribute: str = Field(default="ORGID", description="Relation id of org units.")
    work_contact_point: str = Field(default="1", description="Contact-point type of work.")


def _no_such_document(_response: http.Response) -> str | None:
    """The ObjectAPI only lists: a 404 never says a document is gone."""
    return None


classify = partial(
    http.classify,
    source="Unit4",
    not_found=_no_such_document,
    auth_hint=" (check HUB_UNIT4_TOKEN)",
    gateway_hint=" (check HUB_UNIT4_BASE_URL)",
)


class Unit4Connector(http.HttpConnector[Unit4Settings]):
    """What the two Unit4 connectors share: the session, the pages and the cursor."""

    settings_model = Unit4Settings
    answers = classify
    endpoint: ClassVar[Endpoint]
    key_field: ClassVar[str]

    def __init__(self, settings: Unit4Settings) -> None:
        super().__init__(settings)
        self.overlap = timedelta(seconds=settings.overlap_s)

    def credentials(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.token.get_secret_value()}"}

    def key(self, record: Record) -> str:
        return str(record.get(self.key_field) or "")

    # -- mapping (pure) -------------------------------------------------------------

    @abc.abstractmethod
    def map_document(self, payload: object) -> Record:
        """Map one document of this connector's endpoint, as fetched now."""

    @abc.abstractmethod
    def document_key(self, document: object) -> str | None:
        """The record key a document will have, when it can be read."""

    def item(self, document: object, cursor: str | None = None) -> Item:
        """A document as an item: its record, or a dead letter with the reason."""
        key = self.document_key(document)
        return mapped(
            json.dumps(document, ensure_ascii=False).encode(),
            self.map_document,
            origin=f"unit4:{self.endpoint.documents}/{key or '?'}",
            key=key,
            cursor=cursor,
        )

    # -- pages --------------------------------------------------------------------------

    async def page(self, after: PollCursor) -> list[object]:
        """One page of documents after ``after`` in poll order."""
        query = poll_query(
            after,
            self.endpoint,
            company_id=self.settings.company_id,
            limit=self.settings.page_size,
        )
        what = f"Unit4 {self.endpoint.path}"
        payload = await self.session.get_json(self.endpoint.path, what=what, params=query)
        try:
            return documents(payload, "page")
        except HubError as exc:
            raise SourceUnavailableError(f"{what}: {exc}") from exc

    async def documents(
        self, start: PollCursor
    ) -> AsyncIterator[tuple[object, tuple[datetime, str] | None]]:
        """Every document from ``start`` on in poll order, with its position (None when
        it has no ``updatedAt`` or key to place it by)."""
        after = start
        while True:
            page = await self.page(after)
            moved = False
            for document in page:
                try:
                    found = position(document, self.endpoint)
                except MappingError:
                    yield document, None
                    continue
                if after.updated_at is not None and found < (after.updated_at, after.key or ""):
                    raise SourceUnavailableError(
                        f"Unit4 {self.endpoint.path} answered out of the order asked for"
                    )
                after, moved = PollCursor(*found), True
                yield document, found
            if is_last_page(page, self.settings.page_size):
                return
            if not moved:
                raise SourceUnavailableError(
                    f"Unit4 {self.endpoint.path}: a full page without updatedAt or keys to page on"
                )

    # -- incremental and full ---------------------------------------------------------

    async def changes(self, cursor: str | None) -> AsyncIterator[Item]:
        """Documents changed since the checkpoint (and late ones within the overlap)."""
        try:
            state = decode_state(cursor) if cursor is not None else PollState()
        except MappingError as exc:
            raise ConnectorError(f"{self.name}: the stored checkpoint is unusable: {exc}") from exc
        async for document, found in self.documents(state.start(self.overlap)):
            if found is None:
                error = MappingError(
                    f"Unit4 {self.endpoint.documents}: a document without updatedAt or"
                    f" {self.endpoint.key} cannot be placed in the poll order"
                )
                raw = json.dumps(document, ensure_ascii=False).encode()
                origin = f"unit4:{self.endpoint.documents}"
                yield Failed(raw=raw, error=error, origin=origin, key=self.document_key(document))
            elif not state.delivered(found):
                state = state.after(found, self.overlap)
                yield self.item(document, encode_state(state))

    async def list_all(self) -> AsyncIterator[Item]:
        async for document, _ in self.documents(PollCursor()):
            yield self.item(document)


def _field(document: object, name: str) -> object:
    return document.get(name) if isinstance(document, dict) else None


class Unit4ResourceConnector(Unit4Connector):
    """Unit4 resources on ``source.unit4.resource``, keyed by resource id."""

    name = "unit4-resource"
    schema = "no.bott.hub.unit4.Resource"
    topic = "source.unit4.resource"
    endpoint = RESOURCES
    key_field = "resource_id"

    def map_document(self, payload: object) -> Record:
        codes = InstallationCodes(
            cost_centre_attribute=self.settings.cost_centre_attribute,
            org_unit_attribute=self.settings.org_unit_attribute,
            work_contact_point=self.settings.work_contact_point,
        )
        return map_resource(
            payload,
            institution=self.settings.institution,
            fetched_at=self.now(),
            codes=codes,
        )

    def document_key(self, document: object) -> str | None:
        try:
            return normalise_resource_id(_field(document, "resourceId"))
        except MappingError:
            return None


class Unit4ApproverRoleConnector(Unit4Connector):
    """Unit4 approver-role assignments on ``source.unit4.approver-role``."""

    name = "unit4-approver-role"
    schema = "no.bott.hub.unit4.ApproverRole"
    topic = "source.unit4.approver-role"
    endpoint = APPROVER_ROLES
    key_field = "assignment_id"

    def map_document(self, payload: object) -> Record:
        return map_approver_role(
            payload, institution=self.settings.institution, fetched_at=self.now()
        )

    def document_key(self, document: object) -> str | None:
        try:
            return code(_field(document, "assignmentId"))
        except InvalidValueError:
            return None
