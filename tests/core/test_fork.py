"""``os.fork()`` after ``configure()``: the child starts with its own process state and its own Resource.

A real store and a real fork, in a fresh interpreter (``configure()`` sets process globals): the
parent records five calls and holds a sixth in flight when it forks; the child records three. The
store must then hold two resources that differ exactly in ``process.pid``, ``process.parent_pid``
and ``service.instance.id``, with each process's own spans and histogram counts, and the child must
have started with no statistics, nothing in flight and zeroed status counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import PROCESS_PARENT_PID, PROCESS_PID, SERVICE_INSTANCE_ID

from infertel import semconv

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")

_SCRIPT = r"""
import json, os, sys
import infertel
from opentelemetry import trace

db, out = sys.argv[1], sys.argv[2]
infertel.configure(service_name="forked", store_path=db, resource_metrics=False,
                   metric_export_interval_millis=60_000)

@infertel.observe(model="m", operation="chat", provider="p")
def call(n):
    return n

def stats():
    return {"/".join(map(str, key)): [s.requests, s.in_flight] for key, s in infertel.stats().items()}

def counts():
    return {name: dict(s.counts) for name, s in infertel.status().items()}

for i in range(5):
    call(i)
held = infertel.inference(model="m", operation="chat", provider="p")
held.__enter__()
trace.get_tracer_provider().force_flush()
parent = {"pid": os.getpid(), "before_fork": {"stats": stats(), "counts": counts()}}
pid = os.fork()
if pid == 0:
    child = {"pid": os.getpid(), "at_fork": {"stats": stats(), "counts": counts()}}
    for i in range(3):
        call(i)
    child["after_calls"] = {"stats": stats()}
    child["shutdown"] = infertel.shutdown()
    with open(out + ".child", "w") as f:
        json.dump(child, f)
    os._exit(0)
_, status = os.waitpid(pid, 0)
held.__exit__(None, None, None)
parent["child_exit"] = status
parent["after_child"] = {"stats": stats()}
parent["shutdown"] = infertel.shutdown()
with open(out + ".parent", "w") as f:
    json.dump(parent, f)
"""

_PROCESS_KEYS = {PROCESS_PID, PROCESS_PARENT_PID, SERVICE_INSTANCE_ID}


def _run(tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any], Path]:
    db, out = tmp_path / "forked.db", tmp_path / "result"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_STORE"))}
    subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", _SCRIPT, str(db), str(out)],
        env=env,
        check=True,
        timeout=120,
    )
    parent = json.loads(Path(f"{out}.parent").read_text())
    child = json.loads(Path(f"{out}.child").read_text())
    return parent, child, db


def test_a_forked_child_has_its_own_state_and_resource(tmp_path: Path) -> None:
    from infertel_exporters.sqlite import SQLiteStore

    parent, child, db = _run(tmp_path)
    assert parent["child_exit"] == 0
    assert (parent["shutdown"], child["shutdown"]) == (True, True)
    # Before the fork the parent had 5 requests and 1 in flight, 5 spans written.
    assert parent["before_fork"]["stats"] == {"m/chat": [5, 1]}
    assert parent["before_fork"]["counts"]["exporter.traces"] == {
        "received": 5,
        "written": 5,
        "dropped": 0,
        "errors": 0,
    }
    # The child starts empty: no statistics, nothing in flight, nothing written or lost.
    assert child["at_fork"] == {
        "stats": {},
        "counts": {
            "exporter.logs": {"received": 0, "written": 0, "dropped": 0, "errors": 0},
            "exporter.metrics": {"received": 0, "written": 0, "dropped": 0, "errors": 0},
            "exporter.traces": {"received": 0, "written": 0, "dropped": 0, "errors": 0},
        },
    }
    assert child["after_calls"]["stats"] == {"m/chat": [3, 0]}
    assert parent["after_child"]["stats"] == {"m/chat": [6, 0]}

    with SQLiteStore(db) as store:
        spans = store.spans(0, 2**63 - 1)
        points = store.metric_series(semconv.GEN_AI_SERVER_REQUEST_DURATION)
        in_flight = store.metric_series(semconv.INFERTEL_GEN_AI_IN_FLIGHT)

    # Spans: each process's own, under its own resource.
    by_pid: dict[int, list[Any]] = defaultdict(list)
    for span in spans:
        by_pid[span.resource[PROCESS_PID]].append(span)
    assert sorted((pid, len(s)) for pid, s in by_pid.items()) == sorted([(parent["pid"], 6), (child["pid"], 3)])
    parent_resource = by_pid[parent["pid"]][0].resource
    child_resource = by_pid[child["pid"]][0].resource
    assert all(s.resource == parent_resource for s in by_pid[parent["pid"]])
    assert all(s.resource == child_resource for s in by_pid[child["pid"]])
    assert child_resource[PROCESS_PARENT_PID] == parent["pid"]
    assert child_resource[SERVICE_INSTANCE_ID] != parent_resource[SERVICE_INSTANCE_ID]
    assert {k: v for k, v in child_resource.items() if k not in _PROCESS_KEYS} == {
        k: v for k, v in parent_resource.items() if k not in _PROCESS_KEYS
    }

    # Histograms: the child's cumulative count is its own 3 calls, not 3 + the parent's 5.
    last: dict[int, Any] = {}
    for point in points:
        last[point.resource[PROCESS_PID]] = point
    assert {pid: p.histogram["count"] for pid, p in last.items()} == {parent["pid"]: 6, child["pid"]: 3}
    assert last[child["pid"]].start_time_ns > last[parent["pid"]].start_time_ns
    # The in-flight gauge of the child never shows the parent's held request.
    assert in_flight, "the statistics gauges were collected"
    assert [p.value for p in in_flight if p.resource[PROCESS_PID] == child["pid"]] == [0] * sum(
        1 for p in in_flight if p.resource[PROCESS_PID] == child["pid"]
    )
