"""The dashboard browser tests' peers: a real ``infertel dashboard`` server and headless Chromium.

The server is the console script started as a subprocess on a free 127.0.0.1 port; Chromium is
Debian's ``chromium`` (``scripts/install-peers.sh``) driven through the ``playwright`` package,
which is pointed at that binary and never downloads a browser of its own. :func:`visit` loads one
page and checks what every page must satisfy; each test then asserts on its content.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / ".cache" / "screenshots"  # git-ignored; CI keeps them as artifacts
LOOPBACK = "127.0.0.1"


def infertel_command() -> list[str]:
    """The ``infertel`` console script of this interpreter's environment (module fallback)."""
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "infertel._internal.cli"]


def clean_env() -> dict[str, str]:
    """The environment without OTel settings, so the CLI writes to / reads from the given store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["COLUMNS"] = "200"
    return env


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (free right now)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def chromium_executable() -> str:
    """Path of Debian's chromium; skips (a failure in CI) when it is not installed."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed: bash scripts/install-peers.sh")
    return path


@contextmanager
def dashboard_server(store: Path, *extra: str, timeout_s: float = 30.0) -> Iterator[str]:
    """Run ``infertel dashboard --store STORE`` on a free port; yields its base URL (no trailing slash).

    Waits until ``GET /`` answers; on exit terminates the process (then kills it after 5 s).
    """
    port = free_port()
    command = [*infertel_command(), "dashboard", "--store", str(store), "--port", str(port), *extra]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env()
    )  # fmt: skip
    base = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read() if proc.stdout else ""
                pytest.fail(f"{' '.join(command)} exited with {proc.returncode}:\n{output}")
            try:
                if httpx.get(base + "/", timeout=2.0).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{' '.join(command)} did not answer within {timeout_s} s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


@dataclass
class Visit:
    """What loading one page in Chromium showed."""

    url: str
    status: int
    headers: dict[str, str]
    text: str  # document.body.innerText
    screenshot: Path
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    data: Any = None  # what the page's ``extract`` function returned


# Runs in the page (through the DevTools protocol, which the page's CSP does not govern).
_PAGE_FACTS = """() => ({
  scripts: document.querySelectorAll('script').length,
  brokenImages: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
  emptySvgs: [...document.querySelectorAll('svg')].filter(s => {
      const r = s.getBoundingClientRect(); return r.width === 0 || r.height === 0; }).length,
  svgs: document.querySelectorAll('svg').length,
  filledStrokes: [...document.querySelectorAll('svg path')]
      .filter(p => /(^|\\s)(axis|line|thr-\\w+)(\\s|$)/.test(p.getAttribute('class') || ''))
      .filter(p => getComputedStyle(p).fill !== 'none').map(p => p.getAttribute('class')),
  inlineHandlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])
      .filter(a => a.name.startsWith('on')).map(a => a.name),
  javascriptUrls: [...document.querySelectorAll('[href],[src],[action]')]
      .map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action'))
      .filter(u => /^\\s*javascript:/i.test(u)),
})"""


def visit(context: Any, url: str, name: str, extract: str | None = None) -> Visit:
    """Load ``url`` in a new tab of ``context``, screenshot it to ``.cache/screenshots/NAME.png``, check it.

    ``extract`` is a JavaScript function run in the page; what it returns is ``Visit.data``.

    Checked for every page: HTTP 200 with a Content-Security-Policy that allows no script, no
    ``<script>`` element, inline handler or ``javascript:`` URL, every image decoded and every SVG
    drawn with a non-zero size (chart strokes unfilled), no failed or >= 400 request, no console
    error, no dialog, and no request to any host but 127.0.0.1.
    """
    page = context.new_page()
    seen = Visit(url=url, status=0, headers={}, text="", screenshot=SCREENSHOTS / f"{name}.png")
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("requestfailed", lambda request: seen.failed.append(f"{request.url}: {request.failure}"))
    page.on("response", lambda r: r.status >= 400 and seen.failed.append(f"{r.url}: HTTP {r.status}"))
    page.on("console", lambda message: message.type == "error" and seen.console_errors.append(message.text))
    page.on("pageerror", lambda error: seen.console_errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        response = page.goto(url, wait_until="load")
        assert response is not None, url
        seen.status = response.status
        seen.headers = {k.lower(): v for k, v in response.headers.items()}
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(seen.screenshot), full_page=True)
        facts = page.evaluate(_PAGE_FACTS)
        seen.text = page.inner_text("body")
        if extract is not None:
            seen.data = page.evaluate(extract)
    finally:
        page.close()
    assert seen.status == 200, (url, seen.status)
    assert_script_free_csp(seen.headers.get("content-security-policy", ""))
    assert facts["scripts"] == 0, url
    assert facts["inlineHandlers"] == [] and facts["javascriptUrls"] == [], (url, facts)
    assert facts["brokenImages"] == [], (url, facts["brokenImages"])
    assert facts["emptySvgs"] == 0, (url, facts)
    assert facts["filledStrokes"] == [], (url, "chart lines drawn filled", facts["filledStrokes"][:5])
    assert seen.failed == [], (url, seen.failed)
    assert seen.console_errors == [], (url, seen.console_errors)
    assert seen.dialogs == [], (url, seen.dialogs)
    foreign = [u for u in seen.requests if urlsplit(u).scheme != "data" and urlsplit(u).hostname != LOOPBACK]
    assert foreign == [], (url, foreign)
    assert seen.screenshot.stat().st_size > 1000, seen.screenshot
    return seen


def assert_script_free_csp(policy: str) -> None:
    """``policy`` (a Content-Security-Policy header) lets no script run: script-src or default-src 'none'."""
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = [w.lower() for w in words[1:]]
    governing = directives.get("script-src", directives.get("default-src"))
    assert governing == ["'none'"], f"Content-Security-Policy must forbid scripts, got {policy!r}"


def row_text(text: str, label: str) -> str:
    """The line of ``text`` (a page's innerText; table cells are tab-separated) that starts with ``label``."""
    for line in text.splitlines():
        if line.split("\t", 1)[0].strip() == label:
            return line
    raise AssertionError(f"no row for {label!r} in:\n{text}")


def numbers(text: str) -> list[str]:
    """The numbers written in ``text`` (thousands separators kept as written)."""
    return re.findall(r"\d[\d,]*(?:\.\d+)?", text)
