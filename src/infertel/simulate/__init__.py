"""A discrete-event simulator of an LLM serving fleet, to prove autoscaling and capacity answers.

Pure Python (no extra needed). Arrivals come from the real Azure LLM inference trace (read from
``../shared/data`` beside the repository; see :data:`AZURE_ATTRIBUTION`) or from synthetic daily and
weekly seasonal traffic with bursts; replicas batch continuously, slow down with concurrency and
take a cold start to come up. The fleet reproduces Erlang C for M/M/c workloads.

Example:
    >>> import random
    >>> from infertel.simulate import ReplicaModel, mmc_arrivals, simulate
    >>> reqs = mmc_arrivals(2000, arrival_rate=1.5, service_rate=1.0, rng=random.Random(1))
    >>> result = simulate(reqs, model=ReplicaModel(max_batch=2))
    >>> result.requests
    2000
"""

from __future__ import annotations

from infertel.simulate._engine import Observation, Policy, ReplicaModel, SimulationResult, simulate
from infertel.simulate._queueing import erlang_c, mmc_mean_wait, mmc_wait_quantile
from infertel.simulate._traffic import (
    AZURE_ATTRIBUTION,
    AZURE_CODE_TRACE,
    DAY_S,
    WEEK_S,
    Burst,
    Request,
    Seasonality,
    azure_code_trace,
    bucket_counts,
    counts_of,
    mmc_arrivals,
    poisson_arrivals,
    poisson_count,
    random_bursts,
    rate_with_bursts,
    shared_data_dir,
)

__all__ = [
    "AZURE_ATTRIBUTION",
    "AZURE_CODE_TRACE",
    "DAY_S",
    "WEEK_S",
    "Burst",
    "Observation",
    "Policy",
    "ReplicaModel",
    "Request",
    "Seasonality",
    "SimulationResult",
    "azure_code_trace",
    "bucket_counts",
    "counts_of",
    "erlang_c",
    "mmc_arrivals",
    "mmc_mean_wait",
    "mmc_wait_quantile",
    "poisson_arrivals",
    "poisson_count",
    "random_bursts",
    "rate_with_bursts",
    "shared_data_dir",
    "simulate",
]
