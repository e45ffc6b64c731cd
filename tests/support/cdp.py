"""A Chrome DevTools Protocol client for the browser tests of the report and the fleet page.

Headless Chromium is started with ``--remote-debugging-pipe``: it reads protocol messages on
file descriptor 3 and writes them on 4, NUL-separated JSON (the transport Playwright and
Puppeteer use). No port is opened and nothing but Chromium itself is needed.

    with Browser.launch() as browser:
        page = browser.new_page(1280, 900)
        page.goto("file:///tmp/report.html")
        page.evaluate("document.title")
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

#: The flags the issue asks for, plus the pipe transport and a fixed window size.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    """The Chromium executable, or None (``VMTRIAGE_CHROMIUM`` overrides the search)."""
    override = os.environ.get("VMTRIAGE_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


class CDPError(RuntimeError):
    pass


class Browser:
    """One headless Chromium process and the protocol connection to it."""

    def __init__(self, proc: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.proc = proc
        self._out = os.fdopen(to_browser, "wb", buffering=0)
        self._in = os.fdopen(from_browser, "rb", buffering=0)
        self._next_id = 0
        self._lock = threading.Lock()
        self._waiting: dict[int, dict[str, Any]] = {}
        self._done: dict[int, threading.Event] = {}
        self.events: list[dict[str, Any]] = []
        self._events_changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    @contextmanager
    def launch(cls, executable: str | None = None, *extra: str) -> Iterator[Browser]:
        executable = executable or find_chromium()
        if not executable:
            raise CDPError("no Chromium executable found")
        profile = tempfile.mkdtemp(prefix="vmtriage-chromium-")
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()

        def child_fds() -> None:  # runs in the child between fork and exec
            # Move both ends out of the way first: either may already be 3 or 4.
            high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", *extra, "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4, to_child_r, from_child_w),  # closed after preexec_fn otherwise
            preexec_fn=child_fds,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        browser = cls(proc, to_child_w, from_child_r)
        try:
            browser.call("Browser.getVersion", timeout=30)
            yield browser
        finally:
            browser.close()
            shutil.rmtree(profile, ignore_errors=True)

    # -- transport -----------------------------------------------------------------------
    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._in.read(65536)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        self._waiting[message["id"]] = message
                        event = self._done.get(message["id"])
                    if event is not None:
                        event.set()
                else:
                    with self._events_changed:
                        self.events.append(message)
                        self._events_changed.notify_all()
        with self._lock:
            for event in self._done.values():
                event.set()

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            done = self._done[ident] = threading.Event()
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        if not done.wait(timeout):
            raise CDPError(f"{method}: no answer in {timeout} s")
        with self._lock:
            reply = self._waiting.pop(ident, None)
            del self._done[ident]
        if reply is None:
            raise CDPError(f"{method}: the browser went away")
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(
        self, method: str, session: str | None, timeout: float = 30, after: int = 0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._events_changed:
            while True:
                for event in self.events[after:]:
                    if event.get("method") == method and event.get("sessionId") == session:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CDPError(f"no {method} event in {timeout} s")
                self._events_changed.wait(left)

    def new_page(self, width: int = 1280, height: int = 900) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Network", "Log"):
            page.call(f"{domain}.enable")
        page.set_viewport(width, height)
        return page

    def close(self) -> None:
        with suppress(CDPError):
            self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for stream in (self._out, self._in):
            with suppress(OSError):
                stream.close()


class Page:
    """One tab: navigate, evaluate JavaScript, record requests and console errors."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return self.browser.call(method, params, session=self.session, **kw)

    def set_viewport(self, width: int, height: int) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def goto(self, url: str, timeout: float = 30) -> None:
        mark = len(self.browser.events)
        self.call("Page.navigate", {"url": url})
        self.browser.wait_event("Page.loadEventFired", self.session, timeout, after=mark)

    def evaluate(self, expression: str, timeout: float = 30) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            raise CDPError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"timed out waiting for {expression}")
            time.sleep(0.05)

    def events(self, method: str) -> list[dict[str, Any]]:
        return [
            e["params"]
            for e in list(self.browser.events)
            if e.get("method") == method and e.get("sessionId") == self.session
        ]

    def requests(self) -> list[str]:
        """Every URL the page asked for (Network.requestWillBeSent)."""
        return [e["request"]["url"] for e in self.events("Network.requestWillBeSent")]

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors (CSP violations...)."""
        out = []
        for e in self.events("Runtime.consoleAPICalled"):
            if e.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in e["args"]))
        for e in self.events("Runtime.exceptionThrown"):
            details = e["exceptionDetails"]
            out.append(str(details.get("exception", {}).get("description") or details))
        for e in self.events("Log.entryAdded"):
            if e["entry"].get("level") == "error":
                out.append(f"{e['entry'].get('source')}: {e['entry'].get('text')}")
        return out

    def mouse(self, kind: str, x: float, y: float, buttons: int = 0) -> None:
        params: dict[str, Any] = {"type": kind, "x": x, "y": y, "buttons": buttons}
        if kind in ("mousePressed", "mouseReleased"):
            params.update(button="left", clickCount=1)
        self.call("Input.dispatchMouseEvent", params)

    def screenshot(self, path: Path, full_page: bool = False) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
            )
        data = self.call("Page.captureScreenshot", params, timeout=60)["data"]
        path.write_bytes(base64.b64decode(data))

    def pdf(self, path: Path) -> None:
        data = self.call(
            "Page.printToPDF",
            {"printBackground": True, "preferCSSPageSize": True},
            timeout=60,
        )["data"]
        path.write_bytes(base64.b64decode(data))
