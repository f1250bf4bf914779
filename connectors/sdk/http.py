"""Fetching from a source's HTTP API: one GET, with connection faults and timeouts
turned into :class:`SourceUnavailableError` (the runtime retries those), and
:func:`classify`, what an answer means (found, the source's own not-found, refused, or a
passing fault)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
from pydantic import Field

from connectors.sdk.connector import Connector, ConnectorSettings
from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.items import parse_json
from hub.errors import HubError

__all__ = [
    "PASSING_STATUSES",
    "Answer",
    "Found",
    "HttpConnector",
    "HttpSourceSettings",
    "NotFound",
    "Refused",
    "Response",
    "SourceSession",
    "classify",
    "get",
]


@dataclass(frozen=True)
class Response:
    """What a source answered."""

    url: str
    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive from get()

    def text(self, limit: int = 200) -> str:
        """The start of the body as text, for messages."""
        return self.body[:limit].decode("utf-8", errors="replace")


async def get(
    session: aiohttp.ClientSession, url: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    """GET ``url``; any status comes back, only faults of the connection raise."""
    try:
        async with session.get(url, headers=dict(headers or {})) as response:
            body = await response.read()
            return Response(
                url, response.status, response.content_type, body, response.headers.copy()
            )
    except TimeoutError as exc:
        raise SourceUnavailableError(f"GET {url} timed out") from exc
    except aiohttp.ClientError as exc:
        raise SourceUnavailableError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc


# -- what an answer means ------------------------------------------------------------
#
# Every HTTP source answers 404 for two different things: the source's own "no such
# object" (a deletion) and an API gateway (or a wrong base URL) not knowing the API (a
# fault: retried, never a deletion). ``classify`` keeps the two apart with a predicate
# per source; the rest of the status mapping is the same for every source.

PASSING_STATUSES = frozenset({401, 403, 408, 429})


@dataclass(frozen=True)
class Found:
    """The source answered 200 with this body."""

    body: bytes


@dataclass(frozen=True)
class NotFound:
    """The source itself says the object does not exist (``reason``: its words, short)."""

    reason: str


@dataclass(frozen=True)
class Refused:
    """The source refused the request itself (4xx other than 404, 401, 403, 408, 429)."""

    status: int
    detail: str


Answer = Found | NotFound | Refused


def classify(
    response: Response,
    *,
    source: str,
    not_found: Callable[[Response], str | None],
    detail: Callable[[Response], str] | None = None,
    auth_hint: str = "",
    gateway_hint: str = "",
) -> Answer:
    """What ``response`` means; raises :class:`SourceUnavailableError` for passing faults.

    ``not_found`` returns the source's own reason when a 404 is the source saying "no such
    object", else None (a gateway's 404: a fault). 5xx, 401, 403, 408 and 429 are faults
    too (``auth_hint`` is added for 401/403); another 4xx is :class:`Refused` with
    ``detail(response)`` (default: the start of the body).
    """
    status = response.status
    if status == 200:
        return Found(response.body)
    if status == 404:
        reason = not_found(response)
        if reason is not None:
            return NotFound(reason[:80])
        raise SourceUnavailableError(
            f"GET {response.url} answered 404 without {source}'s own not-found answer: the"
            f" API gateway does not know this API{gateway_hint} ({response.text(120)!r})"
        )
    if status >= 500 or status in PASSING_STATUSES:
        hint = auth_hint if status in (401, 403) else ""
        raise SourceUnavailableError(f"GET {response.url} answered {status}{hint}")
    if 400 <= status < 500:
        return Refused(status, (detail(response) if detail else response.text(120))[:120])
    raise SourceUnavailableError(f"GET {response.url} answered an unexpected {status}")


class SourceSession:
    """One source's HTTP session: its base URL, fixed headers (credentials) and timeout;
    every GET comes back classified by ``classify`` (a partial of :func:`classify`)."""

    def __init__(
        self,
        base_url: str,
        *,
        classify: Callable[[Response], Answer],
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.timeout_s = timeout_s
        self._classify = classify
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self.headers, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str, params: Mapping[str, str | None] | None = None) -> str:
        """The address of ``path`` (relative to the base URL) with ``params`` (None values
        left out) percent-encoded."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        address = self.base_url + path.lstrip("/")
        return f"{address}?{urlencode(query, quote_via=quote)}" if query else address

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, str | None] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """GET ``path`` and classify the answer (faults raise SourceUnavailableError)."""
        await self.open()
        assert self._session is not None  # noqa: S101 - open() made it
        return self._classify(await get(self._session, self.url(path, params), headers=headers))

    async def get_json(
        self, path: str, *, what: str, params: Mapping[str, str | None] | None = None
    ) -> object:
        """GET a listing or page that must be there: its parsed JSON body. Anything else
        (not found, refused, not JSON) raises SourceUnavailableError naming ``what``: the
        caller cannot go on without it, and the runtime retries."""
        answer = await self.get(path, params=params)
        if not isinstance(answer, Found):
            raise SourceUnavailableError(f"{what}: the source answered {answer}")
        try:
            return parse_json(answer.body, what)
        except HubError as exc:
            raise SourceUnavailableError(str(exc)) from exc


class HttpSourceSettings(ConnectorSettings):
    """Settings of a connector that reads one HTTP API (subclasses set the prefix)."""

    base_url: str = Field(pattern=r"^https?://", description="The API's base URL.")
    request_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one request.")


HttpSettingsT = TypeVar("HttpSettingsT", bound=HttpSourceSettings)


class HttpConnector(Connector[HttpSettingsT]):
    """A connector that reads one HTTP API through ``self.session`` (a
    :class:`SourceSession` opened in :meth:`setup` and closed in :meth:`teardown`).
    Subclasses give ``answers`` (what a response means, a partial of :func:`classify`)
    and :meth:`credentials`."""

    answers: ClassVar[Callable[[Response], Answer]]

    def __init__(self, settings: HttpSettingsT) -> None:
        super().__init__(settings)
        self.session = SourceSession(
            settings.base_url,
            classify=type(self).answers,
            headers=self.credentials(),
            timeout_s=settings.request_timeout_s,
        )

    def credentials(self) -> dict[str, str]:
        """The headers that authenticate every request (a token, an API key)."""
        return {}

    async def setup(self) -> None:
        await self.session.open()

    async def teardown(self) -> None:
        await self.session.close()
