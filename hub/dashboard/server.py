"""``hub dashboard``: one web page and its JSON API, served by aiohttp.

The page (``static/``: one HTML file, one script, one stylesheet) loads nothing from
elsewhere: the Content-Security-Policy allows this server only. The API answers from
what :class:`~hub.dashboard.feed.DashboardFeed` has read:

- ``GET /api/summary``: the tiles, open tasks by rule, severity, owner and age;
- ``GET /api/tasks?state=&rule=&severity=&owner=&institution=&overdue=&text=&limit=``;
- ``GET /api/tasks/{task_id}``: one task with its evidence and resolution evidence;
- ``GET /api/health``: Kafka, dead letters, lag per consumer group, connectors.

Tasks carry masked values only; the feed also redacts any eleven-digit number in a
task's texts and evidence (:func:`hub.dashboard.state.redacted`) before it is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.clock import business_date
from hub.dashboard.connector_reports import ConnectorHealthPoller
from hub.dashboard.feed import DashboardFeed
from hub.dashboard.state import DashboardError, TaskFilter, select_tasks, task_detail
from hub.settings import HubSettings
from hub.topic_tail import plain_json

__all__ = ["STATIC_DIR", "create_app", "run_dashboard", "serving"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_LIMIT = 5000


@dataclass(frozen=True)
class _Served:
    feed: DashboardFeed
    clock: Callable[[], datetime]


_SERVED = web.AppKey("served", _Served)
_SECURITY_HEADERS = {
    # Only this server: no CDN, no external font, no inline script or style.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self';"
        " connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
        " frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=plain_json)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _bad_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request the dashboard cannot answer as asked gets 400 and the reason."""
    try:
        return await handler(request)
    except DashboardError as exc:
        return _json({"error": str(exc)}, status=400)


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY_HEADERS)


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def _no_icon(_request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _summary(request: web.Request) -> web.Response:
    served = request.app[_SERVED]
    return _json(served.feed.summary(served.clock()))


def _limit(raw: str | None) -> int:
    if raw is None:
        return 500
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise DashboardError(f"limit={raw!r} is not a number from 1 to {MAX_LIMIT}")
    return int(raw)


async def _tasks(request: web.Request) -> web.Response:
    chosen = TaskFilter.from_query(request.query)
    served = request.app[_SERVED]
    today = business_date(served.clock())
    feed = served.feed
    found = select_tasks(feed.board.tasks(), chosen, today, _limit(request.query.get("limit")))
    return _json({**found, "loading": not feed.tasks.caught_up})


async def _task(request: web.Request) -> web.Response:
    task_id = request.match_info["task_id"]
    served = request.app[_SERVED]
    task = served.feed.board.get(task_id)
    if task is None:
        return _json({"error": f"no task {task_id} on {served.feed.tasks.topic}"}, status=404)
    return _json(task_detail(task, business_date(served.clock())))


async def _health(request: web.Request) -> web.Response:
    served = request.app[_SERVED]
    return _json(served.feed.health(served.clock()))


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(
    feed: DashboardFeed, *, clock: Callable[[], datetime] = _now, follow: bool = True
) -> web.Application:
    """The page and its API. With ``follow``, the feed runs while the app does."""
    app = web.Application(middlewares=[_bad_requests])
    app[_SERVED] = _Served(feed, clock)
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", _index)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_static("/static/", STATIC_DIR)
    app.router.add_get("/api/summary", _summary)
    app.router.add_get("/api/tasks", _tasks)
    app.router.add_get("/api/tasks/{task_id}", _task)
    app.router.add_get("/api/health", _health)
    if follow:
        app.cleanup_ctx.append(_running(feed))
    return app


def _running(feed: DashboardFeed) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(feed.run(), name="dashboard-feed")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


@contextlib.asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (port 0: a free one) while the context lasts;
    it gives the page's URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise DashboardError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another"
                " --port, or stop the program that holds it"
            ) from None
        bound = runner.addresses[0][1] if runner.addresses else port
        yield f"http://{f'[{host}]' if ':' in host else host}:{bound}/"
    finally:
        await runner.cleanup()


async def run_dashboard(
    settings: HubSettings,
    host: str,
    port: int,
    say: Callable[[str], None],
    connector_urls: Sequence[str] = (),
) -> None:
    """``hub dashboard``: read the hub's Kafka and serve the page until Ctrl-C or SIGTERM."""
    from hub.avro.catalog import SchemaCatalog  # noqa: PLC0415
    from hub.consumer_lag import hub_reads  # noqa: PLC0415
    from hub.endpoints import kafka_bootstrap, make_codec, registry_url  # noqa: PLC0415
    from hub.topics import TopicCatalog  # noqa: PLC0415

    bootstrap = kafka_bootstrap(settings, start=False)
    codec = make_codec(SchemaCatalog(), registry_url(settings, start=False))
    topics = TopicCatalog(prefix=settings.topic_prefix)
    feed = DashboardFeed(
        bootstrap_servers=bootstrap,
        codec=codec,
        tasks_topic=topics.name("hub.tasks"),
        deadletter_topic=topics.name("hub.deadletter"),
        group_prefix=settings.topic_prefix,
        reads=hub_reads(settings.topic_prefix + settings.app_id, topics),
        connector_reports=(poller := ConnectorHealthPoller(connector_urls)),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with serving(create_app(feed), host, port) as url:
            say(f"dashboard at {url} (Kafka {bootstrap}; Ctrl-C stops it)")
            if host not in ("127.0.0.1", "localhost", "::1"):
                say(
                    f"warning: the dashboard has no login; anyone who can reach {url}"
                    " can read the tasks. Put it behind a proxy that signs people in."
                )
            await poller.run(stop)
            await stop.wait()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        await codec.close()
