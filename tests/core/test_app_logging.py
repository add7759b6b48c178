"""The application's logging is its own: configure() never takes a handler or a console line away."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infertel._internal import logs
from infertel._internal.configure import configure, shutdown
from infertel._internal.processors._gauges import sdk_limits_cardinality

pytestmark = pytest.mark.usefixtures("fresh_otel")


@pytest.mark.parametrize("export_logs", [False, True])
def test_app_stream_handler_keeps_its_records(export_logs: bool) -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    app_handler = logging.StreamHandler(stream)
    app_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root.addHandler(app_handler)
    try:
        before = list(root.handlers)
        configure(export_logs=export_logs)
        # Nothing the application installed was removed or replaced; at most infertel's own handler is added.
        assert root.handlers[: len(before)] == before
        assert root.handlers[len(before) :] == ([logs.attached()] if export_logs else [])
        logging.getLogger("app").warning("still mine")
        configure(export_logs=export_logs, capture_content=True)  # a re-configure leaves it alone too
        logging.getLogger("app").error("again")
        assert shutdown(timeout_millis=5_000) is True
        assert root.handlers == before
        logging.getLogger("app").warning("after shutdown")
        assert stream.getvalue().splitlines() == [
            "WARNING app still mine",
            "ERROR app again",
            "WARNING app after shutdown",
        ]
    finally:
        root.removeHandler(app_handler)


def test_export_is_off_by_default_and_on_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    configure()
    assert logs.attached() is None
    monkeypatch.setenv("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "true")
    configure()
    assert logs.attached() in logging.getLogger().handlers
    configure(export_logs=False)  # the argument beats the variable
    assert logs.attached() is None
    monkeypatch.setenv("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "maybe")
    with pytest.raises(ValueError, match="OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED: 'maybe' is not a boolean"):
        configure()


CHILD = """
import logging, sys
from opentelemetry.sdk.metrics import MeterProvider
import infertel

# No logging configuration at all. The explicit MeterProvider makes configure() warn (a real warning of ours).
infertel.configure(meter_provider=MeterProvider(), prometheus_port=0, export_logs=sys.argv[1] == "on")
logging.getLogger("app").warning("app warning")
logging.getLogger("app").info("app info")
logging.getLogger("opentelemetry.sdk").warning("sdk warning")
infertel.shutdown(timeout_millis=5_000)
"""


@pytest.mark.parametrize("export_logs", ["off", "on"])
def test_without_logging_configured_warnings_reach_stderr(tmp_path: Path, export_logs: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    env.update(
        INFERTEL_STORE_PATH=str(tmp_path / "store.db"),
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="console",  # exported records are printed on stdout
    )
    result = subprocess.run(
        [sys.executable, "-c", CHILD, export_logs], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # Python's last-resort handler: the bare message of every WARNING+ record, as without infertel.
    ours = (
        "infertel: prometheus_port cannot be added to the MeterProvider already installed (its readers are fixed at "
        "construction); give it a PeriodicExportingMetricReader / PrometheusMetricReader yourself"
    )
    # The explicit MeterProvider has no room for every statistics gauge point (opentelemetry-sdk >= 1.45).
    gauges = (
        "infertel: the statistics gauges publish up to 15000 points each (1000 series x 3 windows x 5 quantiles), "
        "but this MeterProvider keeps 2000 per instrument (the SDK's default); the rest fold into "
        "otel.metric.overflow. Create it with views=infertel.processors.statistics_views(...) (same options as the "
        "statistics)"
    )
    ours_all = [ours, gauges] if sdk_limits_cardinality() else [ours]
    assert [line for line in result.stderr.splitlines() if line.strip()] == [*ours_all, "app warning", "sdk warning"]
    exported = [json.loads(line)["body"] for line in _json_objects(result.stdout)]
    # Exported: the records that pass the loggers' levels (ours too), except the SDK's own (no feedback loop).
    assert exported == ([*ours_all, "app warning"] if export_logs == "on" else [])


def _json_objects(text: str) -> list[str]:
    """The JSON objects ConsoleLogRecordExporter printed (one per record, indented over several lines)."""
    objects, depth, current = [], 0, []
    for line in text.splitlines():
        if not current and not line.startswith("{"):
            continue
        current.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0:
            objects.append("\n".join(current))
            current = []
    return objects


def test_stderr_lines_are_exactly_those_python_would_print(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = logging.StreamHandler(io.StringIO())
    quiet.setLevel(logging.ERROR)  # on the path of "app.quiet": Python's last resort stays silent for it
    logging.getLogger("app.quiet").addHandler(quiet)
    isolated = logging.getLogger("lib.isolated")
    isolated.propagate = False  # no handler on its path: the last resort prints, infertel's handler never sees it
    root_handlers = list(logging.getLogger().handlers)
    logging.getLogger().handlers = []  # pytest's capture handlers would count as the application's
    try:
        configure(export_logs=True)
        capsys.readouterr()
        logging.getLogger("app.loud").warning("loud")
        logging.getLogger("app.quiet").warning("quiet")
        isolated.warning("isolated")
        logging.getLogger("app.loud").info("below the last resort's level")
        assert capsys.readouterr().err.splitlines() == ["loud", "isolated"]
    finally:
        shutdown(timeout_millis=5_000)
        logging.getLogger().handlers = root_handlers
        logging.getLogger("app.quiet").removeHandler(quiet)
        isolated.propagate = True
