"""On-demand, time-boxed CPU profiles and heap snapshots of the serving process.

Off by default and free while off: importing this module starts no thread, installs no hook and
does not trace allocations. A profile runs only when started (``start_cpu`` / ``start_heap``, the
dashboard's Profiles page or ``POST api/profiles/{cpu|heap}``, or ``infertel profile start``), on
one thread of its own that ends with the time box (at most 5 minutes). Results are JSON files in
``<store>.profiles/`` (the newest 20, each at most 4 MiB), viewable as a flame graph rendered on the
server (SVG, no script) and as the top allocation sites.

CPU profiles sample every thread's stack with ``sys._current_frames()`` (standard library; see
``_sampler`` for why not pyinstrument); heap snapshots use ``tracemalloc``.

Example:
    >>> import infertel.profiling
    >>> job = infertel.profiling.start_cpu(0.05, directory=None)
    >>> sorted(job.wait(10))[:4]
    ['id', 'idle_samples', 'interval_s', 'kind']
    >>> infertel.profiling.register_dashboard()  # doctest: +SKIP
"""

from __future__ import annotations

from infertel.profiling._control import MAX_SECONDS, THREAD_PREFIX, Job, running, start_cpu, start_heap
from infertel.profiling._dashboard import register as register_dashboard
from infertel.profiling._flame import allocation_sites, flame_graph_svg, top_functions
from infertel.profiling._results import MAX_PROFILES, profiles_dir
from infertel.profiling._results import load as _load
from infertel.profiling._results import summaries as _summaries


def list_profiles(directory: str | None = None) -> list[dict]:
    """Summaries of the stored profiles, newest first (default folder: next to the configured store).

    Example:
        >>> list_profiles("/nonexistent")
        []
    """
    from pathlib import Path

    return _summaries(Path(directory) if directory else profiles_dir())


def load_profile(profile_id: str, directory: str | None = None) -> dict | None:
    """One stored profile (None when unknown).

    Example:
        >>> load_profile("cpu-0000000000000000000-00000000", "/nonexistent") is None
        True
    """
    from pathlib import Path

    return _load(Path(directory) if directory else profiles_dir(), profile_id)


__all__ = [
    "MAX_PROFILES", "MAX_SECONDS", "THREAD_PREFIX", "Job", "allocation_sites", "flame_graph_svg", "list_profiles",
    "load_profile", "profiles_dir", "register_dashboard", "running", "start_cpu", "start_heap", "top_functions",
]  # fmt: skip
