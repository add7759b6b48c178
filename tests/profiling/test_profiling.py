"""On-demand profiles: off and free by default, real CPU samples and heap sites, bounded storage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

import infertel.profiling
from infertel.profiling import _results


def burn_known_function(stop: threading.Event) -> int:
    n = 0
    while not stop.is_set():
        n += sum(i * i for i in range(500))
    return n


def test_off_by_default_and_free_while_off(tmp_path) -> None:
    # A clean interpreter: configure, serve requests, import the profiling API and the dashboard
    # registration: no profiler thread, no profile/trace hook, no allocation tracing.
    script = textwrap.dedent(f"""
        import sys, threading, tracemalloc
        import infertel, infertel.profiling
        infertel.configure(store_path={str(tmp_path / "t.db")!r}, resource_metrics=False)
        with infertel.inference(model="m") as inv:
            inv.set_output_tokens(3)
        threads = [t.name for t in threading.enumerate() if t.name.startswith(infertel.profiling.THREAD_PREFIX)]
        hooks = (sys.getprofile(), sys.gettrace(), threading.getprofile(), threading.gettrace())
        print(threads, tracemalloc.is_tracing(), hooks, infertel.profiling.running())
        infertel.shutdown()
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] False (None, None, None, None) []"


def test_cpu_profile_finds_the_hot_function_and_leaves_nothing_running(tmp_path) -> None:
    stop, idle = threading.Event(), threading.Event()
    worker = threading.Thread(target=burn_known_function, args=(stop,), name="burner")
    waiter = threading.Thread(target=idle.wait, name="waiter")  # waits: left out of the profile
    worker.start()
    waiter.start()
    try:
        job = infertel.profiling.start_cpu(0.6, interval_s=0.005, directory=tmp_path)
        with pytest.raises(RuntimeError, match="a cpu profile is already running"):
            infertel.profiling.start_cpu(1, directory=tmp_path)
        doc = job.wait(30)
    finally:
        stop.set()
        idle.set()
        worker.join()
        waiter.join()
    assert job.done and job.error is None
    assert not [t for t in threading.enumerate() if t.name.startswith(infertel.profiling.THREAD_PREFIX)]
    assert infertel.profiling.running() == []
    assert (doc["kind"], doc["pid"], doc["requested_seconds"], doc["interval_s"]) == ("cpu", os.getpid(), 0.6, 0.005)
    assert 0.55 <= doc["seconds"] < 5 and doc["samples"] >= 20 and doc["idle_samples"] >= 20
    top = infertel.profiling.top_functions(doc)
    hot = next(f for f in top if f["function"].startswith("burn_known_function") or "<genexpr>" in f["function"])
    assert hot["self_share"] > 0.3
    # Within the burner thread's subtree (the root frame names the thread), nearly all samples are in the function.
    burner = [e for e in doc["stacks"] if e["frames"][0] == ["", "thread burner", 0]]
    inside = sum(e["count"] for e in burner if any(f[1] == "burn_known_function" for f in e["frames"]))
    assert inside / sum(e["count"] for e in burner) > 0.95 and inside >= 20
    assert not [e for e in doc["stacks"] if e["frames"][0] == ["", "thread waiter", 0]]  # idle: left out
    assert all("(threading.py:" not in f["function"] or not f["function"].startswith("wait ") for f in top)
    stored = json.loads((tmp_path / f"{doc['id']}.json").read_text())
    assert stored == doc
    assert infertel.profiling.list_profiles(str(tmp_path))[0] == {k: v for k, v in doc.items() if k != "stacks"}
    svg = infertel.profiling.flame_graph_svg(doc)
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "burn_known_function (test_profiling.py:" in svg
    assert "<script" not in svg and "style=" not in svg


def _allocate_known_site(keep: list, stop: threading.Event) -> None:
    while not stop.is_set() and len(keep) < 2000:
        keep.append(bytearray(4096))  # the known allocation site
        time.sleep(0.0002)


def test_heap_snapshot_names_the_allocation_site_and_stops_tracing(tmp_path) -> None:
    assert not tracemalloc.is_tracing()
    keep: list = []
    stop = threading.Event()
    job = infertel.profiling.start_heap(0.5, directory=tmp_path)
    time.sleep(0.05)
    worker = threading.Thread(target=_allocate_known_site, args=(keep, stop))
    worker.start()
    doc = job.wait(30)
    stop.set()
    worker.join()
    assert not tracemalloc.is_tracing()
    assert doc["kind"] == "heap" and doc["was_tracing"] is False
    sites = infertel.profiling.allocation_sites(doc)
    lines = Path(__file__).read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "the known allocation site" in text)
    top = sites[0]
    assert top["where"] == f"{__file__}:{line}"
    assert top["size_bytes"] >= 4096 * 100 and top["count"] >= 100
    assert doc["total_bytes"] >= top["size_bytes"] and doc["peak_bytes"] >= top["size_bytes"]
    assert len(sites) <= 50


def test_tracing_started_by_the_application_is_left_running(tmp_path) -> None:
    tracemalloc.start(4)
    try:
        doc = infertel.profiling.start_heap(0.05, directory=None).wait(30)
        assert doc["was_tracing"] is True and tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("seconds", [0, -1, 301, float("nan"), "10", True])
def test_bad_arguments_name_the_setting(seconds) -> None:
    with pytest.raises(ValueError, match=r"^seconds: .* is not accepted \(accepted: a number > 0 and <= 300\)"):
        infertel.profiling.start_cpu(seconds)
    with pytest.raises(ValueError, match="^interval_s: "):
        infertel.profiling.start_cpu(1, interval_s=0)
    with pytest.raises(ValueError, match="^frames: "):
        infertel.profiling.start_heap(1, frames=0)
    assert infertel.profiling.running() == []


def test_storage_is_bounded_in_count_and_size(tmp_path) -> None:
    for i in range(_results.MAX_PROFILES + 3):
        _results.save(tmp_path, {"id": f"cpu-{1_700_000_000_000_000_000 + i:019d}-0000000{i % 10}", "kind": "cpu",
                                 "stacks": []})  # fmt: skip
    ids = _results.list_ids(tmp_path)
    assert len(ids) == _results.MAX_PROFILES and ids[0].endswith("-00000002") and "-1700000000000000003-" in ids[-1]
    stacks = [{"frames": [["f.py", f"fn{i}", i]] * 40, "count": 100_000 - i} for i in range(20_000)]
    big = {"id": "cpu-1800000000000000000-abcdef01", "kind": "cpu", "truncated": False, "stacks": stacks}
    path = _results.save(tmp_path, big)
    assert path.stat().st_size <= _results.MAX_FILE_BYTES
    kept = _results.load(tmp_path, big["id"])
    assert kept["truncated"] is True and kept["stacks"][0]["count"] == 100_000
    assert _results.load(tmp_path, "../../etc/passwd") is None
    assert infertel.profiling.profiles_dir("/srv/data/infertel.db").as_posix() == "/srv/data/infertel.db.profiles"
