"""JSON over HTTP for the ticket system clients: one place where aiohttp's errors and
status codes become the hub's (5xx, 429, timeouts and refused connections are
:class:`TicketSystemUnavailableError`; other 4xx are :class:`TicketRejectedError`).

Credentials go in the session's headers and never into a message or a log line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from hub.privacy import redact_national_ids
from hub.tickets.system import TicketRejectedError, TicketSystemUnavailableError

__all__ = ["JsonHttp", "error_text"]

_MAX_ERROR = 300


def error_text(body: str) -> str:
    """The useful part of an error body: the ``message`` (and ``detail``) that RT,
    TOPdesk and ServiceNow put in their JSON, or the start of the text.

    >>> error_text('{"message": "Could not create ticket. Queue not set"}')
    'Could not create ticket. Queue not set'
    >>> error_text('[{"message": "briefDescription is too long"}]')
    'briefDescription is too long'
    >>> error_text('{"error": {"message": "No Record found", "detail": "ACL"}}')
    'No Record found: ACL'
    """
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return redact_national_ids(body.strip()[:_MAX_ERROR])
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        parsed = parsed[0]
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        parsed = parsed["error"]
    if isinstance(parsed, dict) and parsed.get("message"):
        parts = [str(parsed["message"])] + ([str(parsed["detail"])] if parsed.get("detail") else [])
        return redact_national_ids(": ".join(parts)[:_MAX_ERROR])
    return redact_national_ids(body.strip()[:_MAX_ERROR])


class JsonHttp:
    """A session against one ticket system's base URL."""

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: aiohttp.BasicAuth | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._auth = auth
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers, auth=self._auth, timeout=self._timeout
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        """Send one request; return the status, the parsed JSON body (None when
        empty) and the headers, or raise the hub's error for the answer."""
        what = f"{self.system} {method} {path}"
        try:
            async with self._open().request(
                method, self.base_url + path, params=params, json=body
            ) as response:
                text = await response.text()
                status = response.status
                headers = dict(response.headers)
        except TimeoutError as exc:
            raise TicketSystemUnavailableError(f"{what}: no answer in time") from exc
        except aiohttp.ClientError as exc:
            raise TicketSystemUnavailableError(f"{what}: {type(exc).__name__}: {exc}") from exc
        if status >= 500 or status == 429:
            raise TicketSystemUnavailableError(f"{what}: {status} {error_text(text)}")
        if status >= 400:
            raise TicketRejectedError(f"{what}: {status} {error_text(text)}", status)
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError as exc:
            raise TicketSystemUnavailableError(f"{what}: {status} but not JSON") from exc
        return status, parsed, headers

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
