"""The connectors' own health reports for the dashboard: each connector run with
``--health-port`` serves ``GET /health`` (connectors/sdk/health_server.py); the
dashboard asks each configured address in turn and keeps the latest answers.

A connector that does not answer is reported as ``unreachable``, with the reason, so a
dead connector shows as one and not as silence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

__all__ = ["ConnectorHealthPoller", "report_of"]


def report_of(url: str, status: int | None, body: Any, problem: str | None) -> dict[str, Any]:
    """One dashboard report from a ``/health`` answer (or the lack of one)."""
    if problem is not None or not isinstance(body, Mapping):
        return {
            "name": url,
            "state": "unreachable",
            "last_success_at": None,
            "last_error": problem or f"HTTP {status}: not a health report",
        }
    return {
        "name": str(body.get("connector") or url),
        "state": str(body.get("state") or "unknown"),
        "last_success_at": body.get("last_success_at"),
        "last_error": body.get("last_error"),
    }


class ConnectorHealthPoller:
    """Asks each connector's ``/health`` every ``interval_s`` seconds."""

    def __init__(self, urls: Sequence[str], interval_s: float = 10.0) -> None:
        self.urls = [url.rstrip("/") for url in urls]
        self.interval_s = interval_s
        self.reports: list[dict[str, Any]] = []

    def __call__(self) -> Sequence[Mapping[str, Any]]:
        return self.reports

    async def poll_once(self, session: aiohttp.ClientSession) -> None:
        found = []
        for url in self.urls:
            try:
                async with session.get(f"{url}/health") as response:
                    body = await response.json(content_type=None)
                    found.append(report_of(url, response.status, body, None))
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                found.append(report_of(url, None, None, f"{type(exc).__name__}: {exc}"))
        self.reports = found

    async def run(self, stop: asyncio.Event) -> None:
        if not self.urls:
            return
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stop.is_set():
                await self.poll_once(session)
                try:
                    await asyncio.wait_for(stop.wait(), self.interval_s)
                except TimeoutError:
                    continue
