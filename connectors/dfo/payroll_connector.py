"""``dfo-payroll``: DFØ SAP payroll results on ``source.payroll.result``.

Payroll runs finish a few times a month, so the connector polls (the REST shape is
inferred, see :mod:`connectors.dfo.payroll`): its cursor is the last finished run it
delivered; each poll lists the runs, takes those finished after the cursor in the order
they finished, and emits one record per employee and run. A full reconciliation lists
every run's results again: a result no longer listed (a withdrawn run) is deleted.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from functools import partial

from connectors.dfo.client import DfoClient
from connectors.dfo.payroll import (
    RESULTS_KEY,
    PayrollRun,
    map_payroll_result,
    parse_runs,
    result_key,
)
from connectors.dfo.settings import DfoPayrollSettings
from connectors.sdk.connector import Connector
from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.items import Checkpoint, Item, Record, mapped
from hub.errors import HubError

__all__ = ["RUNS_PATH", "DfoPayrollConnector"]

RUNS_PATH = "lonn/v1/kjoringer"


def _employee_number(entry: object) -> str | None:
    value = entry.get("ansattnummer") if isinstance(entry, dict) else None
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip().lstrip("0") or "0"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    return None


class DfoPayrollConnector(Connector[DfoPayrollSettings]):
    """One record per employee, pay period and payroll run."""

    name = "dfo-payroll"
    schema = "no.bott.hub.payroll.PayrollResult"
    topic = "source.payroll.result"
    settings_model = DfoPayrollSettings

    def __init__(self, settings: DfoPayrollSettings) -> None:
        super().__init__(settings)
        self.client = DfoClient(settings)

    async def setup(self) -> None:
        await self.client.open()

    async def teardown(self) -> None:
        await self.client.close()

    async def _json(self, path: str) -> object:
        return await self.client.session.get_json(path, what=f"DFØ {path}")

    async def runs(self) -> list[PayrollRun]:
        """The finished runs, in the order they finished."""
        payload = await self._json(RUNS_PATH)
        try:
            return parse_runs(payload)
        except HubError as exc:
            raise SourceUnavailableError(f"DFØ payroll runs cannot be read: {exc}") from exc

    async def results(self, run: PayrollRun) -> AsyncIterator[Item]:
        """One item per employee in the run (a record, or a dead letter)."""
        path = f"{RUNS_PATH}/{run.run_id}/resultater"
        payload = await self._json(path)
        entries = payload.get(RESULTS_KEY) if isinstance(payload, dict) else None
        if isinstance(entries, dict):
            entries = [entries]
        if not isinstance(entries, list):
            raise SourceUnavailableError(f"DFØ {path} has no '{RESULTS_KEY}' list")
        mapper = partial(self.map_result, run=run)
        for entry in entries:
            employee = _employee_number(entry)
            yield mapped(
                json.dumps(entry, ensure_ascii=False).encode(),
                mapper,
                origin=f"dfo:{path}",
                key=result_key(employee, run) if employee else None,
            )

    def map_result(self, payload: object, *, run: PayrollRun) -> Record:
        return map_payroll_result(payload, run, institution=self.settings.institution)

    async def changes(self, cursor: str | None) -> AsyncIterator[Item]:
        """The results of every run finished after ``cursor``; each run ends with its
        cursor, so a restart resumes after the last run delivered in full."""
        for run in await self.runs():
            if cursor is not None and run.cursor <= cursor:
                continue
            previous: Item | None = None
            async for item in self.results(run):
                if previous is not None:
                    yield previous
                previous = item
            yield (
                Checkpoint(cursor=run.cursor)
                if previous is None
                else replace(previous, cursor=run.cursor)
            )

    async def list_all(self) -> AsyncIterator[Item]:
        for run in await self.runs():
            async for item in self.results(run):
                yield item
