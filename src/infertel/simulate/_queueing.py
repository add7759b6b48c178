"""Known answers from queueing theory: the Erlang C formula for M/M/c queues."""

from __future__ import annotations

import math


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C).

    Args:
        servers: c, the number of servers (>= 1).
        offered_load: a = lambda / mu in Erlangs; must be below ``servers`` (a stable queue).

    Example:
        >>> round(erlang_c(1, 0.5), 6)  # M/M/1: the probability of waiting is rho
        0.5
    """
    if servers < 1:
        raise ValueError(f"servers must be >= 1, got {servers!r}")
    if not 0 <= offered_load < servers:
        raise ValueError(f"offered_load must be in [0, servers), got {offered_load!r} with {servers} servers")
    # Erlang B by its stable recursion, then C from B.
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    rho = offered_load / servers
    return b / (1.0 - rho + rho * b)


def mmc_mean_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean time in queue (before service) of an M/M/c queue: ``C(c, a) / (c * mu - lambda)``.

    Example:
        >>> round(mmc_mean_wait(1, 0.8, 1.0), 6)  # M/M/1: rho / (mu - lambda)
        4.0
    """
    if not (arrival_rate > 0 and service_rate > 0):
        raise ValueError("arrival_rate and service_rate must be > 0")
    load = arrival_rate / service_rate
    return erlang_c(servers, load) / (servers * service_rate - arrival_rate)


def mmc_wait_quantile(servers: int, arrival_rate: float, service_rate: float, q: float) -> float:
    """The q-quantile of the waiting time in an M/M/c queue (0 when P(wait) <= 1 - q).

    Example:
        >>> mmc_wait_quantile(2, 0.1, 1.0, 0.5)
        0.0
    """
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    p_wait = erlang_c(servers, arrival_rate / service_rate)
    if p_wait <= 1 - q:
        return 0.0
    return math.log(p_wait / (1 - q)) / (servers * service_rate - arrival_rate)
