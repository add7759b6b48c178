"""Alert rules over infertel's own series, with Alertmanager's lifecycle, routing and silences.

Rules are plain data in the Prometheus rule shape (name, expression, ``for``, ``keep_firing_for``,
labels, annotations) of four kinds: :class:`ThresholdRule`, :class:`SLORule` (multi-window,
multi-burn-rate), :class:`TrendRule` and :class:`DeviationRule`. :class:`AlertEngine` evaluates
them in process on a background thread; :func:`render_prometheus_rules` and
:func:`render_alertmanager_config` give the same rules to Prometheus and Alertmanager.

Example:
    >>> from infertel import alerting
    >>> rules = alerting.load_rules({"rules": [{"alert": "HighP99", "signal": "latency_p99",
    ...                                          "threshold": 2, "for": "5m", "severity": "page"}]})
    >>> engine = alerting.AlertEngine(rules, receivers=[alerting.Receiver("default")])
    >>> engine.start()  # doctest: +SKIP
"""

from __future__ import annotations

from infertel.alerting._configure import current_engine
from infertel.alerting._defaults import default_rules
from infertel.alerting._dispatch import payload
from infertel.alerting._engine import FIRING_METRIC, AlertEngine
from infertel.alerting._expr import Expr
from infertel.alerting._loader import AlertingConfig, load_config, load_rules
from infertel.alerting._persist import AlertStore
from infertel.alerting._render import render_alertmanager_config, render_prometheus_rules
from infertel.alerting._routing import InhibitRule, Matcher, Receiver, Route, Silence
from infertel.alerting._rules import DeviationRule, Rule, ThresholdRule, TrendRule
from infertel.alerting._signals import SIGNALS
from infertel.alerting._slo import SLORule
from infertel.alerting._sources import CombinedSource, LiveSource, ReplaySource, StoreSource
from infertel.alerting._state import Alert

__all__ = [
    "FIRING_METRIC",
    "SIGNALS",
    "Alert",
    "AlertEngine",
    "AlertStore",
    "AlertingConfig",
    "CombinedSource",
    "DeviationRule",
    "Expr",
    "InhibitRule",
    "LiveSource",
    "Matcher",
    "Receiver",
    "ReplaySource",
    "Route",
    "Rule",
    "SLORule",
    "Silence",
    "StoreSource",
    "ThresholdRule",
    "TrendRule",
    "current_engine",
    "default_rules",
    "load_config",
    "load_rules",
    "payload",
    "render_alertmanager_config",
    "render_prometheus_rules",
]
