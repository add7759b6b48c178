"""``infertel dashboard``: one-line errors with exit status 2, and a real server that serves the store."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402
from dashboard_support import fill_store, free_port  # noqa: E402


def _command() -> list[str]:
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "infertel._internal.cli"]


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    return {**base, **extra}


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_command(), "dashboard", *args], capture_output=True, text=True, timeout=60, env=_env(**env)
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "store.db"
    fill_store(path, models=("model-a",), requests=2)
    return path


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ("--host", "0.0.0.0"),
            {},
            "infertel dashboard: error: refusing to serve on non-loopback --host 0.0.0.0 without a token "
            "(set --token or $INFERTEL_DASHBOARD_TOKEN)",
        ),
        (
            ("--host", "192.0.2.7", "--token", ""),
            {},
            "infertel dashboard: error: --token must not be empty",
        ),
        (
            ("--port", "70000"),
            {},
            "infertel dashboard: error: argument --port: expected a port from 1 to 65535, got '70000' "
            "(see infertel dashboard --help)",
        ),
        (
            ("--refresh", "-1"),
            {},
            "infertel dashboard: error: argument --refresh: expected seconds >= 0 (0: no reload), got '-1' "
            "(see infertel dashboard --help)",
        ),
        (
            ("--capacity-rps", "0"),
            {},
            "infertel dashboard: error: argument --capacity-rps: expected a positive number, got '0' "
            "(see infertel dashboard --help)",
        ),
        (
            ("--trace-url", "http://127.0.0.1:16686/trace/"),
            {},
            "infertel dashboard: error: --trace-url must contain {trace_id}, got 'http://127.0.0.1:16686/trace/'",
        ),
    ],
)
def test_errors_are_one_line_with_status_2(args: tuple[str, ...], env: dict[str, str], expected: str) -> None:
    result = _run(*args, **env)
    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (2, [expected], "")


def test_missing_store_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = _run("--store", str(missing))
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            f"infertel dashboard: error: no store at {missing} "
            "(run `infertel demo`, or an app with infertel.configure(), first)"
        ],
    )
    assert not missing.exists()
    default = _run(XDG_DATA_HOME=str(tmp_path / "xdg"))
    assert default.returncode == 2
    assert str(tmp_path / "xdg" / "infertel" / "infertel.db") in default.stderr


def test_port_in_use_is_one_line(store: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("--store", str(store), "--port", str(port))
    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (
        2,
        [f"infertel dashboard: error: cannot listen on 127.0.0.1:{port}: Address already in use"],
        "",
    )


@pytest.mark.integration
def test_serves_the_store_read_only_until_interrupted(store: Path) -> None:
    port = free_port()
    before = store.stat().st_mtime_ns
    process = subprocess.Popen(
        [*_command(), "dashboard", "--store", str(store), "--port", str(port), "--refresh", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(INFERTEL_STORE_PATH=str(store)),
    )  # fmt: skip
    try:
        response = _wait(f"http://127.0.0.1:{port}/")
        assert response.status_code == 200
        assert '<meta http-equiv="refresh" content="3">' in response.text
        assert 'data-model="model-a"' in response.text
        api = httpx.get(f"http://127.0.0.1:{port}/api/overview", timeout=30)
        assert [r["requests"] for r in api.json()["rows"]] == [2]
        # No token on loopback: only loopback Host headers (a DNS-rebinding page gets nothing).
        rebound = httpx.get(f"http://127.0.0.1:{port}/api/overview", headers={"Host": f"evil.example:{port}"})
        assert (rebound.status_code, rebound.text) == (400, "Invalid host header")
        named = httpx.get(f"http://127.0.0.1:{port}/api/stats", headers={"Host": f"localhost:{port}"})
        assert (named.status_code, named.json()) == (200, {"live": False, "windows": []})
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert out.splitlines()[0] == f"infertel dashboard: http://127.0.0.1:{port}/  (store {store}; Ctrl-C to stop)"
    assert "Traceback" not in err
    assert store.stat().st_mtime_ns == before


@pytest.mark.integration
def test_serves_the_analysis_planning_and_profiling_pages(store: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*_command(), "dashboard", "--store", str(store), "--port", str(port), "--capacity-rps", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        overview = _wait(f"{base}/")
        for path, title in (
            ("/analysis", "Analysis"),
            ("/autoscaling", "Autoscaling"),
            ("/capacity", "Capacity plan"),
            ("/cost", "Cost"),
            ("/profiles", "Profiles"),
        ):
            assert f'href="{path}"' in overview.text, path  # in the navigation of every page
            page = httpx.get(f"{base}{path}", timeout=30)
            assert (page.status_code, f"<title>{title}") == (200, f"<title>{title}"), path
            assert title in page.text and "<script" not in page.text
        analysis = httpx.get(f"{base}/api/analysis", timeout=30).json()
        assert [(s["service"], s["model"], s["requests"]) for s in analysis["report"]["series"]] == [
            ("svc-a", "model-a", 2)
        ]
        # --capacity-rps reached the planning settings: the answer is about history now, not the missing capacity.
        recommendation = httpx.get(f"{base}/api/autoscaling/recommendations", timeout=30)
        assert "capacity" not in recommendation.json().get("detail", "")
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
    assert "Traceback" not in err


def _wait(url: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.1)
