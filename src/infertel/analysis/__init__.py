"""Performance analysis of an inference service from the store and live statistics.

For a window and a series (service / model): requests per second, the error rate by type, the
percentile table, where the time goes per request (queue wait, prefill, decode, the rest) and which
part dominates the tail, how it changed against a baseline window, which resource saturates
(correlation of latency with in-flight requests, CPU, GPU utilisation and GPU memory), and a
regression report between two windows with a significance test so noise is not reported.

Owner (issue 15, points 1 and 6 in the report): helper ``h15-analysis``.
"""

from __future__ import annotations
