"""A client for the Confluent Schema Registry API (served by Apicurio under /apis/ccompat/v7)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import aiohttp

from hub.errors import RegistryError, SchemaCompatibilityError

__all__ = ["RegistryClient", "RegistryUnavailableError", "UnknownSchemaIdError"]

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class UnknownSchemaIdError(RegistryError):
    """The registry has no schema with this id."""


class RegistryUnavailableError(RegistryError):
    """The registry cannot be reached or fails (5xx): try again later."""


class RegistryClient:
    """Registers and fetches schemas; retries connection errors and 5xx with backoff."""

    def __init__(self, base_url: str, *, attempts: int = 4, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        url = f"{self.base_url}{path}"
        data = None if body is None else json.dumps(body)
        last: Exception | None = None
        for attempt in range(self.attempts):
            try:
                async with self._session.request(
                    method, url, data=data, headers={"Content-Type": _CONTENT_TYPE}
                ) as response:
                    text = await response.text()
                    if response.status >= 500:
                        last = RegistryError(f"{method} {url} answered {response.status}: {text}")
                    else:
                        return response.status, json.loads(text) if text else None
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                last = exc
            await asyncio.sleep(0.2 * 2**attempt)
        raise RegistryUnavailableError(
            f"cannot reach the schema registry at {self.base_url} ({last});"
            " check HUB_SCHEMA_REGISTRY_URL, or run 'hub registry status'"
        )

    async def register(self, subject: str, schema_text: str) -> int:
        """Register (or find) ``schema_text`` under ``subject``; return its id."""
        status, body = await self._request(
            "POST", f"/subjects/{quote(subject, safe='')}/versions", {"schema": schema_text}
        )
        if status == 409:
            raise SchemaCompatibilityError(
                f"the registry refused a new version of {subject}: it is not compatible with"
                f" the versions before ({(body or {}).get('message', '')})"
            )
        if status != 200 or not isinstance(body, dict) or "id" not in body:
            raise RegistryError(f"registering {subject} failed: HTTP {status} {body}")
        return int(body["id"])

    async def schema_text(self, schema_id: int) -> str:
        """The schema registered under ``schema_id``."""
        status, body = await self._request("GET", f"/schemas/ids/{schema_id}")
        if status == 404:
            raise UnknownSchemaIdError(f"schema id {schema_id} is not in the registry")
        if status != 200 or not isinstance(body, dict) or "schema" not in body:
            raise RegistryError(f"fetching schema id {schema_id} failed: HTTP {status} {body}")
        return str(body["schema"])

    async def is_compatible(self, subject: str, schema_text: str) -> bool:
        """Would the registry accept ``schema_text`` as the next version of ``subject``?"""
        status, body = await self._request(
            "POST",
            f"/compatibility/subjects/{quote(subject, safe='')}/versions/latest",
            {"schema": schema_text},
        )
        if status == 404:  # no such subject yet: anything goes
            return True
        if status != 200 or not isinstance(body, dict):
            raise RegistryError(f"compatibility check for {subject} failed: HTTP {status} {body}")
        return bool(body.get("is_compatible"))

    async def subjects(self) -> list[str]:
        status, body = await self._request("GET", "/subjects")
        if status != 200 or not isinstance(body, list):
            raise RegistryError(f"listing subjects failed: HTTP {status} {body}")
        return [str(s) for s in body]
