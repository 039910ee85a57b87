"""A headless Chromium driven through chromedriver's W3C WebDriver HTTP interface, with
requests: the few commands the browser test needs, and no client library.

W3C WebDriver (https://www.w3.org/TR/webdriver2/) for the session, navigation, scripts
and screenshots; chromedriver's own endpoints for what WebDriver has no command for:
``/goog/cdp/execute`` (a DevTools command: viewport size, colour scheme, a screenshot
of the whole page) and ``/se/log`` (the console and the network requests, from the
``goog:loggingPrefs`` logs).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import requests

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Nothing the test does not ask for: no first-run pages, no updates, no sync, no network of its own.
ARGUMENTS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-extensions", "--disable-quic", "--mute-audio",
             "--hide-scrollbars"]


class WebDriverError(AssertionError):
    """chromedriver refused a command."""


class Browser:
    def __init__(self, port: int, profile: Path, log: Path, arguments: tuple[str, ...] = ()):
        self.log = log.open("wb")
        self.driver = subprocess.Popen([str(CHROMEDRIVER), f"--port={port}"], stdout=self.log,
                                       stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"
        self.http = requests.Session()
        try:
            self._wait_ready()
            capabilities = {"browserName": "chrome", "goog:chromeOptions": {
                "binary": str(CHROMIUM), "args": [*ARGUMENTS, *arguments, f"--user-data-dir={profile}"]},
                "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"}}
            answer = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
            self.session = f"/session/{answer['sessionId']}"
        except BaseException:
            self.close()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.http.get(self.base + "/status", timeout=1).json()["value"]["ready"]:
                    return
            except (requests.RequestException, ValueError, KeyError):
                pass
            if self.driver.poll() is not None:
                break
            time.sleep(0.1)
        raise WebDriverError(f"chromedriver did not start (see {self.log.name})")

    def _call(self, method: str, path: str, body: dict | None = None):
        response = self.http.request(method, self.base + path, json=body, timeout=120)
        value = response.json().get("value")
        if response.status_code != 200:
            raise WebDriverError(f"{method} {path}: {response.status_code} {json.dumps(value)[:2000]}")
        return value

    def command(self, method: str, path: str, body: dict | None = None):
        return self._call(method, self.session + path, body)

    def cdp(self, name: str, **params):
        return self.command("POST", "/goog/cdp/execute", {"cmd": name, "params": params})

    def viewport(self, width: int, height: int, *, dark: bool = False) -> None:
        self.cdp("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                 mobile=width < 600)
        self.cdp("Emulation.setEmulatedMedia", media="screen",
                 features=[{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}])

    def open(self, url: str) -> None:
        self.command("POST", "/url", {"url": url})

    def run(self, script: str, *args):
        return self.command("POST", "/execute/sync", {"script": script, "args": list(args)})

    def run_async(self, script: str, *args):
        return self.command("POST", "/execute/async", {"script": script, "args": list(args)})

    def logs(self, kind: str) -> list[dict]:
        """The entries of the ``browser`` (console) or ``performance`` (DevTools events) log since
        the last call."""
        return self.command("POST", "/se/log", {"type": kind})

    def screenshot(self, path: Path, *, whole: bool = True) -> None:
        """The whole page, as a person scrolling it would see it (``whole`` False: the screen)."""
        shot = self.cdp("Page.captureScreenshot", format="png", captureBeyondViewport=whole)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            if getattr(self, "session", None):
                self._call("DELETE", self.session)
        except (requests.RequestException, WebDriverError):
            pass
        finally:
            self.driver.terminate()
            try:
                self.driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
            self.log.close()


def available() -> str | None:
    """None when chromium and chromedriver are installed, else what is missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    return ", ".join(missing) or None
