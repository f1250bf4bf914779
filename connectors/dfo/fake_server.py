"""A fake DFØ SAP API (aiohttp) that speaks the real format, with its notification feed.

It serves ``ansatte/v2``, ``stillinger/v2`` and ``orgenhet/v2`` (each as a list and by
id, honouring the ``dato`` header), the inferred payroll API under ``lonn/v1``, DFØ's
not-found 404s (``{"standard": {"faultText": "IKKE ANSATT …"}}``) and, for any other
path, an API gateway's 404. Faults come from a :class:`~connectors.testing.faults.FaultPlan`;
notifications go to RabbitMQ through :class:`~connectors.testing.faults.NotificationFaults`
(lost, duplicated, reordered on request).

The ``*Source`` classes at the end drive it for the conformance kit.

Run one by hand with ``python -m connectors.dfo.fake_server --port 8089``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from aiohttp import web

from connectors.sdk.amqp import AmqpPublisher
from connectors.testing.faults import FaultPlan, NotificationFaults

__all__ = [
    "FakeDfo",
    "FakeDfoHrSource",
    "FakeDfoPayrollSource",
    "hr_source",
    "payroll_source",
    "sample_employee",
    "sample_org_unit",
    "sample_payroll_result",
    "sample_position",
]

Kind = Literal["ansatt", "stilling", "organisasjon"]
_PATHS: dict[str, Kind] = {
    "ansatte/v2": "ansatt",
    "stillinger/v2": "stilling",
    "orgenhet/v2": "organisasjon",
}
_NOT_FOUND = {
    "ansatt": "IKKE ANSATT - ingen ansatt med dette ansattnummeret",
    "stilling": "UBESATT STILLING - stillingen har ingen innehaver",
    "organisasjon": "UKJENT ORGENHET - ingen organisasjonsenhet med denne id-en",
}
_URIS = {"ansatt": "dfo:ansatte", "stilling": "dfo:stillinger", "organisasjon": "dfo:orgenhet"}
_GATEWAY_404 = {"message": "No context-path matches the request URI.", "http_status_code": 404}
_BEGINNING = date(1900, 1, 1)


def _normal(object_id: object) -> str:
    text = str(object_id).strip()
    return (text.lstrip("0") or "0") if text.isdigit() else text


def _fake_national_id(number: int) -> str:
    """An 11-digit test number that is not a DFØ dummy (``.+00[012]00$``)."""
    tail = 12345 + number * 7919 % 80000
    return f"150599{tail:05d}"


def sample_employee(
    employee_id: int | str,
    *,
    start: date | None = None,
    position_id: int | str = 30045600,
    org_unit_id: int | str = 50001300,
    **fields: Any,
) -> dict[str, Any]:
    """A native ``ansatt`` object as DFØ sends it (zero-padded id, 9999-12-31, J/N …)."""
    number = int(_normal(employee_id))
    start = start or date.today() - timedelta(days=30)
    person: dict[str, Any] = {
        "id": f"{number:08d}",
        "fnr": _fake_national_id(number),
        "annenId": [],
        "fornavn": f"Kari{number % 97}",
        "etternavn": "Nordmann",
        "fdato": "1988-04-24",
        "brukerident": None,
        "eksternIdent": f"kn{number}",
        "stillingId": int(_normal(position_id)),
        "medarbeidergruppe": "1",
        "medarbeiderundergruppe": "17",
        "startdato": start.isoformat(),
        "sluttdato": "9999-12-31",
        "dellonnsprosent": "100.0",
        "tittel": "Førsteamanuensis",
        "tilleggsstilling": [],
        "lederflagg": "N",
        "reservasjonPublisering": False,
        "mobilPrivat": "+47 400 00 000",
        "epost": f"kn{number}@example.org",
        "organisasjonId": int(_normal(org_unit_id)),
        "kostnadssted": "130100",
        "endretDato": date.today().isoformat(),
    }
    person.update(fields)
    return person


def sample_position(
    position_id: int | str, holders: list[int | str] | None = None, **fields: Any
) -> dict[str, Any]:
    """A native ``stilling`` object with its holders (``innehaver``)."""
    position: dict[str, Any] = {
        "id": f"{int(_normal(position_id)):08d}",
        "stillingskode": 20001013,
        "stillingstittel": "Professor",
        "yrkeskode": "2310",
        "organisasjonId": 50001300,
        "innehaver": [
            {
                "innehaverAnsattnr": f"{int(_normal(h)):08d}",
                "innehaverStartdato": "2020-01-01",
                "innehaverSluttdato": "9999-12-31",
            }
            for h in holders or []
        ],
        "stillingskat": [{"stillingskatId": 50078120, "stillingskatBetegn": "Vitenskapelig"}],
    }
    position.update(fields)
    return position


def sample_org_unit(
    org_unit_id: int | str, *, parent: int | str | None = 50000000, **fields: Any
) -> dict[str, Any]:
    """A native ``organisasjon`` object."""
    unit: dict[str, Any] = {
        "id": int(_normal(org_unit_id)),
        "orgKortnavn": f"ENH{_normal(org_unit_id)[-3:]}",
        "organisasjonsnavn": f"Enhet {_normal(org_unit_id)}",
        "overordnOrgenhetId": parent,
        "orgKostnadssted": "130100",
        "gyldigFraDato": "2020-01-01",
        "gyldigTilDato": "9999-12-31",
        "leder": [{"lederAnsattnr": "00012345", "lederBrukerident": "leder1"}],
    }
    unit.update(fields)
    return unit


def sample_payroll_result(employee_id: int | str, amount: float | str = 45000.0) -> dict[str, Any]:
    """One employee's native payroll result (inferred shape)."""
    return {
        "ansattnummer": f"{int(_normal(employee_id)):08d}",
        "linjer": [
            {
                "lonnsart": "1000",
                "lonnsartTekst": "Fastlønn",
                "belop": amount,
                "stillingId": "30045600",
                "kostnadssted": "130100",
                "organisasjonId": "50001300",
                "timelonn": "N",
            },
            {"lonnsart": "7100", "lonnsartTekst": "Skattetrekk", "belop": "-13500,00"},
        ],
    }


class FakeDfo:
    """The fake API's data and its aiohttp app. Objects have versions valid from a day,
    so ``dato`` asks for a future state; ``raw`` overrides a path's body byte for byte."""

    def __init__(
        self,
        *,
        token: str | None = None,
        amqp_url: str | None = None,
        exchange: str = "dfo",
        faults: FaultPlan | None = None,
    ) -> None:
        self.token = token
        self.faults = faults or FaultPlan()
        self.objects: dict[Kind, dict[str, list[tuple[date, dict[str, Any]]]]] = {
            "ansatt": {},
            "stilling": {},
            "organisasjon": {},
        }
        self.runs: dict[str, dict[str, Any]] = {}
        self.results: dict[str, list[dict[str, Any]]] = {}
        self.raw: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.amqp = AmqpPublisher(amqp_url, exchange) if amqp_url else None
        self.notifications = NotificationFaults(self._send)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- data -------------------------------------------------------------------

    def put(self, kind: Kind, fields: dict[str, Any], valid_from: date | None = None) -> str:
        """Store an object (a new version from ``valid_from``); return its normalised id."""
        object_id = _normal(fields["id"])
        versions = self.objects[kind].setdefault(object_id, [])
        since = valid_from or _BEGINNING
        versions[:] = sorted(
            [v for v in versions if v[0] != since] + [(since, fields)], key=lambda v: v[0]
        )
        return object_id

    def remove(self, kind: Kind, object_id: str) -> None:
        self.objects[kind].pop(_normal(object_id), None)

    def state_on(self, kind: Kind, object_id: str, on: date) -> dict[str, Any] | None:
        versions = self.objects[kind].get(_normal(object_id), [])
        valid = [fields for since, fields in versions if since <= on]
        return valid[-1] if valid else None

    def add_run(
        self,
        run_id: str,
        period: str,
        results: list[dict[str, Any]],
        *,
        finished: datetime | None = None,
        run_type: str = "ordinaer",
    ) -> None:
        """A finished payroll run with its results."""
        self.runs[run_id] = {
            "id": run_id,
            "periode": period,
            "type": run_type,
            "ferdigstilt": (finished or datetime.now(UTC)).isoformat(),
            "utbetalingsdato": f"{period}-12",
        }
        self.results[run_id] = results

    # -- notifications ------------------------------------------------------------

    async def _send(self, body: bytes) -> None:
        if self.amqp is None:
            raise RuntimeError("this fake DFØ has no AMQP feed (give amqp_url)")
        await self.amqp.publish(body, routing_key="dfo.notification")

    async def notify(self, kind: Kind, object_id: str, valid_from: date | None = None) -> None:
        """Send DFØ's thin notification for an object (through the notification faults)."""
        body = {"id": f"{int(_normal(object_id)):08d}", "uri": _URIS[kind]}
        if valid_from is not None:
            body["gyldigEtter"] = valid_from.isoformat()
        await self.notifications.publish(json.dumps(body).encode())

    # -- the API --------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.faults.middleware, self._auth])
        app.router.add_get("/{path:.*}", self._route)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"message": "Unauthorized"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    async def _route(self, request: web.Request) -> web.Response:
        path = request.match_info["path"].strip("/")
        dato = request.headers.get("dato")
        self.requests.append((path, dato))
        if path in self.raw:
            return web.Response(body=self.raw[path], content_type="application/json")
        on = date.fromisoformat(dato) if dato else date.today()
        answer = self._hr(path, on) or self._payroll(path)
        return answer or web.json_response(_GATEWAY_404, status=404)

    def _hr(self, path: str, on: date) -> web.Response | None:
        head, _, tail = path.rpartition("/")
        if path in _PATHS:
            kind = _PATHS[path]
            listed = [self.state_on(kind, i, on) for i in sorted(self.objects[kind])]
            return web.json_response({kind: [o for o in listed if o is not None]})
        if head not in _PATHS:
            return None
        kind = _PATHS[head]
        found = self.state_on(kind, tail, on)
        if found is None:
            return web.json_response({"standard": {"faultText": _NOT_FOUND[kind]}}, status=404)
        return web.json_response({kind: [found]})

    def _payroll(self, path: str) -> web.Response | None:
        if path == "lonn/v1/kjoringer":
            return web.json_response({"lonnskjoring": list(self.runs.values())})
        parts = path.split("/")
        if (
            len(parts) == 5
            and parts[:3] == ["lonn", "v1", "kjoringer"]
            and parts[4] == "resultater"
        ):
            results = self.results.get(parts[3])
            if results is not None:
                return web.json_response({"lonnsresultat": results})
        return None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: a free port); return the base URL."""
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound}/"
        if self.amqp is not None:
            await self.amqp.open()
        return self.base_url

    async def stop(self) -> None:
        if self.amqp is not None:
            await self.amqp.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


# -- the conformance kit's view of the fake (connectors.testing.conformance) -------------


@dataclass
class FakeDfoHrSource:
    """Drives a :class:`FakeDfo` for one HR connector: employees, positions or org units."""

    fake: FakeDfo
    kind: Kind
    settings: Mapping[str, object]
    next_id: int = 100

    def _sample(self, number: int) -> dict[str, Any]:
        if self.kind == "ansatt":
            return sample_employee(number)
        if self.kind == "stilling":
            return sample_position(30000000 + number, holders=[number])
        return sample_org_unit(50000000 + number)

    async def add(self, count: int) -> list[str]:
        keys = []
        for _ in range(count):
            self.next_id += 1
            key = self.fake.put(self.kind, self._sample(self.next_id))
            if self.kind == "stilling":  # its holder, for the employee connector's fan-out
                self.fake.put("ansatt", sample_employee(self.next_id))
            await self.fake.notify(self.kind, key)
            keys.append(key)
        return keys

    async def add_malformed(self) -> str:
        self.next_id += 1
        broken = self._sample(self.next_id)
        field = {"ansatt": "startdato", "stilling": "innehaver", "organisasjon": "gyldigFraDato"}
        broken[field[self.kind]] = "2026-13-45" if self.kind != "stilling" else "not a list"
        key = self.fake.put(self.kind, broken)
        await self.fake.notify(self.kind, key)
        return key

    async def remove_silently(self, key: str) -> None:
        self.fake.remove(self.kind, key)


@dataclass
class FakeDfoPayrollSource:
    """Drives a :class:`FakeDfo`'s payroll runs: each ``add`` is a new finished run."""

    fake: FakeDfo
    settings: Mapping[str, object]
    runs: int = 0

    def _run(self, results: list[dict[str, Any]]) -> list[str]:
        self.runs += 1
        run_id = f"R{self.runs:04d}"
        period = f"2026-{(self.runs - 1) % 12 + 1:02d}"
        finished = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=self.runs)
        self.fake.add_run(run_id, period, results, finished=finished)
        return [
            f"{int(r['ansattnummer'])}/{period}/{run_id}" for r in results if r.get("ansattnummer")
        ]

    async def add(self, count: int) -> list[str]:
        first = self.runs * 100
        return self._run([sample_payroll_result(first + i + 1) for i in range(count)])

    async def add_malformed(self) -> str:
        keys = self._run([sample_payroll_result(self.runs * 100 + 1, amount="a lot")])
        return keys[0]

    async def remove_silently(self, key: str) -> None:
        employee, _, run_id = key.split("/")
        self.fake.results[run_id] = [
            r for r in self.fake.results[run_id] if _normal(r["ansattnummer"]) != employee
        ]


@contextlib.asynccontextmanager
async def hr_source(
    connector: type[Any], amqp_url: str, prefix: str, institution: str = "uio"
) -> AsyncIterator[FakeDfoHrSource]:
    """A started fake DFØ with a feed on RabbitMQ (exchange and queue of ``prefix``'s
    own, the queue declared up front as a subscription is), for a DFØ HR connector."""
    exchange = f"{prefix}dfo"
    fake = FakeDfo(amqp_url=amqp_url, exchange=exchange)
    base_url = await fake.start()
    queue = f"{prefix}{connector.name}"
    assert fake.amqp is not None  # noqa: S101 - made with an AMQP URL
    await fake.amqp.declare_queue(queue)
    settings = {
        "base_url": base_url,
        "institution": institution,
        "amqp_url": amqp_url,
        "amqp_exchange": exchange,
        "amqp_queue": queue,
    }
    try:
        yield FakeDfoHrSource(fake, connector.api.key, settings)
    finally:
        await fake.stop()


@contextlib.asynccontextmanager
async def payroll_source(institution: str = "uio") -> AsyncIterator[FakeDfoPayrollSource]:
    """A started fake DFØ serving payroll runs."""
    fake = FakeDfo()
    base_url = await fake.start()
    try:
        yield FakeDfoPayrollSource(fake, {"base_url": base_url, "institution": institution})
    finally:
        await fake.stop()


def _main() -> None:  # pragma: no cover - a manual aid
    parser = argparse.ArgumentParser(description="Run a fake DFØ SAP API with sample data.")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--amqp-url", default=None)
    parser.add_argument("--employees", type=int, default=5)
    args = parser.parse_args()

    async def serve() -> None:
        fake = FakeDfo(amqp_url=args.amqp_url)
        for number in range(1, args.employees + 1):
            fake.put("ansatt", sample_employee(number))
        url = await fake.start(port=args.port)
        print(f"fake DFØ at {url} (Ctrl-C stops it)")
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    _main()
