"""`grade --format html` opened in a real browser: Debian's headless chromium, driven over the
DevTools protocol on a pipe (no port, no network), the page loaded from a file.

For a submission that never trims, the page must load with no console error and no fetch, and
every bar that crosses the budget line, as drawn, must be the one marked over. A screenshot of
the page is kept as the run's artifact (its path is printed). Without chromium the test is
skipped, saying so; .ci/run installs it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SandboxPool, grade_in_process

REPO = Path(__file__).resolve().parent.parent
NO_TRIMMING = REPO / "tests" / "corpus" / "no_trimming"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-pipe",
    "--disable-extensions", "--mute-audio",
)  # fmt: skip
TIMEOUT = 30.0


# Puts the two pipe ends where chromium looks for them, 3 and 4, then becomes chromium.
PLACE_FDS = """import os, sys
read, write = int(sys.argv[1]), int(sys.argv[2])
os.dup2(read, 3); os.dup2(write, 4); os.close(read); os.close(write)
os.execv(sys.argv[3], sys.argv[3:])"""


def above_four(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class DevTools:
    """Chromium's DevTools protocol over --remote-debugging-pipe: JSON messages, each ended by a
    NUL, the browser reading fd 3 and writing fd 4."""

    def __init__(self, profile: Path) -> None:
        assert BROWSER is not None
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Above 4, so that placing them at 3 and 4 in the child cannot overwrite one another.
        to_browser_r, from_browser_w = (above_four(fd) for fd in (to_browser_r, from_browser_w))
        self.process = subprocess.Popen(
            [sys.executable, "-c", PLACE_FDS, str(to_browser_r), str(from_browser_w), BROWSER,
             *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(to_browser_r, from_browser_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Call ``method`` and wait for its answer; events that come first are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._receive()
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0))
            if not ready:
                raise TimeoutError(f"chromium said nothing for {TIMEOUT:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, sandboxes: SandboxPool) -> Path:
    """The report a student gets from `grade --format html --output`, for no_trimming."""
    target = tmp_path_factory.mktemp("report") / "report.html"
    done = grade_in_process(sandboxes, NO_TRIMMING, "--format", "html", "--output", target)
    assert done.returncode == 1, done.stdout + done.stderr  # it fails checks: exit 1
    assert f"report written to {target}" in done.stderr
    return target


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    if BROWSER is None:
        missing = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}, and .ci/run should have installed it")
        pytest.skip(f"{missing}: the page is not tried in a browser")
    devtools = DevTools(tmp_path / "profile")
    try:
        yield devtools
    finally:
        devtools.close()


# Every chart, its budget line and each request's mark as laid out: the top of a bar is the top
# of its stacked parts (the pale band behind a flagged request is not part of the bar).
MEASURE = """
JSON.stringify([...document.querySelectorAll('svg[data-case]')].map(svg => ({
  case: svg.dataset.case,
  budget: Number(svg.dataset.budget),
  budgetY: svg.querySelector('line.budget').getBoundingClientRect().top,
  width: svg.getBoundingClientRect().width,
  marks: [...svg.querySelectorAll('[data-request]')].map(g => ({
    request: Number(g.dataset.request),
    tokens: Number(g.dataset.tokens),
    over: g.dataset.over,
    failed: g.dataset.failed || '',
    outlined: g.querySelector('rect.outline') !== null,
    top: Math.min(...[...g.querySelectorAll('rect.pinned, rect.history, rect.new')]
      .map(r => r.getBoundingClientRect().top)),
  })),
})))
"""


def test_the_page_shows_the_bars_crossing_the_budget_marked_over(
    page: Path,
    browser: DevTools,
    tmp_path_factory: pytest.TempPathFactory,
    record_property: Callable[[str, object], None],
) -> None:
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session)
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        session,
        width=1100,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    browser.send("Page.navigate", session, url=page.as_uri())
    browser.wait_for("Page.loadEventFired")
    measured = browser.send("Runtime.evaluate", session, expression=MEASURE, returnByValue=True)[
        "result"
    ]["value"]
    metrics = browser.send("Page.getLayoutMetrics", session)["cssContentSize"]
    shot = browser.send(
        "Page.captureScreenshot",
        session,
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"], "scale": 1},
    )
    artifact = tmp_path_factory.mktemp("artifacts") / "report-no_trimming.png"
    artifact.write_bytes(base64.b64decode(shot["data"]))
    print(f"\nscreenshot of the report: {artifact}")  # shown with -s or -rP
    record_property("screenshot", str(artifact))  # and in --junitxml reports

    errors = [
        e["params"]
        for e in browser.events
        if (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
        or e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == [], errors
    fetched = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert fetched == [page.as_uri()], "the page fetched something besides itself"

    charts = {chart["case"]: chart for chart in json.loads(measured)}
    conversation_cases = {"short_chat", "long_chat", "korean_emoji", "oversize_line"}
    assert conversation_cases <= set(charts), sorted(charts)
    crossing = 0
    for case, chart in charts.items():
        assert chart["width"] > 0 and chart["marks"], case
        for mark in chart["marks"]:
            over = mark["tokens"] > chart["budget"]
            assert mark["over"] == ("true" if over else "false"), (case, mark)
            assert mark["outlined"] == over, (case, mark)
            # Drawn to scale: a bar is above the budget line exactly when it is over.
            assert (mark["top"] < chart["budgetY"] - 0.5) == over, (case, mark, chart["budgetY"])
            crossing += over
    long_chat = charts["long_chat"]["marks"]
    first_over = next(m for m in long_chat if m["over"] == "true")
    assert "under_budget" in first_over["failed"]
    assert crossing >= 10  # never trimming, it crosses in every long case
    assert artifact.stat().st_size > 10_000
