"""The autoscaling recommendation as OpenTelemetry observable gauges (for KEDA or an HPA external metric)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from infertel import semconv
from infertel._internal.errors import handle_internal_errors
from infertel.autoscaling._policy import PredictiveAutoscaler, Recommendation
from infertel.version import __version__

_INPUTS: tuple[tuple[str, str, str, Callable[[Recommendation], float | None]], ...] = (
    (
        semconv.INFERTEL_AUTOSCALING_CURRENT_REPLICAS,
        semconv.UNIT_REPLICAS,
        "Replicas running or starting when the recommendation was made",
        lambda r: r.current_replicas,
    ),
    (
        semconv.INFERTEL_AUTOSCALING_FORECAST_RATE,
        semconv.UNIT_REQUESTS_PER_SECOND,
        "Mean forecast request rate over the look-ahead",
        lambda r: r.forecast_rps,
    ),
    (
        semconv.INFERTEL_AUTOSCALING_FORECAST_UPPER_RATE,
        semconv.UNIT_REQUESTS_PER_SECOND,
        "Upper prediction bound of the request rate used for scale-up",
        lambda r: r.forecast_upper_rps,
    ),
    (
        semconv.INFERTEL_AUTOSCALING_CAPACITY,
        semconv.UNIT_REQUESTS_PER_SECOND,
        "Measured sustainable request rate per replica at the SLO",
        lambda r: r.capacity_rps,
    ),
    (
        semconv.INFERTEL_AUTOSCALING_TARGET_RUNNING,
        semconv.UNIT_REQUESTS,
        "Running requests per replica the policy holds",
        lambda r: r.target_running,
    ),
)


class AutoscalingGauges:
    """Publishes a policy's latest :class:`Recommendation` as observable gauges.

    ``infertel.autoscaling.desired_replicas`` (with the ``infertel.autoscaling.reason`` attribute) and
    the inputs behind it: current replicas, the forecast rate and its upper bound, the per-replica
    capacity and the running target. Before the first decision nothing is observed.

    Args:
        policy: the autoscaler whose ``last`` recommendation is read at each collection.
        meter_provider: where the gauges are registered (any OpenTelemetry ``MeterProvider``).

    Threading and errors: callbacks run on the metric reader's thread and only read ``policy.last``
    (one attribute read, no lock); an exception in them is logged once and the point dropped.

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> gauges = AutoscalingGauges(PredictiveAutoscaler(capacity_rps=2.0, target_running=6.0),
        ...                            meter_provider=MeterProvider())
        >>> gauges.policy.last is None
        True
    """

    def __init__(self, policy: PredictiveAutoscaler, *, meter_provider: MeterProvider) -> None:
        self.policy = policy
        meter = meter_provider.get_meter(semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL)
        meter.create_observable_gauge(
            semconv.INFERTEL_AUTOSCALING_DESIRED_REPLICAS,
            callbacks=[self._desired],
            unit=semconv.UNIT_REPLICAS,
            description="Replicas infertel's autoscaling policy recommends now",
        )
        for name, unit, description, pick in _INPUTS:
            meter.create_observable_gauge(name, callbacks=[self._input(pick)], unit=unit, description=description)

    @handle_internal_errors
    def _desired(self, options: CallbackOptions) -> Iterable[Observation]:
        last = self.policy.last
        if last is None:
            return []
        return [Observation(last.desired_replicas, {semconv.AUTOSCALING_REASON: last.reason})]

    def _input(
        self, pick: Callable[[Recommendation], float | None]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        @handle_internal_errors
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            last = self.policy.last
            value = pick(last) if last is not None else None
            return [] if value is None else [Observation(value)]

        return callback
