"""Zero-code parity: ``opentelemetry-instrument`` reports exactly the metrics ``configure()`` reports.

Two real processes per case, one under ``opentelemetry-instrument`` (infertel's distro and
configurator, every installed instrumentor's entry point, the upstream system-metrics one
included) and one calling ``infertel.configure()``; each flushes its metrics into its embedded
store, and the metric names read back from the two stores are compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infertel import environment_variables as env
from infertel._internal.resources.system import CATALOGUE, DEFAULT_SYSTEM_METRICS

OPENTELEMETRY_INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")

CHILD = """
import json, os, sqlite3, sys
from opentelemetry import metrics
if sys.argv[1] == "configure":
    import infertel
    infertel.configure()
metrics.get_meter_provider().force_flush()
db = sqlite3.connect(os.environ["INFERTEL_STORE_PATH"])
names = sorted({name for (name,) in db.execute("SELECT DISTINCT name FROM metric_points")})
print(json.dumps({
    "names": names,
    "upstream_imported": "opentelemetry.instrumentation.system_metrics" in sys.modules,
}))
"""

SYSTEM_PREFIXES = ("system.", "process.", "cpython.")


def _run(tmp_path: Path, mode: str, **env_vars: str) -> dict[str, Any]:
    store = tmp_path / f"{mode}.db"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_", "PYTHONPATH"))}
    child_env.update(
        INFERTEL_STORE_PATH=str(store),
        # infertel's distro and configurator, named: opentelemetry-distro may be installed beside them.
        OTEL_PYTHON_DISTRO="infertel",
        OTEL_PYTHON_CONFIGURATOR="infertel",
        OTEL_METRIC_EXPORT_INTERVAL="600000",  # only the explicit flush exports
        # Importing transformers takes seconds and adds no metric at start-up.
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="infertel_transformers",
        **env_vars,
    )
    command = [sys.executable, "-c", CHILD, mode]
    if mode == "zero-code":
        command = [str(OPENTELEMETRY_INSTRUMENT), *command]
    result = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, set(DEFAULT_SYSTEM_METRICS)),
        ({env.INFERTEL_RESOURCE_METRICS_LIST: "process.thread.count,process.open_file_descriptor.count"},
         {"process.thread.count", "process.unix.file_descriptor.count"}),
        ({env.INFERTEL_RESOURCE_METRICS: "off"}, set()),
    ],
    ids=["default", "list", "off"],
)  # fmt: skip
def test_opentelemetry_instrument_reports_the_metrics_configure_reports(
    tmp_path: Path, settings: dict[str, str], expected: set[str]
) -> None:
    if not OPENTELEMETRY_INSTRUMENT.exists():
        pytest.skip("opentelemetry-instrument is not installed next to this interpreter")
    configured = _run(tmp_path, "configure", **settings)
    zero_code = _run(tmp_path, "zero-code", **settings)
    assert zero_code["names"] == configured["names"]
    system = {name for name in configured["names"] if name.startswith(SYSTEM_PREFIXES)}
    assert system <= set(CATALOGUE)
    if sys.platform == "linux" and expected:
        # Every chosen metric is there (containers without block devices have no system.disk.*).
        assert expected - {"system.disk.io", "system.disk.operations"} <= system <= expected
    else:
        assert system <= expected
    # Neither process imported the upstream system-metrics instrumentor (its private members are no longer used).
    assert (configured["upstream_imported"], zero_code["upstream_imported"]) == (False, False)
