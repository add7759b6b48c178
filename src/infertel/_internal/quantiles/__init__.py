"""Mergeable quantile sketches with a guaranteed relative error (see :mod:`._sketch`)."""

from __future__ import annotations

from infertel._internal.quantiles._sketch import LogMapping, QuantileSketch

__all__ = ["LogMapping", "QuantileSketch"]
