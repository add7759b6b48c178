"""The leader lock alone, across real processes: one holder per file, takeover when the holder dies, fork safety."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infertel.alerting import AlertEngine, ReplaySource, ThresholdRule
from infertel.alerting._leader import LeaderLock, held_by, lock_path

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="flock and fork are POSIX")

# Takes the lock, forks, and reports what the child believes; then lets go while the child lives on.
FORKER = textwrap.dedent("""
    import os, sys, time
    import infertel._internal.forking  # infertel's at-fork hook
    from infertel.alerting._leader import LeaderLock
    lock = LeaderLock(sys.argv[1])
    assert lock.try_acquire()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, b"held" if lock.held else b"free")
        time.sleep(60)
        os._exit(0)
    print(os.read(read, 4).decode(), child, flush=True)
    sys.stdin.readline()  # the test says when to let go
    lock.release()
    print("released", flush=True)
    sys.stdin.readline()
    os.kill(child, 9)
""")

HOLDER = textwrap.dedent("""
    import sys
    from infertel.alerting._leader import LeaderLock
    assert LeaderLock(sys.argv[1]).try_acquire()
    print("holding", flush=True)
    sys.stdin.readline()
""")


@contextlib.contextmanager
def _spawn(code: str, path: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    with process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def test_one_holder_per_file_and_the_next_takes_it_when_the_holder_is_killed(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "store.db")
    with _spawn(HOLDER, path) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        mine = LeaderLock(path)
        assert (mine.try_acquire(), mine.held, held_by(path)) == (False, False, holder.pid)
        holder.send_signal(signal.SIGKILL)  # no cleanup: the kernel drops the lock with the process
        holder.wait(10)
        assert (mine.try_acquire(), mine.held, held_by(path)) == (True, True, os.getpid())
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        mine.release()
        assert not mine.held


def test_a_forked_child_does_not_lead_and_does_not_keep_the_parents_lock(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "store.db")
    with _spawn(FORKER, path) as forker:
        assert forker.stdin is not None and forker.stdout is not None
        said, child = forker.stdout.readline().split()
        assert said == "free"  # the child inherited the descriptor, yet does not think it leads
        mine = LeaderLock(path)
        assert not mine.try_acquire()  # the parent still leads
        forker.stdin.write("\n")
        forker.stdin.flush()
        assert forker.stdout.readline() == "released\n"
        os.kill(int(child), 0)  # the child is alive, its copy of the descriptor is closed: the lock is free
        assert mine.try_acquire() and held_by(path) == os.getpid()
        mine.release()
        forker.stdin.write("\n")
        forker.stdin.flush()
        assert forker.wait(10) == 0


def test_an_engine_over_a_store_follows_while_another_process_leads(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    hot = ReplaySource([("infertel_live_cpu_utilization", "0.9x99")])
    leader = AlertEngine([ThresholdRule("Hot", signal="cpu_utilization", threshold=0.8)], source=hot, store=str(store))
    leader.evaluate(0.0)  # what the leading process saved
    follower = AlertEngine([ThresholdRule("Hot", signal="cpu_utilization", threshold=0.8)],
                           source=ReplaySource([("infertel_live_cpu_utilization", "0x99")]), store=str(store),
                           interval_s=0.05)  # fmt: skip
    try:
        with _spawn(HOLDER, lock_path(store)) as holder:
            assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
            follower.start()
            assert not follower.leading
            assert [(a.name, a.state) for a in follower.alerts()] == [("Hot", "firing")]  # the store's, not its own
            holder.kill()
            holder.wait(10)
        deadline = time.monotonic() + 10
        while not follower.leading:
            assert time.monotonic() < deadline, "the follower did not take over"
            time.sleep(0.02)
        assert held_by(lock_path(store)) == os.getpid()
    finally:
        assert follower.shutdown()
        leader.shutdown()
    after = LeaderLock(lock_path(store))
    assert after.try_acquire()  # shutdown let go
    after.release()


def test_a_scheduler_given_a_following_engine_leaves_its_runs_to_the_leading_process(tmp_path: Path) -> None:
    from infertel.alerting.schedule import Scheduler

    store = tmp_path / "store.db"
    engine = AlertEngine([], store=str(store), interval_s=0.05)
    ran: list[float] = []
    scheduler = Scheduler(engine=engine)
    scheduler.add("digest", lambda: ran.append(time.monotonic()), every_s=0.1)
    try:
        with _spawn(HOLDER, lock_path(store)) as holder:
            assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
            engine.start()
            scheduler.start()
            time.sleep(1.2)  # two scheduler ticks with runs due: another process leads, so none here
            assert (engine.leading, ran, list(scheduler.runs)) == (False, [], [])
            holder.kill()
            holder.wait(10)
        deadline = time.monotonic() + 10
        while not ran:
            assert time.monotonic() < deadline, "the scheduler did not run once this process led"
            time.sleep(0.02)
        assert engine.leading and [r.outcome for r in scheduler.runs][:1] == ["ok"]
    finally:
        assert scheduler.shutdown()
        assert engine.shutdown()
