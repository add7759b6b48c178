"""The recommendation as OpenTelemetry gauges: names, units, attributes, values through a real SDK reader."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from infertel import semconv
from infertel.autoscaling import AutoscalingGauges, PredictiveAutoscaler
from infertel.simulate import Observation


def _points(reader: InMemoryMetricReader) -> dict[str, tuple[str, list[tuple[dict[str, object], float]]]]:
    data = reader.get_metrics_data()
    out: dict[str, tuple[str, list[tuple[dict[str, object], float]]]] = {}
    if data is None:
        return out
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            assert scope_metrics.scope.name == semconv.INSTRUMENTATION_SCOPE
            for metric in scope_metrics.metrics:
                points = [(dict(p.attributes or {}), p.value) for p in metric.data.data_points]  # type: ignore[union-attr]
                out[metric.name] = (metric.unit or "", points)
    return out


def test_nothing_is_observed_before_the_first_decision(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    AutoscalingGauges(PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0), meter_provider=meter_provider)
    assert _points(metric_reader) == {}


def test_desired_replicas_and_inputs_are_exported(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0)
    AutoscalingGauges(policy, meter_provider=meter_provider)
    # 8 req/s + a queue of 300 over 300 s = 9 req/s on 2 replicas of 2 req/s: 5 wanted, doubling caps at 4
    # (4 running per replica on average: on target, so the running requests ask for no more)
    policy.decide(Observation(15.0, 15.0, 2, 2, 300, 16, 120, 0.5, 0.5, 0.3, 1.5, 8))
    assert _points(metric_reader) == {
        semconv.INFERTEL_AUTOSCALING_DESIRED_REPLICAS: ("{replica}", [({semconv.AUTOSCALING_REASON: "rate"}, 4)]),
        semconv.INFERTEL_AUTOSCALING_CURRENT_REPLICAS: ("{replica}", [({}, 2)]),
        semconv.INFERTEL_AUTOSCALING_CAPACITY: ("{request}/s", [({}, 2.0)]),
        semconv.INFERTEL_AUTOSCALING_TARGET_RUNNING: ("{request}", [({}, 4.0)]),
    }


def test_a_failing_read_drops_the_point_and_is_logged_once(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader, production_errors: None, caplog
) -> None:
    class Broken(PredictiveAutoscaler):
        @property
        def last(self):  # type: ignore[override]
            raise RuntimeError("broken policy")

        @last.setter
        def last(self, value) -> None:  # type: ignore[override]
            pass

    AutoscalingGauges(Broken(capacity_rps=2.0, target_running=4.0), meter_provider=meter_provider)
    assert _points(metric_reader) == {}
    assert any("broken policy" in r.getMessage() or r.exc_info for r in caplog.records)
