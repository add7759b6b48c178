"""The HPA arithmetic: the replica formula with its tolerance, and scale-down stabilisation."""

from __future__ import annotations

import pytest

from infertel.autoscaling import StabilizationWindow, hpa_desired


@pytest.mark.parametrize(
    ("current", "metric", "target", "expected"),
    [
        (4, 70.0, 70.0, 4),  # on target
        (4, 76.0, 70.0, 4),  # +8.6%: within the 10% tolerance
        (4, 78.0, 70.0, 5),  # +11.4%: ceil(4 * 78 / 70) = ceil(4.457)
        (4, 64.0, 70.0, 4),  # -8.6%: within tolerance
        (4, 30.0, 70.0, 2),  # ceil(1.714)
        (10, 140.0, 70.0, 20),
        (3, 0.0, 70.0, 0),
        (0, 50.0, 70.0, 0),  # nothing running: nothing to scale from
    ],
)
def test_hpa_formula_with_tolerance(current: int, metric: float, target: float, expected: int) -> None:
    assert hpa_desired(current, metric, target) == expected


def test_tolerance_is_configurable() -> None:
    assert hpa_desired(4, 76.0, 70.0, tolerance=0.0) == 5
    assert hpa_desired(4, 90.0, 70.0, tolerance=0.3) == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"target": 0.0}, "target must be > 0"), ({"target": 1.0, "tolerance": 1.0}, "tolerance must be in")],
)
def test_hpa_formula_rejects_bad_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hpa_desired(1, 1.0, **kwargs)  # type: ignore[arg-type]


def test_scale_down_waits_for_the_whole_window_scale_up_does_not() -> None:
    window = StabilizationWindow(300.0)
    decisions = [(0.0, 5), (15.0, 3), (150.0, 2), (299.0, 2), (301.0, 2), (451.0, 2), (452.0, 6), (460.0, 1)]
    assert [window.apply(t, r) for t, r in decisions] == [5, 5, 5, 5, 3, 2, 6, 6]


def test_window_rejects_negative_length() -> None:
    with pytest.raises(ValueError, match="window_s must be >= 0"):
        StabilizationWindow(-1.0)
