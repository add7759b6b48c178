"""Starting profiles: one CPU profile and one heap snapshot at a time, each on its own short-lived thread."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from infertel.profiling import _heap, _results, _sampler

_logger = logging.getLogger(__name__)

MAX_SECONDS = 300.0
"""Longest profile (a time box: the profiler always stops by itself)."""

THREAD_PREFIX = "infertel-profiler"
"""Name prefix of the profiler threads (they exist only while a profile runs)."""

_lock = threading.Lock()
_running: dict[str, Job] = {}


class Job:
    """A running or finished profile.

    ``document`` is the stored result once done (None while running or after a failure, then
    ``error`` says why). Threading: start, ``wait`` and ``stop`` may be called from any thread.

    Example:
        >>> job = start_cpu(0.05, directory=None)  # doctest: +SKIP
        >>> job.wait(5)["kind"]  # doctest: +SKIP
        'cpu'
    """

    def __init__(self, kind: str, seconds: float, directory: Path | None) -> None:
        self.kind = kind
        self.seconds = seconds
        self.started_ns = time.time_ns()
        self.id = _results.new_id(kind, self.started_ns)
        self.directory = directory
        self.document: dict[str, Any] | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def done(self) -> bool:
        """Whether the profile has finished (stored, or failed)."""
        return self._done.is_set()

    def stop(self) -> None:
        """End the profile early (its result covers the time until now)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Wait for the result; returns it, or None on timeout or failure."""
        self._done.wait(timeout)
        return self.document

    def status(self) -> dict[str, Any]:
        """``{"id", "kind", "seconds", "started_ns", "done", "error"}``."""
        return {"id": self.id, "kind": self.kind, "seconds": self.seconds, "started_ns": self.started_ns,
                "done": self.done, "error": self.error}  # fmt: skip

    def _run(self, work: Any) -> None:
        try:
            document = {"id": self.id, "kind": self.kind, "started_ns": self.started_ns, "pid": os.getpid(),
                        "requested_seconds": self.seconds, **work()}  # fmt: skip
            document["seconds"] = (time.time_ns() - self.started_ns) / 1e9
            if self.directory is not None:
                _results.save(self.directory, document)
            self.document = document
        except Exception as exc:  # a profile must never take the process down
            self.error = f"{type(exc).__name__}: {exc}"
            _logger.warning("infertel: %s profile %s failed: %s", self.kind, self.id, self.error)
        finally:
            with _lock:
                if _running.get(self.kind) is self:
                    del _running[self.kind]
            self._done.set()


def _check_seconds(seconds: float) -> float:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or not (0 < seconds <= MAX_SECONDS)
    ):
        raise ValueError(f"seconds: {seconds!r} is not accepted (accepted: a number > 0 and <= {MAX_SECONDS:g})")
    return float(seconds)


def _start(kind: str, seconds: float, directory: Any, work: Any) -> Job:
    seconds = _check_seconds(seconds)
    folder = _results.profiles_dir() if directory == "default" else (Path(directory) if directory else None)
    with _lock:
        current = _running.get(kind)
        if current is not None:
            raise RuntimeError(f"a {kind} profile is already running ({current.id}); wait for it or stop it")
        job = Job(kind, seconds, folder)
        _running[kind] = job
    job.thread = threading.Thread(target=job._run, args=(lambda: work(job),), name=f"{THREAD_PREFIX}-{kind}",
                                  daemon=True)  # fmt: skip
    job.thread.start()
    return job


def _cpu_document(samples: _sampler.CpuSamples) -> dict[str, Any]:
    stacks = sorted(samples.stacks.items(), key=lambda kv: -kv[1])
    return {
        "interval_s": samples.interval_s, "samples": samples.samples, "idle_samples": samples.idle_samples,
        "threads": len(samples.threads), "truncated": samples.truncated,
        "stacks": [{"frames": [list(f) for f in stack], "count": n} for stack, n in stacks],
    }  # fmt: skip


def start_cpu(
    seconds: float = 10.0, *, interval_s: float = 0.005, include_idle: bool = False, directory: Any = "default"
) -> Job:
    """Start a CPU profile of every thread of this process for ``seconds`` (sampling, 200 Hz by default).

    Args:
        seconds: Length of the time box (at most :data:`MAX_SECONDS`).
        interval_s: Time between samples (0.001 to 1).
        include_idle: Also count threads that wait (locks, queues, selectors, idle pool workers).
        directory: Where the result is stored: ``"default"`` (next to the store: ``<store>.profiles``),
            a folder, or None (not stored; read it from :meth:`Job.wait`).

    Raises:
        ValueError: A bad ``seconds`` or ``interval_s``.
        RuntimeError: A CPU profile is already running.

    Example:
        >>> import infertel.profiling
        >>> job = infertel.profiling.start_cpu(0.05, directory=None)
        >>> job.wait(10)["kind"]
        'cpu'
    """
    if not (0.001 <= interval_s <= 1.0):
        raise ValueError(f"interval_s: {interval_s!r} is not accepted (accepted: 0.001 to 1 second)")
    return _start("cpu", seconds, directory,
                  lambda job: _cpu_document(_sampler.sample(job.seconds, interval_s, job._stop,
                                                            include_idle=include_idle)))  # fmt: skip


def start_heap(seconds: float = 10.0, *, frames: int = 1, directory: Any = "default") -> Job:
    """Start a heap snapshot: trace allocations for ``seconds``, keep the top sites still alive at the end.

    Args:
        seconds: Length of the time box (at most :data:`MAX_SECONDS`).
        frames: Frames kept per allocation traceback (1 to 64). Tracing is costly and grows with
            frames: an allocation-heavy pure-Python loop ran 3-6x slower at 1 frame, 25-40x at 4-8
            (benchmarks/analysis.py); allocations in C extensions that do not report to tracemalloc cost nothing.
        directory: As for :func:`start_cpu`.

    Raises:
        ValueError: A bad ``seconds`` or ``frames``.
        RuntimeError: A heap snapshot is already running.

    Example:
        >>> import infertel.profiling
        >>> job = infertel.profiling.start_heap(0.05, directory=None)
        >>> job.wait(10)["kind"]
        'heap'
    """
    if isinstance(frames, bool) or not isinstance(frames, int) or not (1 <= frames <= 64):
        raise ValueError(f"frames: {frames!r} is not accepted (accepted: an integer from 1 to 64)")

    def work(job: Job) -> dict[str, Any]:
        snap = _heap.snapshot(job.seconds, job._stop, frames=frames)
        document = asdict(snap)
        document["sites"] = [{"size_bytes": s.size_bytes, "count": s.count, "frames": [list(f) for f in s.frames]}
                             for s in snap.sites]  # fmt: skip
        return document

    return _start("heap", seconds, directory, work)


def running() -> list[Job]:
    """The profiles running now.

    Example:
        >>> running()
        []
    """
    with _lock:
        return list(_running.values())
