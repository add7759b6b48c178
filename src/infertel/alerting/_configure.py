"""``configure(alert_rules=...)`` / ``INFERTEL_ALERT_RULES``: check the rules at configuration time, run the engine."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infertel.alerting._engine import AlertEngine
from infertel.alerting._loader import AlertingConfig, load_config
from infertel.alerting._rules import Rule


def normalize(value: Any, setting: str) -> Any:
    """``value`` checked and made comparable (a path as text, rules as a tuple); ``ValueError`` naming ``setting``.

    Example:
        >>> normalize(None, "alert_rules") is None
        True
    """
    if value is None or isinstance(value, AlertingConfig):
        return value
    if isinstance(value, (str, os.PathLike)):
        text = str(value).strip()
        if not text:
            return None
        if not Path(text).is_file():
            raise ValueError(f"{setting}: no such alert rules file: {text}")
        try:
            load_config(Path(text), build_channels=False)
        except ValueError as error:
            raise ValueError(f"{setting}: {error}") from None
        return text
    if isinstance(value, Mapping):
        try:
            load_config(value, build_channels=False)
        except ValueError as error:
            raise ValueError(f"{setting}: {error}") from None
        return value
    if isinstance(value, Sequence) and all(isinstance(r, Rule) for r in value):
        return tuple(value)
    raise ValueError(
        f"{setting}: expected a rules file path, a mapping, or a list of infertel.alerting rules; got {value!r}"
    )


def _sources(config: AlertingConfig, store_path: Any) -> Any:
    """The live source, plus the store's rollups when a rule reads ``infertel_store_*`` series."""
    from infertel.alerting._rules import ThresholdRule
    from infertel.alerting._slo import SLORule
    from infertel.alerting._sources import STORE_PREFIX, LiveSource, StoreSource

    thresholds = [r.latency_threshold_s for r in config.rules if isinstance(r, SLORule) and r.sli == "latency"]
    disks = (str(Path(store_path).parent),) if store_path is not None else (".",)  # the store's filesystem
    live = LiveSource(latency_thresholds_s=[t for t in thresholds if t is not None], disk_paths=disks)
    queries = sorted({r.series[len(STORE_PREFIX) :] for r in config.rules
                      if isinstance(r, ThresholdRule) and r.series.startswith(STORE_PREFIX)})  # fmt: skip
    if not queries or store_path is None or not Path(store_path).exists():
        return live
    from infertel_exporters.sqlite import SQLiteStore

    return [live, StoreSource(SQLiteStore(store_path, read_only=True), queries)]


def start(value: Any, *, meter_provider: Any, store_path: Any) -> AlertEngine | None:
    """Build and start the engine for a normalized ``alert_rules`` value (``None``: none)."""
    if value is None:
        return None
    if isinstance(value, AlertingConfig):
        config = value
    elif isinstance(value, tuple):
        config = AlertingConfig(rules=list(value))
    else:
        config = load_config(Path(value) if isinstance(value, str) else value)
    engine = AlertEngine(
        config.rules,
        source=_sources(config, store_path),
        interval_s=config.interval_s,
        route=config.route,
        receivers=config.receivers,
        inhibit_rules=config.inhibit_rules,
        store=str(store_path) if store_path is not None else None,
        meter_provider=meter_provider,
    )
    engine.start()
    from infertel.dashboard._registry import register_provider

    register_provider("alerting", dashboard_features)  # mounted dashboards built from now on show the alerts
    return engine


def dashboard_features() -> tuple[list[Any], list[Any]]:
    """The alerts and silences pages and their API while :func:`current_engine` runs, else nothing.

    The dashboard asks each time a router is built (``infertel.dashboard.router(...)``), so a
    mounted dashboard shows the alerts of the engine ``configure(alert_rules=...)`` started without
    ``infertel.alerting.web.register()``; an explicit ``register(...)`` replaces these.

    Example:
        >>> dashboard_features() if current_engine() is None else ([], [])
        ([], [])
    """
    if current_engine() is None:
        return [], []
    from infertel.alerting.web import feature

    built = feature()
    return built.pages(), [built.api()]


def current_engine() -> AlertEngine | None:
    """The engine ``configure(alert_rules=...)`` started, ``None`` without alert rules.

    For pages and APIs that show alerts (``engine.alerts()``, ``silences()``, ``history()``,
    ``acknowledge()``, ``add_silence()``, ``expire_silence()``).

    Example:
        >>> current_engine() is None or current_engine().rounds >= 0
        True
    """
    from infertel._internal import state

    engine = state.current().extras.get("alerting")
    return engine if isinstance(engine, AlertEngine) else None
