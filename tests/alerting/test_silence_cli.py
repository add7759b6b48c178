"""``infertel silence add/list/expire`` against a real store file, read back by an engine using it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infertel.alerting import AlertEngine, ReplaySource, ThresholdRule


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "infertel._internal.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_add_list_expire_and_the_engine_reads_them(tmp_path: Path) -> None:
    store = str(tmp_path / "infertel.db")
    added = _run("silence", "add", 'alertname="HotCpu"', "severity=~warn.*", "--duration", "2h",
                 "--comment", "maintenance", "--author", "ops", "--store", store)  # fmt: skip
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.strip()
    assert len(silence_id) == 32

    listed = _run("silence", "list", "--json", "--store", store)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["silences"]
    assert [{k: v for k, v in r.items() if k not in ("starts_at", "ends_at")} for r in rows] == [
        {"id": silence_id, "matchers": ['alertname="HotCpu"', 'severity=~"warn.*"'], "created_by": "ops",
         "comment": "maintenance", "active": True}
    ]  # fmt: skip

    # An engine on the same store mutes the alert while the silence lasts.
    engine = AlertEngine([ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.5)],
                         source=ReplaySource([("infertel_live_cpu_utilization", "0.9x3")]), store=store)  # fmt: skip
    engine.evaluate(60.0)  # the canned samples are at 0, 60 and 120 s
    firing = engine.alerts()[0]
    assert engine.dispatcher.muted(firing, [firing.labels], time.time()) == "silenced"

    expired = _run("silence", "expire", silence_id, "--store", store)
    assert (expired.returncode, expired.stdout.strip()) == (0, f"expired {silence_id}")
    engine.evaluate(120.0)
    assert engine.dispatcher.muted(firing, [firing.labels], time.time()) is None
    engine.shutdown()

    assert _run("silence", "list", "--store", store).stdout.strip() == "no silences"
    assert silence_id in _run("silence", "list", "--all", "--store", store).stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["add", "no-operator"], "infertel silence: error: matcher 'no-operator': expected name=value"),
        (["add", "a=b", "--duration", "forever"], "infertel silence: error: --duration: expected a duration"),
        (["expire", "0123"], "infertel silence: error: no active silence with id 0123"),
    ],
)
def test_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], error: str) -> None:
    result = _run("silence", *args, "--store", str(tmp_path / "s.db"))
    assert result.returncode == 2
    assert result.stderr.startswith(error) and result.stderr.count("\n") == 1, result.stderr
