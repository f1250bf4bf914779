"""Every rule family end to end through the real broker: access, guests, web profiles,
payroll and approvers, org units. Records go on the source topics as the connectors
put them there; the tasks come back on hub.tasks."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from connectors.dfo.mapping import map_employee
from hub.pipeline import Pipeline
from tests.conftest import KafkaEndpoint
from tests.factories import DATA
from tests.kafka_support import Collected, collect, hub_pipeline, worker_for

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

NOW = datetime.now(UTC).replace(microsecond=0)
SEEN = NOW - timedelta(days=3)  # when the sources last sent their records
TODAY = NOW.date()


def employee(secret: str, number: int, **changes: Any) -> dict[str, Any]:
    """A DFØ employee, mapped from a native ansatte/v2 body."""
    body = json.loads((DATA / "dfo" / "ansatt_future_hire.json").read_text())
    native = body["ansatt"][0]
    native.update(
        {
            "id": str(number),
            "fnr": f"0101{number:07d}"[-11:],
            "endretDato": (SEEN.date() - timedelta(days=1)).isoformat(),
        }
    )
    native.update(changes)
    return map_employee(body, institution="uio", secret=secret, fetched_at=SEEN)


def records(secret: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """One case per family, by the rule it must open."""
    last_month = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    long_ago = (TODAY - timedelta(days=400)).isoformat()
    return {
        "access.new_hire_without_account": [
            (
                "source.dfo.employee",
                employee(secret, 910001, startdato=(TODAY + timedelta(days=5)).isoformat()),
            ),
        ],
        "guest.access_missing_or_short": [
            (
                "source.greg.person",
                {
                    "institution": "uio",
                    "source_system": "greg",
                    "source_id": "7701",
                    "source_timestamp": SEEN,
                    "greg_id": "7701",
                    "first_name": "Marie",
                    "last_name": "Curie",
                    "birth_date": date(1967, 11, 7),
                    "registration_completed": SEEN - timedelta(days=20),
                    "identities": [
                        {
                            "type": "passport_number",
                            "verified": "manual",
                            "verified_at": SEEN - timedelta(days=20),
                            "invalid": False,
                        }
                    ],
                    "roles": [
                        {
                            "role_id": "r-1",
                            "type": "guest-researcher",
                            "start_date": TODAY - timedelta(days=10),
                            "end_date": TODAY + timedelta(days=60),
                            "org_unit_id": "50001300",
                        }
                    ],
                    "consents": [],
                },
            ),
        ],
        "web.profile_stale": [
            (
                "source.dfo.employee",
                employee(secret, 910003, startdato=long_ago, tittel="Professor"),
            ),
            (
                "source.iam.account",
                {
                    "institution": "uio",
                    "source_system": "cerebrum",
                    "source_id": "acc-910003",
                    "source_timestamp": SEEN,
                    "username": "webprof",
                    "status": "ACTIVE",
                    "feide_principal_name": "webprof@uio.no",
                    "external_ids": [{"id_type": "DFO_PID", "value": "910003"}],
                },
            ),
            (
                "source.web.profile",
                {
                    "institution": "uio",
                    "source_system": "vortex",
                    "source_id": "wp-910003",
                    "source_timestamp": SEEN,
                    "profile_id": "wp-910003",
                    "username": "webprof",
                    "published_name": "Sigrid Bjørnstad",
                    "title": "Stipendiat",
                    "visible": True,
                    "org_unit_id": "50001300",
                    "data_taken_at": SEEN - timedelta(days=30),
                },
            ),
        ],
        "payroll.pay_without_contract": [
            (
                "source.payroll.result",
                {
                    "institution": "uio",
                    "source_system": "dfo_sap_payroll",
                    "source_id": f"910004/{last_month}/r1",
                    "source_timestamp": SEEN,
                    "employee_id": "910004",
                    "period": last_month,
                    "run_id": "r1",
                    "paid_on": TODAY.replace(day=1) - timedelta(days=20),
                    "lines": [
                        {
                            "wage_type": "1000",
                            "amount": 42000.0,
                            "cost_centre": "130100",
                            "org_unit_id": "50001300",
                        }
                    ],
                    "total_amount": 42000.0,
                },
            ),
        ],
        "finance.leader_without_approver": [
            ("source.dfo.employee", employee(secret, 910005, startdato=long_ago, lederflagg=True)),
        ],
    }


ORG_RULE = "org.unknown_unit"


async def _publish(
    pipeline: Pipeline, producer: AIOKafkaProducer, items: list[tuple[str, dict[str, Any]]]
) -> None:
    for source, record in items:
        topic = pipeline.topics.name(source)
        schema = pipeline.catalog[pipeline.topics[source].value_schema or ""]
        value = await pipeline.codec.encode(topic, schema, record)
        await producer.send_and_wait(topic, key=record["source_id"].encode(), value=value)


def _opened_by_rule(rs: list[Collected], topic: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for r in rs:
        if r.topic == topic and r.decoded and r.decoded["state"] == "OPEN":
            found[r.decoded["rule_id"]].add(r.decoded["display_name"] or r.decoded["person_key"])
    return found


class TestRuleFamilies:
    async def test_each_family_opens_its_task_through_kafka(
        self, kafka: KafkaEndpoint, registry_url: str, topic_prefix: str, tmp_path: Path
    ) -> None:
        """Access, guest, web, payroll, approver and org-unit cases each open a task."""
        pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        tasks = pipeline.topics.name("hub.tasks")
        cases = records(pipeline.secret)
        orgreg = (
            "source.orgreg.orgunit",
            {
                "institution": "uio",
                "source_system": "orgreg",
                "source_id": "ou-1300",
                "source_timestamp": SEEN,
                "ou_id": "ou-1300",
                "valid_from": date(2010, 1, 1),
                "external_keys": [
                    {"source_system": "dfo_sap", "type": "dfo_org_id", "value": "50001300"}
                ],
            },
        )
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            await _publish(pipeline, producer, [orgreg])
            await _publish(pipeline, producer, [item for items in cases.values() for item in items])
            with worker_for(kafka, registry_url, topic_prefix, tmp_path) as worker:
                seen = await collect(
                    kafka.bootstrap_servers,
                    [tasks],
                    codec=pipeline.codec,
                    decode_topics=(tasks,),
                    until=lambda rs: set(cases) <= set(_opened_by_rule(rs, tasks)),
                )
                # The org unit case comes once the worker holds OrgReg's units.
                moved = employee(
                    pipeline.secret,
                    910006,
                    startdato=(TODAY - timedelta(days=30)).isoformat(),
                    organisasjonId="50009999",
                )
                await _publish(pipeline, producer, [("source.dfo.employee", moved)])
                seen = await collect(
                    kafka.bootstrap_servers,
                    [tasks],
                    codec=pipeline.codec,
                    decode_topics=(tasks,),
                    until=lambda rs: ORG_RULE in _opened_by_rule(rs, tasks),
                )
                log = worker.log()
        finally:
            await producer.stop()
            await pipeline.codec.close()
        opened = _opened_by_rule(seen, tasks)
        for rule_id in [*cases, ORG_RULE]:
            assert rule_id in opened, f"{rule_id} opened nothing: {dict(opened)}\n{log[-3000:]}"
        unit_tasks = [r.decoded for r in seen if r.decoded and r.decoded["rule_id"] == ORG_RULE]
        assert any("50009999" in (e["value"] or "") for t in unit_tasks for e in t["evidence"])
        assert not any("50001300" in t["subject"] for t in unit_tasks), "a known unit is fine"
