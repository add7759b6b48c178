"""Autoscaling signals for LLM serving: desired replicas from forecast load and serving signals.

:class:`PredictiveAutoscaler` is infertel's policy; :class:`CpuThresholdPolicy`,
:class:`HpaUtilizationPolicy` and :class:`FixedPolicy` are the baselines ``benchmarks/autoscaling.py``
compares it with on the simulator. :func:`hpa_desired` and :class:`StabilizationWindow` are the
Kubernetes HPA's arithmetic. :class:`AutoscalingGauges` publishes the latest recommendation as the
gauge ``infertel.autoscaling.desired_replicas`` (and its inputs) through any OpenTelemetry
``MeterProvider``, for KEDA's Prometheus scaler or an HPA external metric (examples/deploy/keda,
examples/deploy/hpa). The JSON routes and the dashboard page come with the dashboard's extension API.

Example:
    >>> from infertel.autoscaling import hpa_desired
    >>> hpa_desired(3, 9.0, 6.0)
    5
"""

from __future__ import annotations

from infertel.autoscaling._baselines import CpuThresholdPolicy, FixedPolicy, HpaUtilizationPolicy
from infertel.autoscaling._gauges import AutoscalingGauges
from infertel.autoscaling._hpa import StabilizationWindow, hpa_desired
from infertel.autoscaling._policy import PredictiveAutoscaler, Recommendation

__all__ = [
    "AutoscalingGauges",
    "CpuThresholdPolicy",
    "FixedPolicy",
    "HpaUtilizationPolicy",
    "PredictiveAutoscaler",
    "Recommendation",
    "StabilizationWindow",
    "hpa_desired",
]
