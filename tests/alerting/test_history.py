"""The sample history: per-name retention and thinning of old samples, bounded series."""

from __future__ import annotations

import pytest

from infertel.alerting import AlertEngine, SLORule
from infertel.alerting._history import COARSE_STEP_S, FINE_S, SeriesHistory, extrapolated_rate, labels_of


def test_each_name_is_kept_as_far_back_as_it_is_read_and_old_samples_are_thinned() -> None:
    history = SeriesHistory(retention_s=600, retention_by_name={"counter": 3 * 86_400.0})
    counter, gauge = labels_of("counter", {"m": "a"}), labels_of("gauge")
    full: list[tuple[float, float]] = []
    t = 0.0
    while t <= 12 * 3600:
        history.append(counter, t, t / 15)
        history.append(gauge, t, 1.0)
        full.append((t, t / 15))
        history.prune(t)
        t += 15.0
    now = t - 15.0
    ((_, gauge_points),) = history.select("gauge", (), now, 10**9)
    assert gauge_points[0][0] >= now - 600 and len(gauge_points) == 41
    ((_, points),) = history.select("counter", (), now, 10**9)
    recent = [p for p in points if p[0] >= now - FINE_S]
    old = [p for p in points if p[0] < now - FINE_S]
    assert len(recent) == FINE_S / 15 + 1  # full resolution
    assert all(b[0] - a[0] >= COARSE_STEP_S for a, b in zip(old, old[1:], strict=False))  # one a minute beyond
    assert len(old) == 6 * 60  # instead of 6 * 240
    # A rate over the whole 12 h barely moves: the first sample is at most a minute off.
    exact = extrapolated_rate(full, now - 12 * 3600, now, counter=True, is_rate=True)
    thinned = extrapolated_rate(points, now - 12 * 3600, now, counter=True, is_rate=True)
    assert exact is not None and thinned == pytest.approx(exact, rel=1e-3)


def test_a_thirty_day_slo_keeps_its_counters_three_days_and_its_recordings_minutes() -> None:
    engine = AlertEngine([SLORule("Chat", objective=0.999)], source=[])
    retention = engine.series.retention_by_name
    margin = 2 * engine.interval_s
    assert retention["infertel_live_requests_total"] == 3 * 86_400 + margin
    assert retention["infertel_live_errors_total"] == 3 * 86_400 + margin
    assert retention["slo:sli_error:ratio_rate3d"] == 300 + margin  # read by instant selectors only
    assert engine.series.retention_s == 300 + margin  # any other series


def test_series_past_the_bound_are_dropped_and_counted() -> None:
    history = SeriesHistory(retention_s=600, max_series=2)
    for i in range(4):
        history.append(labels_of("x", {"i": str(i)}), 0.0, 1.0)
    assert (history.series_count(), history.dropped) == (2, 2)
