"""Load a page in headless Chromium (Debian's `chromium`) and check it: console errors, charts
drawn, a screenshot.

Chromium is driven through the Chrome DevTools Protocol over a pipe
(--remote-debugging-pipe: commands on its fd 3, answers on its fd 4, each a JSON message
ended by a NUL byte), so nothing but the standard library and the browser is needed, and
nothing listens on a port.
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
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What every chart of report.html should be once drawn: plotly's <svg class="main-svg">
# with at least one trace in it. A chart whose data is missing is a `.missing` note instead.
CHART_STATE = """(() => {
  const plots = [...document.querySelectorAll("div.plot")];
  const drawn = plots.filter(
    (d) => d.querySelector("svg.main-svg") && d.querySelectorAll("g.trace").length > 0
  );
  return JSON.stringify({
    plots: plots.length,
    drawn: drawn.length,
    undrawn: plots.filter((d) => !drawn.includes(d)).map((d) => d.dataset.figure || "?"),
    missing: document.querySelectorAll(".missing:not(.plot)").length,
    // nothing more will be drawn: no plotly, or every chart drawn or failed (.missing)
    settled: typeof Plotly === "undefined" ||
      plots.every((d) => drawn.includes(d) || d.classList.contains("missing")),
  });
})()"""


class BrowserError(RuntimeError):
    """Chromium could not be started, or did not answer in time."""


@dataclass
class PageCheck:
    url: str
    console_errors: list[str] = field(default_factory=list)
    plots: int = 0
    drawn: int = 0
    undrawn: list[str] = field(default_factory=list)
    missing: int = 0
    screenshot: Path | None = None

    def problems(self) -> list[str]:
        """Why the page is not right; [] when it is."""
        out = [f"console error: {e}" for e in self.console_errors]
        if self.plots == 0:
            out.append("no chart on the page")
        if self.undrawn:
            out.append(f"charts not drawn: {', '.join(self.undrawn)}")
        return out


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "chromium-headless-shell"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """One headless browser; `check(path)` loads a page in a new tab."""

    def __init__(self, binary: str, timeout_s: float = 20.0) -> None:
        self.timeout_s = timeout_s
        self.profile = tempfile.TemporaryDirectory(prefix="benchlab-chromium-")
        self._ids = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        # the browser's ends, numbered from 10 up so that moving them to 3 and 4 below
        # cannot overwrite one with the other
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        theirs = [
            fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_r, from_browser_w)
        ]
        os.close(to_browser_r)
        os.close(from_browser_w)
        args = [
            "--headless",
            "--remote-debugging-pipe",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--hide-scrollbars",
            "--mute-audio",
            f"--user-data-dir={self.profile.name}",
            "--window-size=1280,900",
            "about:blank",
        ]
        # Debian's launcher is a shell script that execs the browser: fd 3 and 4 reach it
        # through bash's redirections (Popen keeps pass_fds under their own numbers).
        read_fd, write_fd = theirs
        script = f'exec "$0" "$@" 3<&{read_fd} 4>&{write_fd} {read_fd}<&- {write_fd}>&-'
        try:
            self.process = subprocess.Popen(
                ["bash", "-c", script, binary, *args],
                pass_fds=theirs,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        finally:
            for fd in theirs:
                os.close(fd)

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self._send("Browser.close")
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self.profile.cleanup()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the protocol ----------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"chromium exited (status {self.process.poll()})")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        self._ids += 1
        request: dict[str, Any] = {"id": self._ids, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = session
        os.write(self._to_browser, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self._ids:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def _wait_event(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            for event in self._events:
                if event.get("method") == method and event.get("sessionId") == session:
                    return
            self._events.append(self._read_message(deadline))

    # -- a page ----------------------------------------------------------------------------
    def check(
        self,
        page: Path,
        screenshot: Path | None = None,
        settle_s: float = 10.0,
        max_height: float | None = None,
    ) -> PageCheck:
        """Load `page`, wait until every chart is drawn (at most `settle_s`), collect the
        console's errors and, if asked, write a PNG screenshot of the whole page (or of its
        top `max_height` CSS pixels)."""
        url = page.resolve().as_uri()
        self._events.clear()
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self._send(f"{domain}.enable", session=session)
        self._send("Page.navigate", {"url": url}, session)
        self._wait_event("Page.loadEventFired", session)
        result = PageCheck(url)
        deadline = time.monotonic() + settle_s
        while True:
            state = json.loads(
                self._send(
                    "Runtime.evaluate", {"expression": CHART_STATE, "returnByValue": True}, session
                )["result"]["value"]
            )
            if state["settled"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        result.plots, result.drawn = state["plots"], state["drawn"]
        result.undrawn, result.missing = state["undrawn"], state["missing"]
        if screenshot is not None:
            size = self._send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            height = min(size["height"], max_height or size["height"])
            shot = self._send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": 0,
                        "width": size["width"],
                        "height": height,
                        "scale": 1,
                    },
                },
                session,
            )
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            result.screenshot = screenshot
        result.console_errors = console_errors(self._events, session)
        self._send("Target.closeTarget", {"targetId": target})
        return result


def console_errors(events: list[dict[str, Any]], session: str) -> list[str]:
    """The errors a page reported: console.error/assert calls, uncaught exceptions, and the
    browser's own error log entries (a failed load, a blocked request)."""
    out = []
    for event in events:
        if event.get("sessionId") != session:
            continue
        params = event.get("params", {})
        method = event.get("method")
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(
                " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
                )
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            out.append(
                details.get("exception", {}).get("description") or details.get("text", "exception")
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            out.append(params["entry"].get("text", ""))
    return out
