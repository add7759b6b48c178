"""``infertel analyze`` as a user runs it: a subprocess over a real store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from analysis_fill import Req, S, write

from infertel.analysis import analyze


def _infertel(*args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "infertel._internal.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    env.update(TZ="UTC", COLUMNS="200", **env_extra)
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, env=env)


def _fill(path) -> None:
    now = time.time_ns()
    # The last 30 minutes: decode-heavy llama; the 30 minutes before: the same at half the decode time.
    recent = [Req(now - (1770 - i * 9) * S, ttft=0.1, tpot=0.02 + (i % 7) * 0.001, output=200, input=1000)
              for i in range(190)]  # fmt: skip
    before = [Req(r.start_ns - 1800 * S, ttft=0.1, tpot=r.tpot / 2, output=200, input=1000) for r in recent]
    write(path, recent + before, service="chat\x1b[31m-api")


def test_analyze_json_matches_the_library_and_prices_come_from_the_environment(tmp_path) -> None:
    path = tmp_path / "t.db"
    _fill(path)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"llama": {"input_per_1k": 0.001, "output_per_1k": 0.002}}))
    done = _infertel("analyze", "--store", str(path), "--since", "30m", "--baseline", "previous-window", "--json",
                     INFERTEL_PRICES=str(prices))  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    expected = analyze(path, start_ns=document["start_ns"], end_ns=document["end_ns"], baseline="previous-window",
                       prices=str(prices)).as_dict()  # fmt: skip
    assert document["end_ns"] - document["start_ns"] >= 1800 * S
    assert document["start_time"].endswith("Z") and document["baseline_end_ns"] == document["start_ns"]
    assert {k: v for k, v in document.items() if not k.endswith("_time")} == expected
    [series] = document["series"]
    assert (series["model"], series["requests"]) == ("llama", 190)
    assert series["cost_per_request_usd"] == pytest.approx(1000 * 0.001 / 1000 + 200 * 0.002 / 1000)
    assert document["breakdown"]["tails"][1]["dominant"] == "decode"
    assert document["regression"]["regressed"] is True
    assert [m["verdict"] for m in document["regression"]["metrics"]] == [
        "regression", "no significant change", "regression",
    ]  # fmt: skip


def test_analyze_text_and_errors(tmp_path) -> None:
    path = tmp_path / "t.db"
    _fill(path)
    done = _infertel("analyze", "--store", str(path), "--since", "30m", "--baseline", "previous-window")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Where the time goes" in out and "REGRESSION" in out and "\x1b" not in out
    assert "chat\\x1b[31m-api" in out
    missing = _infertel("analyze", "--store", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and missing.stderr.startswith("infertel analyze: error: no store at")
    assert len(missing.stderr.strip().splitlines()) == 1
    bad = _infertel("analyze", "--store", str(path), "--prices", str(tmp_path / "nope.json"))
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("infertel analyze: error: --prices: cannot read the price file")
    env_bad = _infertel("analyze", "--store", str(path), INFERTEL_PRICES='{"llama": {"output_per_1k": -2}}')
    assert env_bad.returncode == 2
    assert env_bad.stderr.strip() == (
        "infertel analyze: error: INFERTEL_PRICES['llama'].output_per_1k: -2 is not accepted (accepted: a finite"
        " number >= 0, in USD)"
    )
    since = _infertel("analyze", "--since", "soon")
    assert since.returncode == 2 and "expected a duration" in since.stderr
