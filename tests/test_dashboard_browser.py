"""The dashboard in a real headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium): the worker turns a small scenario into tasks through the real
broker, ``hub dashboard`` serves them, and the page shows exactly the tasks on
hub.tasks, filters them, and opens a task with its evidence. A screenshot is saved to
``$HUB_SCREENSHOT_DIR`` (default ``tests/artifacts/``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from hub.settings import load_settings
from hub.task_commands import latest_tasks, send_feedback
from tests.conftest import KafkaEndpoint
from tests.factories import iam_account
from tests.kafka_support import (
    ROOT,
    collect,
    hub_pipeline,
    stop_process_group,
    task_states,
    worker_for,
)
from tests.test_rule_families_through_kafka import TODAY, _publish, employee, records

pytestmark = [pytest.mark.kafka, pytest.mark.registry, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(os.environ.get("HUB_SCREENSHOT_DIR") or ROOT / "tests" / "artifacts")
HOSTILE = "<script>window.hacked = 1</script>"
NEW_HIRE = "access.new_hire_without_account"
NAMES = ["Ingrid", "Nils", "Marte", "Per", "Åse"]  # the rule families' DFØ people


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium, as Debian packages it; skipped only where it is not installed."""
    if CHROMIUM is None:
        pytest.skip("no chromium installed (apt-get install chromium chromium-driver; CI does)")
    if CHROMEDRIVER is None:
        pytest.fail(
            "chromium is installed but chromedriver is not: apt-get install chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in CI
        "--disable-dev-shm-usage",
        "--window-size=1500,1200",
        "--force-device-scale-factor=1",
        "--lang=en-GB",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


class DashboardProcess:
    """``python -m hub dashboard --port 0`` in a subprocess; it prints its URL."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "dashboard", "--port", "0"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def url(self, within_s: float = 30) -> str:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            for line in self.lines:
                if line.startswith("dashboard at "):
                    return line.split()[2]
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("hub dashboard printed no URL:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        return stop_process_group(self.proc, within_s=20)


def _scenario(secret: str) -> list[tuple[str, dict[str, Any]]]:
    """The rule families' cases (access, guests, web, payroll, approvers) and two more
    new hires without accounts, one with a name that is an attack on the page."""
    items = [item for cases in records(secret).values() for item in cases]
    names = iter(NAMES)
    for source, record in items:
        if source == "source.dfo.employee":
            record["first_name"] = next(names)
    hires = [
        employee(
            secret,
            910011,
            fornavn="Kari",
            etternavn="Nordmann",
            startdato=(TODAY + timedelta(days=10)).isoformat(),
        ),
        employee(
            secret,
            910012,
            fornavn=HOSTILE,
            etternavn="Sørli",
            startdato=(TODAY + timedelta(days=3)).isoformat(),
        ),
    ]
    return items + [("source.dfo.employee", hire) for hire in hires]


def _opened(rs: list[Any], topic: str) -> dict[str, dict[str, Any]]:
    """The latest OPEN task of each new hire, by employee id in its evidence."""
    found: dict[str, dict[str, Any]] = {}
    for r in rs:
        task = r.decoded
        if r.topic == topic and task and task["rule_id"] == NEW_HIRE:
            for e in task["evidence"]:
                if e["field"] == "employee_id":
                    found[e["value"]] = task
    return found


def _wait(driver: webdriver.Chrome, what: str, ready: Callable[[Any], Any], within_s: float = 30):
    waiting = WebDriverWait(
        driver, within_s, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
    )
    try:
        return waiting.until(ready)
    except TimeoutException:
        raise AssertionError(
            f"{what}: not seen within {within_s}s; rows shown: {_shown(driver)}"
        ) from None


def _shown(driver: webdriver.Chrome) -> dict[str, tuple[str, str]]:
    """The task list as shown, read at one moment: task id -> (severity, state)."""
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#task-list tbody tr[data-task-id]'),"
        " (row) => [row.dataset.taskId, row.dataset.severity, row.dataset.state])"
    )
    return {task_id: (severity, state) for task_id, severity, state in rows}


def _tiles(driver: webdriver.Chrome, names: Iterable[str]) -> dict[str, str]:
    return {name: _text(driver, f"#tile-{name}") for name in names}


def _text(driver: webdriver.Chrome, selector: str) -> str:
    """The text of an element as shown, read at one moment (the page redraws itself)."""
    return str(
        driver.execute_script("return document.querySelector(arguments[0]).innerText", selector)
    )


def _cells(driver: webdriver.Chrome, selector: str) -> list[list[str]]:
    """The cells of each table row matching ``selector``, read at one moment."""
    return list(
        driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]),"
            " (row) => Array.from(row.cells, (cell) => cell.innerText))",
            selector,
        )
    )


def _retry(action: Callable[[], object], attempts: int = 5) -> None:
    """A click or a choice, tried again if the page redrew the element meanwhile."""
    for attempt in range(attempts):
        try:
            action()
        except StaleElementReferenceException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)
        else:
            return


def _choose(driver: webdriver.Chrome, select_id: str, value: str) -> None:
    _retry(lambda: Select(driver.find_element(By.ID, select_id)).select_by_value(value))


def _click(driver: webdriver.Chrome, selector: str) -> None:
    _retry(lambda: driver.find_element(By.CSS_SELECTOR, selector).click())


class TestDashboardInChromium:
    async def test_the_page_shows_filters_and_details_the_tasks_of_a_scenario(
        self,
        kafka: KafkaEndpoint,
        registry_url: str,
        topic_prefix: str,
        tmp_path: Path,
        browser: webdriver.Chrome,
    ) -> None:
        """Real findings become tasks; the page shows those on hub.tasks, filters them
        by severity and rule, shows one task's evidence, and never runs a name as code."""
        started = time.monotonic()
        pipeline = await hub_pipeline(kafka, registry_url, topic_prefix)
        tasks_topic = pipeline.topics.name("hub.tasks")
        settings = load_settings(
            kafka_bootstrap_servers=kafka.bootstrap_servers,
            schema_registry_url=registry_url,
            topic_prefix=topic_prefix,
        )
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        worker = worker_for(kafka, registry_url, topic_prefix, tmp_path)
        try:
            await _publish(pipeline, producer, _scenario(pipeline.secret))
            with worker:
                seen = await collect(
                    kafka.bootstrap_servers,
                    [tasks_topic],
                    codec=pipeline.codec,
                    decode_topics=(tasks_topic,),
                    until=lambda rs: (
                        {"910001", "910011", "910012"} <= set(_opened(rs, tasks_topic))
                        and len({r.decoded["rule_id"] for r in rs if r.decoded}) >= 5
                    ),
                )
                hires = _opened(seen, tasks_topic)
                # One new hire gets an account (resolved today); one is accepted (suppressed).
                account = iam_account(employee_id="910001", username="ingridb", account_id="a-1")
                await _publish(pipeline, producer, [("source.iam.account", account)])
                await send_feedback(
                    settings,
                    hires["910011"]["task_id"],
                    "SUPPRESS",
                    decided_by="kari.hr",
                    reason="Account ordered by hand",
                    expires_at=None,
                )
                await collect(
                    kafka.bootstrap_servers,
                    [tasks_topic],
                    codec=pipeline.codec,
                    decode_topics=(tasks_topic,),
                    until=lambda rs: (
                        {"RESOLVED", "SUPPRESSED"} <= set(task_states(rs, tasks_topic))
                    ),
                )
                log = worker.log()
        finally:
            await producer.stop()
            await pipeline.codec.close()
        truth = await latest_tasks(settings)  # the worker has stopped: hub.tasks is final
        assert {t["state"] for t in truth.values()} >= {"OPEN", "RESOLVED", "SUPPRESSED"}, log
        assert len({t["severity"] for t in truth.values()}) == 3, "every severity is there"

        dashboard = DashboardProcess(
            {
                "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                "HUB_SCHEMA_REGISTRY_URL": registry_url,
                "HUB_TOPIC_PREFIX": topic_prefix,
                "HUB_STATE_DIR": str(tmp_path),
            }
        )
        try:
            url = dashboard.url()
            browser.get(url)
            self._check_page(browser, truth, hires)
            screenshot = self._screenshot(browser, hires["910012"]["task_id"])
            console = browser.get_log("browser")
        finally:
            code = dashboard.stop()
        assert code == 0, "SIGTERM stops the dashboard cleanly:\n" + "\n".join(dashboard.lines)
        assert not [e for e in console if e["level"] == "SEVERE"], console
        assert screenshot.stat().st_size > 20_000
        print(f"\nscreenshot: {screenshot}; {time.monotonic() - started:.1f}s in all")

    def _check_page(
        self,
        driver: webdriver.Chrome,
        truth: dict[str, dict[str, Any]],
        hires: dict[str, dict[str, Any]],
    ) -> None:
        expected = {t["task_id"]: (t["severity"], t["state"]) for t in truth.values()}
        _wait(driver, "every task of hub.tasks", lambda d: _shown(d) == expected)
        states = [t["state"] for t in truth.values()]
        counted = {
            "open": str(states.count("OPEN")),
            "suppressed": str(states.count("SUPPRESSED")),
            "resolved_today": str(states.count("RESOLVED")),
        }
        _wait(driver, f"the tiles {counted}", lambda d: _tiles(d, counted) == counted)

        # A hostile display name is shown as text, and nothing of it runs.
        hostile = hires["910012"]["task_id"]
        assert HOSTILE in _text(driver, f'tr[data-task-id="{hostile}"]')
        assert driver.execute_script("return window.hacked") is None
        assert len(driver.find_elements(By.TAG_NAME, "script")) == 1

        # Severity P1 only, then one rule only; then back to every task.
        _choose(driver, "f-severity", "P1")
        p1 = {k: v for k, v in expected.items() if v[0] == "P1"}
        assert 0 < len(p1) < len(expected)
        _wait(driver, "the P1 tasks", lambda d: _shown(d) == p1)
        _choose(driver, "f-severity", "")
        _choose(driver, "f-rule", NEW_HIRE)
        hired = {k: v for k, v in expected.items() if truth[k]["rule_id"] == NEW_HIRE}
        _wait(driver, f"the tasks of {NEW_HIRE}", lambda d: _shown(d) == hired)
        assert f"{len(hired)} tasks match." in _text(driver, "#task-count")
        _click(driver, "#filters button[type=reset]")
        _wait(driver, "every task again", lambda d: _shown(d) == expected)

        # The suppressed hire's detail: its evidence and its exception.
        chosen = truth[hires["910011"]["task_id"]]
        _click(driver, f'button[data-task-id="{chosen["task_id"]}"]')
        _wait(driver, "the detail pane", lambda d: _text(d, "#detail-title") == chosen["title_en"])
        evidence = [row[:3] for row in _cells(driver, "#detail-evidence tbody tr")]
        assert evidence == [
            [e["system"], e["field"], e["value"] or "\N{EN DASH}"] for e in chosen["evidence"]
        ]
        facts = _text(driver, "#detail-facts")
        assert chosen["person_key"] in facts
        assert "Kari Nordmann" in facts
        assert "Account ordered by hand" in _text(driver, "#detail-exception")
        assert _text(driver, "#detail-title-nb") == chosen["title_nb"]

        # Nothing came from elsewhere, and no national ID reached the page.
        loaded = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        origin = driver.current_url.split("#")[0].rstrip("/")
        assert loaded
        assert all(name.startswith(origin) for name in loaded), loaded
        page = driver.page_source
        for number in (910001, 910003, 910011, 910012):
            assert f"0101{number:07d}"[-11:] not in page

    def _screenshot(self, driver: webdriver.Chrome, task_id: str) -> Path:
        """The whole page, every task listed and the hostile-named hire's detail open."""
        _click(driver, f'button[data-task-id="{task_id}"]')
        _wait(driver, "the hostile name's task", lambda d: HOSTILE in _text(d, "#detail-facts"))
        _wait(
            driver,
            "the health of Kafka and the lag",
            lambda d: (
                d.execute_script("return document.body.dataset.loaded") == "yes"
                and d.execute_script("return document.querySelectorAll('#lag tbody th').length")
            ),
        )
        driver.execute_script("window.scrollTo(0, 0)")
        height, chrome = driver.execute_script(
            "return [document.documentElement.scrollHeight, outerHeight - innerHeight]"
        )
        driver.set_window_size(1500, min(int(height) + int(chrome), 5000))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / "dashboard.png"
        assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
        return path
