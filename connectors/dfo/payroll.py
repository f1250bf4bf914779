"""Map DFØ SAP payroll results to ``no.bott.hub.payroll.PayrollResult`` records. Pure.

The REST shape is **inferred** (DFØ publishes no payroll API we could read); it follows
the HR API's conventions (Norwegian field names, zero-padded ids, ``{"key": [...]}``
bodies, single objects sometimes unwrapped):

- ``GET lonn/v1/kjoringer`` → ``{"lonnskjoring": [{"id", "periode" (YYYY-MM), "type"
  (ordinaer|ekstra|korreksjon), "ferdigstilt" (ISO timestamp, null while running),
  "utbetalingsdato"}]}``: the payroll runs;
- ``GET lonn/v1/kjoringer/{id}/resultater`` → ``{"lonnsresultat": [{"ansattnummer",
  "linjer": [{"lonnsart", "lonnsartTekst", "belop", "antall", "sats", "stillingId",
  "kostnadssted", "organisasjonId", "timelonn"}]}]}``: one result per employee.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from connectors.dfo.mapping import position_ref, sap_number
from connectors.source_json import (
    InvalidValueError,
    SourceRecord,
    code,
    date_value,
    flag,
    json_type,
    objects,
    required,
    show,
    text,
    timestamp,
)
from hub.errors import MappingError

__all__ = [
    "PAYROLL_SOURCE_SYSTEM",
    "RESULTS_KEY",
    "RUNS_KEY",
    "PayrollRun",
    "map_payroll_result",
    "parse_runs",
    "result_key",
]

PAYROLL_SOURCE_SYSTEM = "dfo_sap_payroll"
RUNS_KEY = "lonnskjoring"
RESULTS_KEY = "lonnsresultat"
RUN_TYPES = {"ordinaer": "regular", "ekstra": "extra", "korreksjon": "correction"}
MAX_AMOUNT = 1e10
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_AMOUNT = re.compile(r"-?[0-9]{1,12}(?:[.,][0-9]{1,6})?")


@dataclass(frozen=True)
class PayrollRun:
    """One finished payroll run."""

    run_id: str
    period: str
    run_type: str
    finished_at: datetime
    paid_on: date | None

    @property
    def cursor(self) -> str:
        """Its place in the order runs finish in (sortable text)."""
        return f"{self.finished_at.astimezone(UTC).isoformat()}|{self.run_id}"


def _amount(value: object) -> float | None:
    """A NOK amount: a number, or a string with '.' or ',' decimals; may be negative."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not _AMOUNT.fullmatch(text):
            raise InvalidValueError(f"{show(text)} is not an amount")
        value = float(text.replace(",", "."))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValueError(f"must be a number, not {json_type(value)}")
    if not math.isfinite(value) or abs(value) >= MAX_AMOUNT:
        raise InvalidValueError("is not a finite amount below 10 billion")
    return float(value)


def _period(value: object) -> str:
    period = text(value)
    if period is None:
        raise InvalidValueError("is missing")
    if not _PERIOD.fullmatch(period):
        raise InvalidValueError(f"{show(period)} is not a pay period (YYYY-MM)")
    return period


def _run_type(value: object) -> str:
    kind = (text(value) or "ordinaer").lower()
    if kind not in RUN_TYPES:
        raise InvalidValueError(f"{show(kind)} is not one of {', '.join(RUN_TYPES)}")
    return RUN_TYPES[kind]


def parse_runs(payload: object) -> list[PayrollRun]:
    """The finished runs in a ``GET lonn/v1/kjoringer`` body, in the order they finished.
    Runs still in progress (``ferdigstilt`` null) are left out."""
    if not isinstance(payload, dict) or RUNS_KEY not in payload:
        raise MappingError(f"DFØ payroll runs: the body has no '{RUNS_KEY}' list")
    try:
        entries = objects(payload[RUNS_KEY])
    except InvalidValueError as problem:
        raise MappingError(f"DFØ payroll runs: '{RUNS_KEY}' {problem}") from None
    runs = []
    for index, fields in enumerate(entries):
        record = SourceRecord(fields, f"DFØ payroll run #{index}")
        run_id = record.get("id", required(code))
        record = SourceRecord(fields, f"DFØ payroll run {run_id}")
        finished = record.get("ferdigstilt", timestamp)
        if finished is None:
            continue
        runs.append(
            PayrollRun(
                run_id=run_id,
                period=record.get("periode", _period),
                run_type=record.get("type", _run_type),
                finished_at=finished,
                paid_on=record.get("utbetalingsdato", date_value),
            )
        )
    return sorted(runs, key=lambda run: run.cursor)


def result_key(employee_id: str, run: PayrollRun) -> str:
    """A result's key and source_id: employee number/period/run id."""
    return f"{employee_id}/{run.period}/{run.run_id}"


def _line(entry: SourceRecord) -> dict[str, object]:
    return {
        "wage_type": entry.get("lonnsart", required(code)),
        "description": entry.get("lonnsartTekst", text),
        "amount": entry.get("belop", required(_amount)),
        "hours": entry.get("antall", _amount),
        "rate": entry.get("sats", _amount),
        "position_id": entry.get("stillingId", position_ref),
        "cost_centre": entry.get("kostnadssted", code),
        "org_unit_id": entry.get("organisasjonId", code),
        "hourly": entry.get("timelonn", flag),
    }


def map_payroll_result(result: object, run: PayrollRun, *, institution: str) -> dict[str, object]:
    """Map one entry of ``lonnsresultat`` (one employee's result in ``run``)."""
    if not isinstance(result, Mapping):
        raise MappingError(
            f"DFØ payroll result in run {run.run_id} must be an object, not {json_type(result)}"
        )
    if not institution.strip():
        raise MappingError(f"DFØ payroll run {run.run_id}: no institution given")
    employee_id = SourceRecord(result, f"DFØ payroll result in run {run.run_id}").get(
        "ansattnummer", sap_number
    )
    record = SourceRecord(result, f"DFØ payroll result {employee_id} in run {run.run_id}")
    lines = [_line(entry) for entry in record.nested("linjer")]
    return {
        "institution": institution.strip(),
        "source_system": PAYROLL_SOURCE_SYSTEM,
        "source_id": result_key(employee_id, run),
        "source_timestamp": run.finished_at.astimezone(UTC),
        "employee_id": employee_id,
        "period": run.period,
        "run_id": run.run_id,
        "run_type": run.run_type,
        "paid_on": run.paid_on,
        "lines": lines,
        "total_amount": round(sum(float(str(line["amount"])) for line in lines), 2),
    }
