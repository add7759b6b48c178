"""The KEDA and HPA examples under examples/deploy: valid Kubernetes objects that read infertel's gauge.

The HPA is validated against the Kubernetes API's own OpenAPI schema (kubernetes-validate, offline).
KEDA's ScaledObject is a custom resource that tool has no schema for: its embedded HPA behaviour is
validated against the Kubernetes schema, and its trigger against what KEDA's Prometheus scaler needs.
Both must name the metric exactly as the OpenTelemetry Prometheus exporter exposes the gauge.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import REGISTRY, generate_latest

from infertel.autoscaling import AutoscalingGauges, PredictiveAutoscaler
from infertel.simulate import Observation

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "deploy"
K8S_VERSION = "1.30.0"


@pytest.fixture(scope="module")
def exposed_names() -> set[str]:
    """Metric names in the Prometheus exposition of a real recommendation."""
    reader = PrometheusMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0)
        AutoscalingGauges(policy, meter_provider=provider)
        policy.decide(Observation(15.0, 15.0, 2, 2, 0, 8, 60, 0.5, 0.5, 0.1, 0.5, 8))
        text = generate_latest(REGISTRY).decode()
    finally:
        provider.shutdown()  # the reader unregisters its collector from the default registry
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_hpa_example_is_a_valid_autoscaling_v2_object(exposed_names: set[str]) -> None:
    hpa = yaml.safe_load((DEPLOY / "hpa" / "hpa.yaml").read_text())
    kubernetes_validate.validate(hpa, K8S_VERSION, strict=True)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["external"]["metric"]["name"] in exposed_names
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "1"}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_keda_example_scales_on_the_exported_gauge(exposed_names: set[str]) -> None:
    scaled = yaml.safe_load((DEPLOY / "keda" / "scaledobject.yaml").read_text())
    assert (scaled["apiVersion"], scaled["kind"]) == ("keda.sh/v1alpha1", "ScaledObject")
    spec = scaled["spec"]
    # the embedded HPA config is the Kubernetes type: validate it as part of a real HPA
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": scaled["metadata"]["name"]},
        "spec": {
            "scaleTargetRef": spec["scaleTargetRef"],
            "minReplicas": spec["minReplicaCount"],
            "maxReplicas": spec["maxReplicaCount"],
            "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"],
        },
    }
    kubernetes_validate.validate(hpa, K8S_VERSION, strict=True)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    meta = trigger["metadata"]
    assert all(isinstance(v, str) for v in meta.values())  # KEDA trigger metadata is string-valued
    assert meta["threshold"] == "1" and meta["serverAddress"].startswith("http")
    assert any(name in meta["query"] for name in exposed_names if name.startswith("infertel_autoscaling_desired"))
    assert set(spec) <= {
        "scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval", "cooldownPeriod",
        "idleReplicaCount", "advanced", "triggers", "fallback", "initialCooldownPeriod",
    }  # fmt: skip
