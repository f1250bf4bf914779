"""DFØ SAP's REST API: one GET, and what its answer means.

:func:`classify` is pure. DFØ answers 404 for two different things, and they must not
be confused:

- the object does not exist (any more): a JSON body ``{"standard": {"faultText":
  "IKKE ANSATT …"}}`` (or ``"UBESATT STILLING …"``) → :class:`NotFound`, which the
  connectors turn into a deletion;
- the API gateway does not know the API (a wrong base URL, an API not subscribed to):
  any other 404 → :class:`SourceUnavailableError`, retried and alerted on, never a
  deletion.

5xx, 429, 401/403 and timeouts are passing faults as well; another 4xx is
:class:`Refused` (the request itself is wrong, e.g. a bad id in a notification).
"""

from __future__ import annotations

import json
from datetime import date

from connectors.dfo.settings import DfoSettings
from connectors.sdk import http

__all__ = ["DfoClient", "Found", "NotFound", "Refused", "classify", "fault_text"]

NOT_FOUND_FAULTS = ("IKKE ANSATT", "UBESATT STILLING", "UKJENT ORGENHET", "IKKE FUNNET")


Answer = http.Answer
Found = http.Found
NotFound = http.NotFound
Refused = http.Refused


def fault_text(body: bytes) -> str | None:
    """DFØ's ``standard.faultText``, or None when the body carries none."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    standard = payload.get("standard") if isinstance(payload, dict) else None
    text = standard.get("faultText") if isinstance(standard, dict) else None
    return text.strip() if isinstance(text, str) and text.strip() else None


def _dfo_not_found(response: http.Response) -> str | None:
    fault = fault_text(response.body)
    return fault if fault is not None and fault.upper().startswith(NOT_FOUND_FAULTS) else None


def classify(response: http.Response) -> Answer:
    """What a DFØ answer means; raises SourceUnavailableError for passing faults."""
    return http.classify(
        response,
        source="DFØ",
        not_found=_dfo_not_found,
        detail=lambda r: fault_text(r.body) or r.text(120),
        auth_hint=" (check HUB_DFO_TOKEN)",
        gateway_hint=" (check HUB_DFO_BASE_URL and the subscription)",
    )


class DfoClient:
    """A session against DFØ's API gateway (bearer token and/or gateway API key)."""

    def __init__(self, settings: DfoSettings) -> None:
        self.settings = settings
        headers = {}
        if settings.token is not None:
            headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
        if settings.api_key is not None:
            headers[settings.api_key_header] = settings.api_key.get_secret_value()
        self.session = http.SourceSession(
            settings.base_url,
            classify=classify,
            headers=headers,
            timeout_s=settings.request_timeout_s,
        )

    async def open(self) -> None:
        await self.session.open()

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, *, on: date | None = None) -> Answer:
        """GET ``path`` (relative to the base URL), as it was ``on`` that day (``dato``)."""
        headers = {"dato": on.isoformat()} if on is not None else {}
        return await self.session.get(path, headers=headers)
