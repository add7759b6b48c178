"""A time-boxed sampling CPU profiler of every thread of this process (standard library only).

Why not pyinstrument: it profiles the thread (or the asyncio task) that started it, through
``sys.setprofile`` on that thread; a serving process does its work on event-loop, thread-pool and
batching threads that an API request does not own. Sampling ``sys._current_frames()`` from one
thread of ours sees every thread, costs the profiled threads nothing but the GIL hand-offs of the
sampler (a CPU-bound thread kept 97.6% of its throughput at the default 200 Hz, median of
interleaved rounds in benchmarks/analysis.py), and needs no dependency.
``sys._current_frames`` is documented CPython API (also on PyPy), despite its underscore.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from types import FrameType

Frame = tuple[str, str, int]
"""(file, function, first line of the function)."""

MAX_STACKS = 5_000
"""Distinct stacks kept; samples of further new stacks count under ``(other stacks)``."""

MAX_DEPTH = 96
"""Frames kept per stack (the innermost ones)."""

_IDLE_LEAVES = frozenset({
    ("threading.py", "wait"), ("threading.py", "_wait_for_tstate_lock"), ("threading.py", "join"),
    ("selectors.py", "select"), ("queue.py", "get"), ("socket.py", "accept"), ("socketserver.py", "serve_forever"),
    ("thread.py", "_worker"), ("connection.py", "wait"), ("connection.py", "poll"),
})  # fmt: skip
"""(file name, function) of innermost frames where a thread waits rather than works."""

OTHER: tuple[Frame, ...] = (("", "(other stacks)", 0),)


@dataclass
class CpuSamples:
    """What one run of the sampler saw: sample counts per stack (outermost frame first).

    The outermost frame of every stack is ``("", "thread <name>", 0)``: the flame graph has one
    subtree per thread. Samples are wall-clock: a thread sleeping in ``time.sleep`` counts in the
    function that sleeps (only the waits listed in ``_IDLE_LEAVES`` are recognised as idle).
    """

    interval_s: float
    samples: int = 0
    idle_samples: int = 0
    threads: set[int] = field(default_factory=set)
    stacks: dict[tuple[Frame, ...], int] = field(default_factory=dict)
    truncated: bool = False


def _idle(frame: Frame) -> bool:
    return (os.path.basename(frame[0]), frame[1]) in _IDLE_LEAVES


def sample(seconds: float, interval_s: float, stop: threading.Event, *, include_idle: bool = False) -> CpuSamples:
    """Sample the stacks of every other thread every ``interval_s`` for ``seconds`` (or until ``stop``).

    Runs on the calling thread (the profiler's own). Threads waiting in a lock, a queue, a selector
    or a thread pool's idle loop are counted in ``idle_samples`` and left out unless ``include_idle``.

    Example:
        >>> result = sample(0.05, 0.01, threading.Event())
        >>> result.samples >= 0
        True
    """
    me = threading.get_ident()
    out = CpuSamples(interval_s=interval_s)
    stacks = out.stacks
    deadline = time.monotonic() + seconds
    names: dict[int | None, str] = {}
    while not stop.is_set():
        frames = sys._current_frames()
        if len(names) != len(frames) or any(tid not in names for tid in frames):
            names = {t.ident: t.name for t in threading.enumerate()}
        for tid, frame in frames.items():
            if tid == me:
                continue
            stack: list[Frame] = []
            f: FrameType | None = frame
            while f is not None and len(stack) < MAX_DEPTH:
                code = f.f_code
                stack.append((code.co_filename, code.co_name, code.co_firstlineno))
                f = f.f_back
            del f
            if not stack:
                continue
            if _idle(stack[0]) and not include_idle:
                out.idle_samples += 1
                continue
            stack.append(("", f"thread {names.get(tid, tid)}", 0))  # the root: one subtree per thread
            stack.reverse()
            key = tuple(stack)
            if key not in stacks and len(stacks) >= MAX_STACKS:
                key, out.truncated = OTHER, True
            stacks[key] = stacks.get(key, 0) + 1
            out.samples += 1
            out.threads.add(tid)
        del frames
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        stop.wait(min(interval_s, remaining))
    return out
