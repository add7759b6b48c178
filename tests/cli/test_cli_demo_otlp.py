from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from infertel import semconv


@pytest.mark.integration
@pytest.mark.slow
def test_demo_ships_otlp_to_a_real_backend_when_an_endpoint_is_set(phoenix, tmp_path: Path) -> None:
    project = f"infertel-demo-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=phoenix.otlp_grpc_endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_RESOURCE_ATTRIBUTES=f"openinference.project.name={project}",  # Phoenix files spans by project
        COLUMNS="200",
    )
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "infertel._internal.cli"]
    store = tmp_path / "unused.db"
    result = subprocess.run([*command, "demo", "--requests", "24", "--concurrency", "4", "--store", str(store)],
                            capture_output=True, text=True, timeout=180, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "measured in-process (telemetry went over OTLP)" in result.stdout
    assert f"Telemetry sent over OTLP (grpc) to {phoenix.otlp_grpc_endpoint}" in result.stdout
    assert "read back from the SQLite store" not in result.stdout
    spans = phoenix.wait_for_spans(24, project=project, timeout_s=60)
    assert len(spans) == 24
    assert {s["attributes"][semconv.GEN_AI_OPERATION_NAME] for s in spans} == {"chat"}
    assert all(s["attributes"][semconv.GEN_AI_REQUEST_MODEL] for s in spans)
    assert not store.exists()  # traces went over OTLP, not to the store
