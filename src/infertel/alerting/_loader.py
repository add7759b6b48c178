"""Rules, routes and receivers from a YAML file or a mapping (``INFERTEL_ALERT_RULES`` / ``configure(alert_rules=)``).

The file shape follows Prometheus' rule files and Alertmanager's configuration::

    interval: 15s
    defaults: {disable: [InfertelHighCpu]}      # or true (the default) / false
    groups:
      - name: inference
        rules:
          - alert: HighP99Latency
            signal: latency_p99
            threshold: 2
            for: 5m
            severity: page
            annotations: {summary: "p99 of {{ $labels.gen_ai_request_model }} is {{ $value }}s"}
    route: {receiver: team, routes: [{matchers: ['severity="page"'], receiver: oncall}]}
    receivers: [{name: team, channels: [{type: webhook, url: "http://127.0.0.1:9000/hook"}]}]
    inhibit_rules: [{source_matchers: ['severity="page"'], target_matchers: ['severity="ticket"']}]

Every mistake is a ``ValueError`` naming the rule (or section) and the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infertel.alerting._defaults import default_rules
from infertel.alerting._routing import InhibitRule, Receiver, Route, matchers_of
from infertel.alerting._rules import DeviationRule, Rule, ThresholdRule, TrendRule
from infertel.alerting._slo import SLORule

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")

_COMMON = {"alert": "name", "name": "name", "severity": "severity", "for": "for_s",
           "keep_firing_for": "keep_firing_for_s", "labels": "labels", "annotations": "annotations",
           "enabled": "enabled"}  # fmt: skip
_KINDS: dict[str, tuple[type[Rule], dict[str, str]]] = {
    "threshold": (ThresholdRule, {"signal": "signal", "op": "op", "threshold": "threshold", "window": "window_s",
                                  "by": "by", "where": "where", "series": "series"}),
    "slo": (SLORule, {"sli": "sli", "objective": "objective", "period": "period_s",
                      "latency_threshold": "latency_threshold_s", "by": "by", "where": "where",
                      "min_events": "min_events", "page_severity": "page_severity",
                      "ticket_severity": "ticket_severity", "service": "service"}),
    "trend": (TrendRule, {"signal": "signal", "threshold_pct_per_hour": "threshold_pct_per_hour",
                          "trend_window": "trend_window_s", "window": "window_s", "by": "by", "where": "where"}),
    "deviation": (DeviationRule, {"signal": "signal", "method": "method", "k": "k", "alpha": "alpha",
                                  "min_samples": "min_samples",
                                  "baseline_window": "baseline_window_s", "days": "days", "tolerance": "tolerance",
                                  "direction": "direction", "window": "window_s", "by": "by", "where": "where"}),
}  # fmt: skip
_DURATION_FIELDS = {"for_s", "keep_firing_for_s", "window_s", "period_s", "trend_window_s", "baseline_window_s",
                    "latency_threshold_s"}  # fmt: skip


def parse_duration(value: Any, where: str) -> float:
    """Seconds from a number or a Prometheus duration (``"90s"``, ``"1h30m"``, ``"30d"``).

    Example:
        >>> parse_duration("1h30m", "for"), parse_duration(15, "interval"), parse_duration("250ms", "x")
        (5400.0, 15.0, 0.25)
    """
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected a duration such as 30s, 5m, 1h or a number of seconds; got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{where}: a duration cannot be negative; got {value!r}")
        return float(value)
    match = _DURATION.match(str(value).strip()) if isinstance(value, str) and value.strip() else None
    if match is None:
        raise ValueError(f"{where}: expected a duration such as 30s, 5m, 1h or a number of seconds; got {value!r}")
    days, hours, minutes, seconds, millis = (int(g or 0) for g in match.groups())
    return days * 86400.0 + hours * 3600.0 + minutes * 60.0 + seconds + millis / 1000.0


def rule_from_mapping(item: Mapping[str, Any]) -> Rule:
    """One rule from its mapping (the YAML shape).

    Example:
        >>> rule_from_mapping({"alert": "Hot", "signal": "cpu_utilization", "threshold": 0.8, "for": "5m"}).for_s
        300.0
    """
    if not isinstance(item, Mapping):
        raise ValueError(f"alert rule: expected a mapping; got {item!r}")
    name = str(item.get("alert", item.get("name", "?")))
    kind = item.get("kind", "threshold")
    if kind not in _KINDS:
        raise ValueError(f"alert rule {name!r}: field 'kind': must be one of {', '.join(_KINDS)}; got {kind!r}")
    cls, fields = _KINDS[kind]
    kwargs: dict[str, Any] = {}
    for key, value in item.items():
        if key == "kind":
            continue
        target = _COMMON.get(key) or fields.get(key)
        if target is None:
            accepted = ", ".join(sorted({*_COMMON, *fields, "kind"}))
            raise ValueError(f"alert rule {name!r}: field {key!r}: unknown for kind {kind!r}; accepted: {accepted}")
        if target in _DURATION_FIELDS:
            value = parse_duration(value, f"alert rule {name!r}: field {key!r}")
        elif target == "by":
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"alert rule {name!r}: field 'by': expected a list of label names; got {value!r}")
            value = tuple(value)
        elif target in ("labels", "annotations", "where"):
            if not isinstance(value, Mapping):
                raise ValueError(f"alert rule {name!r}: field {key!r}: expected a mapping; got {value!r}")
            value = {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}
        kwargs[target] = value
    if "name" not in kwargs:
        raise ValueError("alert rule: field 'alert': every rule needs a name")
    try:
        return cls(**kwargs)
    except TypeError as error:  # a wrong type reaching a comparison in validate()
        raise ValueError(f"alert rule {name!r}: {error}") from None


@dataclass
class AlertingConfig:
    """Everything an alerting file configures (plain data; receivers' channel specs kept as given).

    Example:
        >>> config = load_config({"defaults": False, "rules": [{"alert": "A", "signal": "cpu_utilization"}]})
        >>> [r.name for r in config.rules], config.interval_s
        (['A'], 15.0)
    """

    rules: list[Rule] = field(default_factory=list)
    interval_s: float = 15.0
    route: Route | None = None
    receivers: list[Receiver] = field(default_factory=list)
    receiver_specs: list[dict[str, Any]] = field(default_factory=list)
    inhibit_rules: list[InhibitRule] = field(default_factory=list)


def _route(spec: Any, where: str) -> Route:
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: expected a mapping; got {spec!r}")
    known = {"receiver", "matchers", "group_by", "group_wait", "group_interval", "repeat_interval", "continue",
             "routes"}  # fmt: skip
    for key in spec:
        if key not in known:
            raise ValueError(f"{where}: field {key!r}: unknown; accepted: {', '.join(sorted(known))}")
    durations = {k: parse_duration(spec[k], f"{where}: field {k!r}") for k in
                 ("group_wait", "group_interval", "repeat_interval") if k in spec}  # fmt: skip
    try:
        matchers = matchers_of(spec.get("matchers", ()))
    except ValueError as error:
        raise ValueError(f"{where}: field 'matchers': {error}") from None
    group_by = spec.get("group_by")
    return Route(
        receiver=spec.get("receiver"), matchers=matchers,
        group_by=tuple(group_by) if group_by is not None else None,
        group_wait_s=durations.get("group_wait"), group_interval_s=durations.get("group_interval"),
        repeat_interval_s=durations.get("repeat_interval"), continue_=bool(spec.get("continue", False)),
        routes=[_route(child, f"{where}.routes[{i}]") for i, child in enumerate(spec.get("routes", ()))],
    )  # fmt: skip


def _receiver(spec: Any, index: int, build_channels: bool) -> Receiver:
    where = f"receivers[{index}]"
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise ValueError(f"{where}: expected a mapping with a name; got {spec!r}")
    channels: list[Any] = []
    specs = spec.get("channels", ())
    if specs and build_channels:
        try:
            from infertel.alerting.channels import from_config
        except ImportError:
            raise ValueError(
                f"{where}: field 'channels': channel configuration needs infertel.alerting.channels"
            ) from None
        for position, channel_spec in enumerate(specs):
            try:
                channels.append(from_config(channel_spec))
            except ValueError as error:
                raise ValueError(f"{where}.channels[{position}]: {error}") from None
    escalate_after = spec.get("escalate_after")
    after = parse_duration(escalate_after, f"{where}: field 'escalate_after'") if escalate_after else None
    return Receiver(spec["name"], channels, spec.get("escalate_to"), after)


def load_config(source: str | os.PathLike[str] | Mapping[str, Any], *, build_channels: bool = True) -> AlertingConfig:
    """An :class:`AlertingConfig` from a YAML file path, YAML text or a mapping.

    Raises:
        ValueError: anything invalid, naming the rule or section and the field.
        ImportError: a YAML file without PyYAML (``pip install 'infertel[alerts]'``).
    """
    data = _read(source)
    if not isinstance(data, Mapping):
        raise ValueError("alert rules: the file must be a mapping with 'groups' or 'rules'")
    known = {"interval", "defaults", "groups", "rules", "route", "receivers", "inhibit_rules"}
    for key in data:
        if key not in known:
            raise ValueError(f"alert rules: unknown section {key!r}; accepted: {', '.join(sorted(known))}")
    config = AlertingConfig()
    if "interval" in data:
        config.interval_s = parse_duration(data["interval"], "alert rules: field 'interval'")
        if config.interval_s <= 0:
            raise ValueError("alert rules: field 'interval': must be positive")
    defaults = data.get("defaults", True)
    if defaults is True:
        config.rules.extend(default_rules())
    elif isinstance(defaults, Mapping):
        config.rules.extend(default_rules(disable=tuple(defaults.get("disable", ())),
                                          only=tuple(defaults["only"]) if "only" in defaults else None))  # fmt: skip
    elif defaults is not False:
        raise ValueError(f"alert rules: field 'defaults': expected true, false or {{disable: [...]}}; got {defaults!r}")
    items: list[Any] = list(data.get("rules", ()))
    for group in data.get("groups", ()):
        if not isinstance(group, Mapping) or "rules" not in group:
            raise ValueError(f"alert rules: each group needs 'rules'; got {group!r}")
        items.extend(group["rules"])
    config.rules.extend(rule_from_mapping(item) for item in items)
    receivers = data.get("receivers", ())
    config.receiver_specs = [dict(r) for r in receivers]
    config.receivers = [_receiver(spec, i, build_channels) for i, spec in enumerate(receivers)]
    if "route" in data:
        config.route = _route(data["route"], "route")
    config.inhibit_rules = [
        InhibitRule(matchers_of(r.get("source_matchers", ())), matchers_of(r.get("target_matchers", ())),
                    tuple(r.get("equal", ())))
        for r in data.get("inhibit_rules", ())
    ]  # fmt: skip
    _check_references(config)
    return config


def _check_references(config: AlertingConfig) -> None:
    names = {r.name for r in config.receivers}
    for receiver in config.receivers:
        if receiver.escalate_to is not None and receiver.escalate_to not in names:
            raise ValueError(
                f"receiver {receiver.name!r}: field 'escalate_to': no receiver named {receiver.escalate_to!r}"
            )
    if config.route is None:
        return
    config.route.resolve()
    stack = [config.route]
    while stack:
        node = stack.pop()
        if names and node.receiver not in names:
            raise ValueError(f"route {node.key}: field 'receiver': no receiver named {node.receiver!r}")
        stack.extend(node.routes)


def load_rules(source: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Rule]) -> list[Rule]:
    """Rules from a YAML file, YAML text, a mapping, or a list of :class:`Rule` (returned as is).

    Example:
        >>> [r.name for r in load_rules({"defaults": False, "rules": [{"alert": "A", "signal": "cpu_utilization"}]})]
        ['A']
    """
    if isinstance(source, Sequence) and not isinstance(source, str):
        return list(source)
    return load_config(source, build_channels=False).rules


def _read(source: str | os.PathLike[str] | Mapping[str, Any]) -> Any:
    if isinstance(source, Mapping):
        return source
    text = str(source)
    is_path = isinstance(source, os.PathLike) or (
        "\n" not in text and (text.endswith((".yml", ".yaml", ".json")) or Path(text).is_file())
    )
    try:
        import yaml
    except ImportError:
        raise ImportError("alert rule files need PyYAML: pip install 'infertel[alerts]'") from None
    if is_path:
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as error:
            raise ValueError(f"alert rules: cannot read {source}: {error.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"alert rules: not valid YAML: {error}") from None
