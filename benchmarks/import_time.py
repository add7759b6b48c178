"""What importing infertel and its working API costs next to importing the OpenTelemetry SDK it builds on.

Each sample is a fresh interpreter that times one import statement with ``time.perf_counter``
around it (interpreter start-up excluded); the subjects are interleaved so that load on the
machine hits them alike. Printed: the median and the quartiles of each, and each one's difference
to the baseline.

- baseline: ``import opentelemetry.sdk.trace, opentelemetry.sdk.metrics, opentelemetry.sdk._logs``
  (what any OTel SDK application imports);
- ``import infertel``: the facade alone;
- ``from infertel import configure, observe, inference``: infertel's working API, what an application
  that instruments itself imports: everything needed to configure, to decorate and to time a block.
  Target (issue 11): at most 20 ms over the baseline, in CPU time (the figure a busy machine inflates
  least; wall time is printed next to it). A PASS/FAIL line is printed for each subject.
  ``configure()`` itself imports what only it needs (processors, resource metrics, exporters) when it
  is called.

Both sides load cached bytecode (compiled once by a warm-up run into a private pycache folder).

Run: ``python benchmarks/import_time.py [--repeat N]``. To see what an import is made of:
``python -X importtime -c "import infertel" 2>&1 | sort -t'|' -k2 -n | tail -30``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

SUBJECTS = {
    "OTel SDK trace+metrics+logs": "import opentelemetry.sdk.trace, opentelemetry.sdk.metrics, opentelemetry.sdk._logs",
    "import infertel": "import infertel",
    "from infertel import configure, observe, inference": "from infertel import configure, observe, inference",
}
BASELINE = "OTel SDK trace+metrics+logs"
TARGET_MS = 20.0

# Wall time, and the process's CPU time: imports are CPU-bound once the files are cached, and CPU time
# is what other processes on a busy machine do not inflate.
_TIMER = (
    "import time; w, c = time.perf_counter(), time.process_time(); {stmt}; "
    "print((time.perf_counter() - w) * 1e3, (time.process_time() - c) * 1e3)"
)


# Both sides import cached bytecode, as an installed application does: the .pyc files go to a private
# folder (written by the warm-up run), whatever PYTHONDONTWRITEBYTECODE says in this shell.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def sample(stmt: str) -> tuple[float, float]:
    """Milliseconds (wall, CPU) one fresh interpreter spends on ``stmt``."""
    command = [sys.executable, "-c", _TIMER.format(stmt=stmt)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=_ENV)
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40, help="fresh interpreters per subject (default 40)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="infertel-import-time-") as pycache:
        _ENV["PYTHONPYCACHEPREFIX"] = pycache
        return _run(args.repeat)


def _run(repeat: int) -> int:
    for stmt in SUBJECTS.values():  # warm the file-system cache and write the .pyc files once
        sample(stmt)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in SUBJECTS}
    for _ in range(repeat):
        for name, stmt in SUBJECTS.items():
            times[name].append(sample(stmt))
    print(f"Import time, median of {repeat} fresh interpreters each (Python {sys.version.split()[0]})")
    print(f"{'subject':52} {'wall ms':>8} {'p25':>7} {'p75':>7} {'vs base':>9} {'CPU ms':>8} {'vs base':>9}")
    over = {}
    for kind, column in (("wall", 0), ("cpu", 1)):
        base = statistics.median(t[column] for t in times[BASELINE])
        over[kind] = {name: statistics.median(t[column] for t in values) - base for name, values in times.items()}
    for name, values in times.items():
        wall = [t[0] for t in values]
        q1, _, q3 = statistics.quantiles(wall, n=4)
        cpu = statistics.median(t[1] for t in values)
        delta_wall = "" if name == BASELINE else f"{over['wall'][name]:+.1f}"
        delta_cpu = "" if name == BASELINE else f"{over['cpu'][name]:+.1f}"
        print(f"{name:52} {statistics.median(wall):8.1f} {q1:7.1f} {q3:7.1f} {delta_wall:>9} {cpu:8.1f} {delta_cpu:>9}")
    for name in (n for n in SUBJECTS if n != BASELINE):
        verdict = "PASS" if over["cpu"][name] <= TARGET_MS else "FAIL"
        print(
            f"{verdict}: `{name}` costs {over['cpu'][name]:+.1f} ms CPU ({over['wall'][name]:+.1f} ms wall) over "
            f"the baseline; target at most +{TARGET_MS:.0f} ms CPU"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
