"""The sources a scenario replays through: each source's fake, the kinds of object it
takes, and the catalog connectors that bring them to Kafka.

:data:`SOURCE_TABLE` has one entry per source (the ``source`` of an event line). An
entry names how its fake is served (:class:`ServedFake`: the store, the connectors'
settings for it), how an event's ``body`` goes into the store and how a deletion
leaves it (per ``kind``), and which connectors of :mod:`connectors.catalog` read it:

- **feed** connectors follow the source's notifications: the store queues them as the
  real source publishes them, and the replay hands them to the connector's own handler
  (``on_batch``, DFØ's ``on_message``) without the AMQP transport;
- **polled** connectors ask the source what changed since their cursor (their
  ``changes(cursor)``); where the source cannot show a deletion that way
  (``deletions_by_reconciliation``), a deletion runs the connector's full
  reconciliation, which turns the vanished object into a tombstone.

Adding a source is one entry here (and its kinds in
:data:`hub.simulation.scenario_file.SOURCES`).
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors import fake_http
from connectors.cerebrum import fake_server as cerebrum
from connectors.dfo.fake_server import FakeDfo
from connectors.felles_iam import fake_server as felles_iam
from connectors.greg import fake_server as greg
from connectors.orgreg import fake_server as orgreg
from connectors.profile_files.fake_export import ExportDirectory
from connectors.testing.faults import NotificationFaults
from connectors.unit4 import fake_server as unit4
from connectors.web import fake_server as web
from hub.simulation.scenario_file import Event

__all__ = ["FEIDE_REALM", "SOURCE_TABLE", "Kind", "ServedFake", "SourceSpec"]

Clock = Callable[[], datetime]
FEIDE_REALM = {"uio": "uio.no", "uib": "uib.no", "uit": "uit.no", "ntnu": "ntnu.no"}
REPLAY_KEY = "scenario-replay-key"


@dataclass
class ServedFake:
    """A source's fake, served on a local port: its store, what the connectors need to
    reach it, the notifications it has queued since last asked, and how to stop it."""

    store: Any
    settings: Mapping[str, object]
    close: Callable[[], Awaitable[None]]
    take: Callable[[], list[fake_http.Notification]] = list


Change = Callable[[Any, Event], Awaitable[None] | None]


@dataclass(frozen=True)
class Kind:
    """How an event of one kind changes the fake: ``put`` its body, or ``delete`` the
    object the body names (None: the source cannot delete this kind)."""

    put: Change
    delete: Change | None = None

    async def apply(self, store: Any, event: Event) -> None:
        change = self.delete if event.delete else self.put
        if change is None:
            raise ValueError(f"{event.source}/{event.kind} cannot be deleted")
        done = change(store, event)
        if inspect.isawaitable(done):
            await done


@dataclass(frozen=True)
class SourceSpec:
    """One source: its fake, its kinds and the connectors that read it."""

    serve: Callable[[Clock, str], Awaitable[ServedFake]]  # (event clock, institution)
    kinds: Mapping[str, Kind]
    feed: tuple[str, ...] = ()
    polled: tuple[str, ...] = ()
    deletions_by_reconciliation: bool = False

    @property
    def connectors(self) -> tuple[str, ...]:
        return self.feed + self.polled


# -- DFØ ---------------------------------------------------------------------------------


async def _serve_dfo(clock: Clock, institution: str) -> ServedFake:
    fake = FakeDfo()
    outbox = fake_http.Outbox()

    async def queue(body: bytes) -> None:
        outbox.put(fake_http.Notification("dfo.notification", body))

    fake.notifications = NotificationFaults(queue)  # the feed, without the AMQP transport
    base_url = await fake.start()
    return ServedFake(fake, {"base_url": base_url}, fake.stop, outbox.take)


def _dfo_object(kind: str) -> Kind:
    async def put(fake: FakeDfo, event: Event) -> None:
        object_id = fake.put(kind, event.body)  # type: ignore[arg-type]
        await fake.notify(kind, object_id)  # type: ignore[arg-type]

    async def delete(fake: FakeDfo, event: Event) -> None:
        fake.remove(kind, str(event.body["id"]))  # type: ignore[arg-type]
        await fake.notify(kind, str(event.body["id"]))  # type: ignore[arg-type]

    return Kind(put, delete)


def _payroll_run(fake: FakeDfo, event: Event) -> None:
    run = event.body
    finished = run.get("ferdigstilt")
    fake.add_run(
        str(run["id"]),
        str(run["periode"]),
        list(run.get("resultater") or []),
        finished=datetime.fromisoformat(finished) if finished else event.at,
        run_type=str(run.get("type") or "ordinaer"),
    )


# -- the IAM systems and Greg (REST with a notification feed) ------------------------------


async def _serve_cerebrum(clock: Clock, institution: str) -> ServedFake:
    store = cerebrum.CerebrumStore(api_keys=[REPLAY_KEY], clock=clock)
    server = await cerebrum.serve(store)
    settings = {
        "base_url": f"{server.url}/",
        "api_key": REPLAY_KEY,
        "feide_realm": FEIDE_REALM.get(institution),
    }
    return ServedFake(store, settings, server.close, store.take_notifications)


async def _serve_greg(clock: Clock, institution: str) -> ServedFake:
    store = greg.GregStore(api_keys=[REPLAY_KEY], today=lambda: clock().date())
    server = await greg.serve(store)
    settings = {"base_url": f"{server.url}/", "api_key": REPLAY_KEY}
    return ServedFake(store, settings, server.close, store.take_notifications)


async def _serve_felles_iam(clock: Clock, institution: str) -> ServedFake:
    store = felles_iam.FellesIamStore(
        institution=institution,
        domain=FEIDE_REALM.get(institution, f"{institution}.no"),
        api_keys=[REPLAY_KEY],
        clock=clock,
    )
    server = await felles_iam.serve(store)
    settings = {"base_url": f"{server.url}{felles_iam.BASE_PATH}/", "api_key": REPLAY_KEY}
    return ServedFake(store, settings, server.close, store.take_notifications)


# -- polled sources ----------------------------------------------------------------------


async def _serve_unit4(clock: Clock, institution: str) -> ServedFake:
    store = unit4.Unit4Store(clock=clock)
    server = await unit4.serve(store)
    settings = {"base_url": server.url, "token": unit4.DEFAULT_TOKEN, "company_id": unit4.COMPANY}
    return ServedFake(store, settings, server.close)


async def _serve_web(clock: Clock, institution: str) -> ServedFake:
    store = web.WebStore(clock=clock)
    server = await web.serve(store)
    return ServedFake(store, {"base_url": server.url, "token": web.DEFAULT_TOKEN}, server.close)


async def _serve_orgreg(clock: Clock, institution: str) -> ServedFake:
    store = orgreg.OrgRegStore()
    server = await orgreg.serve(store)
    settings = {"base_url": server.url, "api_key": orgreg.DEFAULT_API_KEY}
    return ServedFake(store, settings, server.close)


async def _serve_profile_files(clock: Clock, institution: str) -> ServedFake:
    directory = Path(tempfile.mkdtemp(prefix="scenario-pages-"))

    async def close() -> None:
        shutil.rmtree(directory, ignore_errors=True)

    export = ExportDirectory(directory, {})
    return ServedFake(export, {"directory": str(directory)}, close)


def _write_page(export: ExportDirectory, event: Event) -> None:
    """The page file, modified at the event's time (its record's source timestamp)."""
    page_id = str(event.body["id"])
    export.write(page_id, json.dumps(event.body, ensure_ascii=False).encode())
    moment = event.at.timestamp()
    os.utime(export.directory / f"{page_id}.json", (moment, moment))


def _remove_page(export: ExportDirectory, event: Event) -> None:
    (export.directory / f"{event.body['id']}.json").unlink(missing_ok=True)


SOURCE_TABLE: dict[str, SourceSpec] = {
    "dfo": SourceSpec(
        _serve_dfo,
        {
            "ansatt": _dfo_object("ansatt"),
            "stilling": _dfo_object("stilling"),
            "organisasjon": _dfo_object("organisasjon"),
            "lonnskjoring": Kind(_payroll_run),
        },
        feed=("dfo-employee", "dfo-position", "dfo-orgunit"),
        polled=("dfo-payroll",),
    ),
    "cerebrum": SourceSpec(
        _serve_cerebrum,
        {
            "person": Kind(
                lambda s, e: s.put_person(e.body), lambda s, e: s.delete_person(e.body["id"])
            ),
            "account": Kind(
                lambda s, e: s.put_account(e.body), lambda s, e: s.delete_account(e.body["name"])
            ),
        },
        feed=("cerebrum-person", "cerebrum-account"),
    ),
    "greg": SourceSpec(
        _serve_greg,
        {
            "person": Kind(
                lambda s, e: s.put_person(e.body), lambda s, e: s.delete_person(e.body["id"])
            )
        },
        feed=("greg-person",),
    ),
    "felles_iam": SourceSpec(
        _serve_felles_iam,
        {
            "user": Kind(
                lambda s, e: s.put_user(e.body), lambda s, e: s.delete_user(str(e.body["id"]))
            )
        },
        feed=("felles-iam-account", "felles-iam-person"),
    ),
    "unit4": SourceSpec(
        _serve_unit4,
        {
            "resource": Kind(
                lambda s, e: s.put_resource(e.body),
                lambda s, e: s.delete_resource(str(e.body["resourceId"])),
            ),
            "approver_role": Kind(
                lambda s, e: s.put_approver_role(e.body),
                lambda s, e: s.delete_approver_role(str(e.body["assignmentId"])),
            ),
        },
        polled=("unit4-resource", "unit4-approver-role"),
        deletions_by_reconciliation=True,
    ),
    "web": SourceSpec(
        _serve_web,
        {"profile": Kind(lambda s, e: s.put(e.body), lambda s, e: s.delete(str(e.body["uri"])))},
        polled=("web-profile",),
    ),
    "orgreg": SourceSpec(
        _serve_orgreg,
        {"ou": Kind(lambda s, e: s.put(e.body), lambda s, e: s.delete(int(e.body["ouId"])))},
        polled=("orgreg-orgunit",),
        deletions_by_reconciliation=True,
    ),
    "profile_files": SourceSpec(
        _serve_profile_files,
        {"page": Kind(_write_page, _remove_page)},
        polled=("profile-files",),
        deletions_by_reconciliation=True,
    ),
}
