"""No cold-start tax: a process's first streamed call is no slower instrumented than without.

Each measurement is a fresh process that builds an ``openai.OpenAI`` client, touches
``client.chat.completions`` (openai imports its chat resources lazily: that cost is the library's,
paid by both sides), then times its first streamed ``create()`` up to the first chunk. The
instrumented side runs ``infertel.configure()`` (embedded store) and ``OpenAIInstrumentor`` first,
as an application would. The two kinds of process alternate, and the medians are compared.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from openai_peer import FakeOpenAIServer

pytest.importorskip("openai")

pytestmark = pytest.mark.slow

ROUNDS = 9
BUDGET_MS = 5.0

CHILD = r"""
import json, sys, tempfile, time
mode, base, store = sys.argv[1], sys.argv[2], sys.argv[3]
import openai
if mode == "instrumented":
    import infertel
    from infertel_instrumentation.openai import OpenAIInstrumentor
    infertel.configure(store_path=store, resource_metrics=False)
    OpenAIInstrumentor().instrument()
client = openai.OpenAI(base_url=base, api_key="test-key", max_retries=0)
client.chat.completions
t0, c0 = time.perf_counter(), time.process_time()
stream = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}], stream=True
)
next(iter(stream))
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
for _ in stream:
    pass
print(json.dumps({"wall_ms": wall * 1000, "cpu_ms": cpu * 1000}))
"""


def _first_chunk(mode: str, server: FakeOpenAIServer, store: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, mode, server.base_url, store],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_first_streamed_call_costs_at_most_5_ms_more_instrumented(
    openai_server: FakeOpenAIServer, tmp_path: Path, record_property: Callable[[str, str], None]
) -> None:
    plain: list[dict[str, float]] = []
    instrumented: list[dict[str, float]] = []
    for n in range(ROUNDS):
        plain.append(_first_chunk("plain", openai_server, str(tmp_path / f"p{n}.db")))
        instrumented.append(_first_chunk("instrumented", openai_server, str(tmp_path / f"i{n}.db")))
    figures = {
        f"{side}_{key}_median": round(statistics.median(run[key] for run in runs), 2)
        for side, runs in (("plain", plain), ("instrumented", instrumented))
        for key in ("wall_ms", "cpu_ms")
    }
    record_property("first_chunk", json.dumps(figures))
    print("first chunk of a fresh process:", figures)
    assert figures["instrumented_wall_ms_median"] - figures["plain_wall_ms_median"] <= BUDGET_MS, figures
