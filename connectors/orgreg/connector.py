"""The ``orgreg-orgunit`` connector: OrgReg's org units on ``source.orgreg.orgunit``.

OrgReg has no change feed the hub can use, and ``GET /v3/ou`` lists every unit in one
answer. So:

- **incremental**: every ``poll_interval_s`` the connector lists all units and delivers
  those that changed since the last listing (the checkpoint holds a digest per unit,
  :mod:`connectors.orgreg.listing`); the new checkpoint rides on the last item;
- **full reconciliation**: the same listing, every unit, compared with the snapshot by
  the SDK, which turns a unit gone from OrgReg into a tombstone.

Answers: OrgReg marks its own answers with ``X-OrgReg-Response-For``; a 404 without it
comes from the API gateway (a wrong URL or key) and is retried, never a deletion, as
are 5xx, 401/403, 408 and 429. A listing that cannot be read is retried; a unit that
cannot be mapped is a dead letter and the others go on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from functools import partial

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.orgreg.listing import decode_digests, digest, encode_digests
from connectors.orgreg.mapping import map_org_unit, normalise_ou_id, units
from connectors.sdk import http
from connectors.sdk.errors import ConnectorError, SourceUnavailableError
from connectors.sdk.items import Checkpoint, Item, Record, mapped
from hub.errors import HubError, MappingError

__all__ = [
    "LISTING_PATH",
    "RESPONSE_HEADER",
    "OrgRegConnector",
    "OrgRegSettings",
    "classify",
    "unit_key",
]

LISTING_PATH = "v3/ou"
RESPONSE_HEADER = "X-OrgReg-Response-For"  # on every answer from OrgReg itself


class OrgRegSettings(http.HttpSourceSettings):
    """How to reach OrgReg behind its API gateway, from ``HUB_ORGREG_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="HUB_ORGREG_")

    api_key: SecretStr = Field(description="The API gateway's key.")
    api_key_header: str = Field(default="X-Gravitee-Api-Key")
    poll_interval_s: float = Field(
        default=900.0, gt=0, description="How often the units are listed for changes."
    )


def _orgreg_not_found(response: http.Response) -> str | None:
    """OrgReg's own 404 carries its header; the gateway's does not."""
    return "no such unit" if RESPONSE_HEADER in response.headers else None


classify = partial(
    http.classify,
    source="OrgReg",
    not_found=_orgreg_not_found,
    auth_hint=" (check HUB_ORGREG_API_KEY)",
    gateway_hint=" (check HUB_ORGREG_BASE_URL)",
)


def unit_key(unit: object) -> str | None:
    """A listed unit's record key (its ouId), when it has a readable one."""
    try:
        return normalise_ou_id(unit.get("ouId") if isinstance(unit, dict) else None)
    except MappingError:
        return None


class OrgRegConnector(http.HttpConnector[OrgRegSettings]):
    """OrgReg org units (reference data), listed in full."""

    name = "orgreg-orgunit"
    schema = "no.bott.hub.orgreg.OrgUnit"
    topic = "source.orgreg.orgunit"
    settings_model = OrgRegSettings
    answers = classify

    def credentials(self) -> dict[str, str]:
        return {self.settings.api_key_header: self.settings.api_key.get_secret_value()}

    def key(self, record: Record) -> str:
        return str(record.get("ou_id") or "")

    def map_unit(self, payload: object) -> Record:
        return map_org_unit(payload, institution=self.settings.institution, fetched_at=self.now())

    def item(self, unit: object, key: str | None) -> Item:
        raw = json.dumps(unit, ensure_ascii=False).encode()
        return mapped(raw, self.map_unit, origin=f"orgreg:v3/ou/{key or '?'}", key=key)

    async def listing(self) -> list[object]:
        """Every unit OrgReg lists now."""
        payload = await self.session.get_json(LISTING_PATH, what=f"OrgReg {LISTING_PATH}")
        try:
            return units(payload)
        except HubError as exc:
            raise SourceUnavailableError(str(exc)) from exc

    async def changes(self, cursor: str | None) -> AsyncIterator[Item]:
        """The units that differ from the last listing (all of them the first time)."""
        try:
            known = decode_digests(cursor) if cursor is not None else {}
        except MappingError as exc:
            raise ConnectorError(f"{self.name}: the stored checkpoint is unusable: {exc}") from exc
        current: dict[str, str] = {}
        changed: list[Item] = []
        for unit in await self.listing():
            unit_digest = digest(unit)
            key = unit_key(unit)
            remembered = key or f"#{unit_digest}"  # an unreadable unit, once per version
            if current.get(remembered) == unit_digest:
                continue  # listed twice
            current[remembered] = unit_digest
            if known.get(remembered) != unit_digest:
                changed.append(self.item(unit, key))
        checkpoint = encode_digests(current)
        if checkpoint == cursor:
            return
        for item in changed[:-1]:
            yield item
        yield replace(changed[-1], cursor=checkpoint) if changed else Checkpoint(cursor=checkpoint)

    async def list_all(self) -> AsyncIterator[Item]:
        for unit in await self.listing():
            yield self.item(unit, unit_key(unit))
