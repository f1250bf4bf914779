"""The connector SDK's pure parts, DFØ's answers and payloads, and the fault layer."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from connectors.catalog import CONNECTORS, connector_class
from connectors.dfo.client import DfoClient, Found, NotFound, Refused, classify
from connectors.dfo.connector import DfoEmployeeConnector
from connectors.dfo.fake_server import sample_org_unit, sample_payroll_result
from connectors.dfo.notifications import fetch_date
from connectors.dfo.orgunit import map_org_unit
from connectors.dfo.payroll import map_payroll_result, parse_runs
from connectors.dfo.settings import DfoSettings
from connectors.sdk import Backoff, Failed, Upsert, load_connector_settings, mapped, parse_json
from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.health import ConnectorState, Health
from connectors.sdk.health_server import serve_health
from connectors.sdk.http import Response
from connectors.sdk.state import SnapshotEntry, fingerprint, plan_reconciliation
from connectors.testing.faults import Fault, FaultPlan, NotificationFaults
from hub.embedded.process import free_port
from hub.embedded.rabbitmq import amqp_answers
from hub.errors import ConfigurationError, MappingError

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
TODAY = date(2026, 11, 22)


class TestBackoff:
    def test_delays_grow_jittered_and_capped(self) -> None:
        """Each pause lies between half the ceiling and the ceiling; the ceiling doubles
        per attempt up to the maximum."""
        backoff = Backoff(initial=1.0, maximum=8.0)
        rng = random.Random(7)
        assert [backoff.ceiling(a) for a in range(6)] == [1, 2, 4, 8, 8, 8]
        for attempt in range(50):
            assert backoff.ceiling(attempt) / 2 <= backoff.delay(attempt, rng) <= 8.0
        assert len({round(backoff.delay(3, rng), 6) for _ in range(20)}) > 1, "jittered"


class TestItems:
    def test_parse_json_names_the_origin_never_the_body(self) -> None:
        """Bad bodies raise MappingError naming where they came from, not what they held."""
        assert parse_json(b'{"a": 1}', "x") == {"a": 1}
        for body, reason in [
            (b"\xff\xfe", "not UTF-8"),
            (b'{"fnr": "15059912345"', "not valid JSON"),
            (b"[" * 100_000, "nested too deeply"),
        ]:
            with pytest.raises(MappingError, match=reason) as raised:
                parse_json(body, "dfo:ansatte/1")
            assert "dfo:ansatte/1" in str(raised.value)
            assert "15059912345" not in str(raised.value)

    def test_mapped_keeps_bytes_key_and_cursor_of_a_failure(self) -> None:
        """A body that cannot be mapped becomes a Failed item with its bytes, key and
        cursor; one that can, an Upsert."""

        def mapper(payload: object) -> dict[str, object]:
            if payload != {"ok": True}:
                raise MappingError("not ok")
            return {"source_id": "1"}

        good = mapped(b'{"ok": true}', mapper, origin="o", cursor="c1")
        bad = mapped(b'{"ok": false}', mapper, origin="o", key="7", cursor="c2")
        assert isinstance(good, Upsert)
        assert (good.record, good.cursor) == ({"source_id": "1"}, "c1")
        assert isinstance(bad, Failed)
        assert (bad.raw, bad.key, bad.cursor, str(bad.error)) == (
            b'{"ok": false}',
            "7",
            "c2",
            "not ok",
        )


class TestSnapshot:
    def test_fingerprint_ignores_fetch_time_only(self) -> None:
        """Records that differ only in source_timestamp are equal; any other field counts."""
        record = {"source_id": "1", "title": "A", "source_timestamp": NOW}
        later = {**record, "source_timestamp": NOW + timedelta(hours=1)}
        assert fingerprint(record) == fingerprint(later)
        assert fingerprint(record) != fingerprint({**record, "title": "B"})

    def _known(self, count: int, future: int = 0) -> dict[str, SnapshotEntry]:
        return {
            str(i): SnapshotEntry(
                str(i), "uio", str(i), "f", TODAY + timedelta(days=5) if i < future else None
            )
            for i in range(count)
        }

    def test_missing_records_are_deleted_except_future_dated_ones(self) -> None:
        """Known keys not listed are gone, unless they show a future day."""
        plan = plan_reconciliation(
            self._known(5, future=1), ["2", "3", "4"], today=TODAY, max_fraction=0.5
        )
        assert [e.key for e in plan.gone] == ["1"]
        assert not plan.held

    def test_a_mass_deletion_is_held(self) -> None:
        """More than the allowed share (and more than ten) missing holds every deletion."""
        plan = plan_reconciliation(self._known(40), ["1"], today=TODAY, max_fraction=0.5)
        assert plan.held
        assert "39 of 40" in plan.reason
        few = plan_reconciliation(self._known(8), [], today=TODAY, max_fraction=0.5)
        assert not few.held, "a handful is never held"


class TestDfoAnswers:
    def _answer(
        self, status: int, body: object, content_type: str = "application/json"
    ) -> Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return Response("http://dfo/ansatte/v2/1", status, content_type, raw)

    def test_not_employed_is_not_found(self) -> None:
        """DFØ's fault texts for a missing employee or a vacant position mean NotFound."""
        for fault in ("IKKE ANSATT - ingen", "UBESATT STILLING"):
            answer = classify(self._answer(404, {"standard": {"faultText": fault}}))
            assert isinstance(answer, NotFound)

    @pytest.mark.parametrize(
        "body",
        [
            {"message": "No context-path matches the request URI."},
            b"<html>404 Not Found</html>",
            {"standard": {"faultText": "NOE ANNET"}},
            b"",
        ],
    )
    def test_gateway_404_is_a_fault_not_a_deletion(self, body: object) -> None:
        """Any other 404 is the gateway not knowing the API: a retryable fault."""
        with pytest.raises(SourceUnavailableError, match="gateway"):
            classify(self._answer(404, body))

    @pytest.mark.parametrize(
        ("status", "hint"), [(503, "503"), (500, "500"), (429, "429"), (401, "TOKEN")]
    )
    def test_passing_faults(self, status: int, hint: str) -> None:
        """5xx, 429 and auth failures are retried (auth with a hint)."""
        with pytest.raises(SourceUnavailableError, match=hint):
            classify(self._answer(status, b"busy"))

    def test_found_and_refused(self) -> None:
        """200 is the body; another 4xx refuses the request."""
        assert classify(self._answer(200, {"ansatt": []})) == Found(b'{"ansatt": []}')
        assert isinstance(
            classify(self._answer(400, {"standard": {"faultText": "UGYLDIG"}})), Refused
        )

    def test_dato_only_for_changes_ahead(self) -> None:
        """A change valid later is fetched as of that day; one valid now, as of today."""
        assert fetch_date(TODAY + timedelta(days=3), TODAY) == TODAY + timedelta(days=3)
        assert fetch_date(TODAY, TODAY) is None
        assert fetch_date(None, TODAY) is None


class TestDfoPayloads:
    def test_org_unit(self) -> None:
        """An orgenhet maps with parent, cost centre, validity and leader; unwrapped too."""
        unit = sample_org_unit("050001300", parent="00050000000")
        record = map_org_unit({"organisasjon": unit}, institution="uio", fetched_at=NOW)
        assert record["org_unit_id"] == "50001300"
        assert record["parent_id"] == "50000000"
        assert record["valid_to"] is None
        assert record["leader_employee_id"] == "12345"
        with pytest.raises(MappingError, match="gyldigFraDato"):
            map_org_unit(
                {"organisasjon": [{**unit, "gyldigFraDato": "2020-02-30"}]},
                institution="uio",
                fetched_at=NOW,
            )

    def test_payroll_runs_and_results(self) -> None:
        """Finished runs come in order; a result's total is the sum of its lines."""
        runs = parse_runs(
            {
                "lonnskjoring": [
                    {"id": "B", "periode": "2026-10", "ferdigstilt": "2026-10-12T10:00:00+00:00"},
                    {"id": "A", "periode": "2026-10", "ferdigstilt": "2026-10-10T10:00:00+00:00"},
                    {"id": "C", "periode": "2026-11", "ferdigstilt": None},
                ]
            }
        )
        assert [r.run_id for r in runs] == ["A", "B"]
        record = map_payroll_result(sample_payroll_result("00123"), runs[0], institution="uio")
        assert record["source_id"] == "123/2026-10/A"
        assert record["total_amount"] == 31500.0
        assert record["lines"][1]["amount"] == -13500.0
        with pytest.raises(MappingError, match="belop"):
            map_payroll_result(sample_payroll_result(1, amount="mye"), runs[0], institution="uio")


class TestSettings:
    def test_dfo_settings_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """HUB_DFO_* set the DFØ settings, the secret comes from HUB_PSEUDONYM_SECRET and
        secrets print masked; the base URL is required."""
        monkeypatch.setenv("HUB_DFO_BASE_URL", "https://gw.example.org/dfo/")
        monkeypatch.setenv("HUB_DFO_TOKEN", "t0ken")
        monkeypatch.setenv("HUB_PSEUDONYM_SECRET", "s3cret")
        monkeypatch.setenv("HUB_INSTITUTION", "uib")
        settings = load_connector_settings(DfoSettings)
        assert settings.base_url == "https://gw.example.org/dfo/"
        assert settings.institution == "uib"
        assert settings.pseudonym_secret.get_secret_value() == "s3cret"
        assert "t0ken" not in repr(settings)
        monkeypatch.delenv("HUB_DFO_BASE_URL")
        with pytest.raises(ConfigurationError, match="HUB_DFO_BASE_URL"):
            load_connector_settings(DfoSettings)

    def test_catalogue_resolves_every_connector(self) -> None:
        """Each registered name imports a connector of that name; others are refused."""
        for name in CONNECTORS:
            assert connector_class(name).name == name
        assert DfoEmployeeConnector.can_list()
        with pytest.raises(ConfigurationError, match=r"known: .*dfo-employee"):
            connector_class("nope")


async def _serve(plan: FaultPlan) -> tuple[web.AppRunner, str]:
    async def page(_: web.Request) -> web.Response:
        return web.json_response({"ansatt": [{"id": "1"}]})

    app = web.Application(middlewares=[plan.middleware])
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


class TestFaultPlan:
    async def test_faults_hit_matching_requests_for_their_count(self) -> None:
        """A status fault answers instead, a malformed one cuts the body, and each stops
        after its number of hits or outside its path."""
        plan = FaultPlan()
        runner, base = await _serve(plan)
        try:
            plan.add(Fault("status", path="ansatte", status=502, times=2))
            plan.add(Fault("malformed", path="stillinger", times=1))
            async with aiohttp.ClientSession() as session:
                statuses = []
                for path in ("ansatte/1", "ansatte/1", "ansatte/1", "orgenhet/1"):
                    async with session.get(f"{base}/{path}") as response:
                        statuses.append(response.status)
                async with session.get(f"{base}/stillinger/1") as response:
                    cut = await response.read()
                async with session.get(f"{base}/stillinger/1") as response:
                    whole = await response.read()
        finally:
            await runner.cleanup()
        assert statuses == [502, 502, 200, 200]
        assert len(cut) == len(whole) // 2
        assert json.loads(whole) == {"ansatt": [{"id": "1"}]}
        assert (plan.requests, plan.injected) == (6, 3)

    async def test_outage_ends_after_its_seconds(self) -> None:
        """An outage of a given length answers 503 only while it lasts."""
        plan = FaultPlan()
        fault = plan.outage(0.3)
        assert plan.active_fault("/x") is fault
        fault.added_at -= 1.0
        assert plan.active_fault("/x") is None

    def test_a_flapping_source_alternates_good_answers_and_faults(self) -> None:
        """Flapping: a good answer, a 503, a good answer, a timeout, and again; only on
        its path; clearing the plan ends it."""
        plan = FaultPlan()
        plan.flap(good=1, timeout_s=0.5, path="ansatte")
        kinds = [getattr(plan.active_fault("/ansatte/1"), "kind", None) for _ in range(8)]
        assert kinds == [None, "status", None, "timeout"] * 2
        assert plan.active_fault("/orgenhet/1") is None
        plan.clear()
        assert plan.active_fault("/ansatte/1") is None


class TestDfoClientFaults:
    async def test_timeouts_and_slow_answers(self) -> None:
        """An answer slower than the client's timeout is a retryable fault; a slow one
        within it is an answer."""
        plan = FaultPlan()
        runner, base = await _serve(plan)
        client = DfoClient(DfoSettings(base_url=base, request_timeout_s=0.3))
        try:
            plan.add(Fault("timeout", path="ansatte", delay_s=1.0, times=1))
            with pytest.raises(SourceUnavailableError, match="timed out"):
                await client.get("ansatte/v2/1")
            plan.add(Fault("slow", path="ansatte", delay_s=0.1, times=1))
            assert isinstance(await client.get("ansatte/v2/1"), Found)
        finally:
            await client.close()
            await runner.cleanup()

    async def test_unreachable_source_is_a_fault(self) -> None:
        """Nothing listening at the base URL is a retryable fault naming the URL."""
        client = DfoClient(DfoSettings(base_url=f"http://127.0.0.1:{free_port()}/"))
        try:
            with pytest.raises(SourceUnavailableError, match="ansatte/v2/1"):
                await client.get("ansatte/v2/1")
        finally:
            await client.close()


class TestHealthEndpoint:
    async def test_health_is_200_while_running_and_503_while_retrying(self) -> None:
        """GET /health shows the counters; its status follows the connector's state."""
        health = Health(state=ConnectorState.RUNNING, emitted=3)
        runner = await serve_health(health, "dfo-employee", 0)
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/health") as response:
                    running = (response.status, await response.json())
                health.state = ConnectorState.RETRYING
                async with session.get(f"http://127.0.0.1:{port}/health") as response:
                    retrying = response.status
        finally:
            await runner.cleanup()
        assert running[0] == 200
        assert running[1]["connector"] == "dfo-employee"
        assert (running[1]["state"], running[1]["emitted"]) == ("running", 3)
        assert retrying == 503

    async def test_metrics_follow_the_live_counters(self) -> None:
        """GET /metrics reads the counters at each scrape, labelled by connector only."""
        health = Health(state=ConnectorState.RUNNING, emitted=3, dead_lettered=1)
        runner = await serve_health(health, "dfo-employee", 0)
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/metrics"
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(url) as response:
                    first = await response.text()
                health.emitted += 2
                health.state = ConnectorState.RETRYING
                async with session.get(url) as response:
                    second = await response.text()
        finally:
            await runner.cleanup()
        emitted = 'hub_connector_records_total{connector="dfo-employee",outcome="emitted"}'
        assert f"{emitted} 3.0" in first
        assert f"{emitted} 5.0" in second
        assert 'hub_connector_up{connector="dfo-employee"} 1.0' in first
        assert 'hub_connector_up{connector="dfo-employee"} 0.0' in second
        assert 'outcome="dead_lettered"} 1.0' in first
        assert 'hub_connector_state{connector="dfo-employee",state="retrying"} 1.0' in second


class TestNotificationFaults:
    async def test_lose_duplicate_and_reorder(self) -> None:
        """Lost ones never arrive, duplicates arrive twice, a reordered one after the next."""
        got: list[bytes] = []

        async def send(body: bytes) -> None:
            got.append(body)

        faults = NotificationFaults(send)
        faults.lose_next(1)
        await faults.publish(b"1")
        faults.duplicate_rate = 1.0
        await faults.publish(b"2")
        faults.duplicate_rate, faults.reorder_rate = 0.0, 1.0
        await faults.publish(b"3")
        faults.reorder_rate = 0.0
        await faults.publish(b"4")
        assert faults.lost == [b"1"]
        assert got == [b"2", b"2", b"4", b"3"]


def test_amqp_check_needs_a_broker() -> None:
    """A port nobody listens on does not answer the AMQP header."""
    assert not amqp_answers("127.0.0.1", free_port())
