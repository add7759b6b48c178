"""Every docstring example in every distribution runs and gives what it shows.

The examples run with :mod:`doctest` in a fresh interpreter, with no ``INFERTEL_*`` or ``OTEL_*``
variable set and a temporary home, so that an example that reads the environment shows what a
new user sees, and one that writes files writes them under the test's folder. Examples that need
hardware, a network peer or a running server are marked ``# doctest: +SKIP`` where they stand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = [ROOT / "src", *sorted(ROOT.glob("exporters/*/src")), *sorted(ROOT.glob("instrumentation/*/src"))]

RUNNER = textwrap.dedent(
    """
    import contextlib, doctest, importlib, io, json, sys
    results = {}
    for name in sys.argv[1:]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                failed, attempted = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
            except Exception as exc:  # an import error is a failure of the module's examples
                failed, attempted = 1, 0
                print(f"{type(exc).__name__}: {exc}")
        results[name] = [failed, attempted, out.getvalue()[-3000:]]
    print(json.dumps(results))
    """
)


def _modules_with_examples() -> list[str]:
    names = []
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            if ">>>" not in path.read_text(encoding="utf-8"):
                continue
            parts = path.relative_to(root).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_docstring_example_runs(tmp_path: Path) -> None:
    modules = _modules_with_examples()
    assert len(modules) > 150  # (the discovery itself works: most modules carry an example)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFERTEL_", "OTEL_"))}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-c", RUNNER, *modules], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=240, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.splitlines()[-1])
    failing = {name: output for name, (failed, _, output) in results.items() if failed}
    assert not failing, "\n".join(f"--- {name}\n{output}" for name, output in failing.items())
    assert sum(attempted for _, attempted, _ in results.values()) > 500
