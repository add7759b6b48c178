"""The data behind every autoscaling view, computed once from the store; JSON and pages are views of it.

Times are Unix nanoseconds (``*_ns``) and ISO 8601 UTC (``time``); rates are requests per second.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from infertel._internal.commands._query import iso
from infertel.planning_web._settings import STEP_S, PlanningSettings

_NS = 1_000_000_000
DECISION_S = 60
"""Seconds between the replayed decisions (one rollup minute each)."""


class NotEnoughData(Exception):
    """The store holds too little history for this view (answered 409 with the message)."""


def request_history(store: Any, start_ns: int, end_ns: int) -> tuple[list[float], float | None]:
    """Requests per 5-minute bucket and mean tokens per request: the reader of ``infertel capacity-plan``."""
    # one code path with the CLI (h15-plan's; see CONTRACT15 for the public name asked for)
    from infertel._internal.commands.capacity_plan import _history

    return _history(store, start_ns, end_ns)


def predictions(store: Any, s: PlanningSettings, now_ns: int) -> dict[str, Any]:
    """The request-rate forecast with its interval over ``s.horizon_s``, from buckets ending at the last full one."""
    from infertel.forecast import HoltWinters

    origin = now_ns // int(STEP_S * _NS) * int(STEP_S * _NS)
    values, _ = request_history(store, origin - int(s.history_s * _NS), origin)
    steps = max(1, math.ceil(s.horizon_s / STEP_S))
    body: dict[str, Any] = {
        "origin": iso(origin), "origin_ns": origin, "step_s": STEP_S, "coverage": s.coverage,
        "horizon_s": s.horizon_s, "history_buckets": len(values), "points": [],
    }  # fmt: skip
    if len(values) < 4:
        raise NotEnoughData(f"need at least 4 five-minute buckets of request history, found {len(values)}")
    forecast = HoltWinters(step_s=STEP_S).fit(values, horizon_steps=steps).forecast(steps, coverage=s.coverage)
    for i in range(steps):
        at = origin + int((i + 1) * STEP_S * _NS)
        body["points"].append({
            "time": iso(at), "time_ns": at, "mean_rps": forecast.mean[i] / STEP_S,
            "lower_rps": forecast.lower[i] / STEP_S, "upper_rps": forecast.upper[i] / STEP_S,
        })  # fmt: skip
    return body


def _by_time(store: Any, query: str, start_ns: int, end_ns: int) -> dict[int, float | None]:
    series = store.timeseries(query, start_ns, end_ns, DECISION_S, group_by=())
    out: dict[int, float | None] = {}
    for one in series:
        for ts, value in one.points:
            if value is not None:
                out[ts] = (out.get(ts) or 0.0) + value if query != "ttft_p95" else max(out.get(ts) or 0.0, value)
    return out


def fit_history(store: Any, s: PlanningSettings, origin_ns: int) -> tuple[list[float], Any]:
    """The 5-minute request history up to ``origin_ns`` and a ``HoltWinters`` fitted on it (None under 4 buckets)."""
    from infertel.forecast import HoltWinters

    values, _ = request_history(store, origin_ns - int(s.history_s * _NS), origin_ns)
    return values, HoltWinters(step_s=STEP_S).fit(values) if len(values) >= 4 else None


def recommendation(
    store: Any, s: PlanningSettings, now_ns: int, current: int, source: str,
    fitted: Callable[[Any, PlanningSettings, int], tuple[list[float], Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Desired replicas now: infertel's policy replayed over the last 5-10 minutes of the store, minute by minute.

    The forecaster is fitted on the 5-minute request history up to ``origin`` (the start of the
    previous full bucket); each minute since then is one decision on that minute's arrivals, requests
    in flight, p95 TTFT; so the HPA-style "two decisions in a row" checks and the stabilisation
    window see real history. The store reports no waiting queue or KV-cache usage: they count as 0.
    ``fitted(store, settings, origin_ns)`` gives the history and a fitted forecaster the replay may
    update (default :func:`fit_history`; the views pass a cached copy).
    """
    from infertel.autoscaling import PredictiveAutoscaler
    from infertel.simulate import Observation

    table = s.capacity_table()
    step_ns = int(STEP_S * _NS)
    origin = now_ns // step_ns * step_ns - step_ns
    values, forecaster = (fitted or fit_history)(store, s, origin)
    policy = PredictiveAutoscaler(
        capacity_rps=table, target_running=s.target_running, forecaster=forecaster,
        origin_s=origin / _NS, cold_start_s=s.cold_start_s, interval_s=DECISION_S, coverage=s.coverage,
        slo_ttft_s=s.slo_ttft_s, min_replicas=s.min_replicas, max_replicas=s.max_replicas,
    )  # fmt: skip
    rates = _by_time(store, "requests_per_s", origin, now_ns)
    in_flight = _by_time(store, "in_flight", origin, now_ns)
    ttft = _by_time(store, "ttft_p95", origin, now_ns)
    signals: list[dict[str, Any]] = []
    minute = DECISION_S * _NS
    t = origin + minute
    while t <= now_ns:
        bucket = t - minute
        arrivals = round((rates.get(bucket) or 0.0) * DECISION_S)
        running = in_flight.get(bucket) or 0.0
        utilization = min(1.0, running / (s.max_batch * current))
        obs = Observation(
            t / _NS, float(DECISION_S), current, current, 0, round(running), arrivals, utilization, utilization,
            0.0, ttft.get(bucket), s.max_batch,
        )  # fmt: skip
        desired = policy.decide(obs)
        signals.append({
            "time": iso(t), "time_ns": t, "arrivals": arrivals, "requests_per_s": arrivals / DECISION_S,
            "in_flight": running, "ttft_p95_s": ttft.get(bucket), "desired_replicas": desired,
            "reason": policy.last.reason if policy.last else "",
        })  # fmt: skip
        t += minute
    last = policy.last
    if last is None:  # unreachable: now - origin >= one 5-minute step
        raise NotEnoughData("no full minute since the forecast origin")
    inputs = {k: v for k, v in dataclasses.asdict(last).items() if k not in ("time_s", "desired_replicas", "reason")}
    inputs.pop("current_replicas")
    return {
        "time": iso(signals[-1]["time_ns"]), "time_ns": signals[-1]["time_ns"],
        "desired_replicas": last.desired_replicas, "current_replicas": current, "current_replicas_source": source,
        "reason": last.reason, "inputs": inputs,
        "forecast_origin_ns": origin, "history_buckets": len(values), "signals": signals,
    }  # fmt: skip


def capacity_plan(store: Any, s: PlanningSettings, now_ns: int) -> dict[str, Any]:
    """The growth scenarios: the same JSON as ``infertel capacity-plan --json`` with these settings."""
    from infertel.capacity import plan_capacity

    table = s.capacity_table()
    values, tokens = request_history(store, now_ns - int(s.history_s * _NS), now_ns)
    days = len(values) * STEP_S / 86_400.0
    if days < 2.0:
        raise NotEnoughData(
            f"need at least 2 days of request history in the store to forecast a daily season, found {days:.1f}"
        )
    plan = plan_capacity(
        values, step_s=STEP_S, capacity_rps=table[min(table)], horizon_days=s.plan_horizon_days, growth=s.growth,
        gpus_per_replica=s.gpus_per_replica, price_per_gpu_hour=s.price_per_gpu_hour,
        price_per_1k_tokens=s.price_per_1k_tokens, tokens_per_request=tokens,
    )  # fmt: skip
    return {**plan.to_json(), "history_days": round(days, 2)}


def cost(store: Any, s: PlanningSettings, now_ns: int, range_s: float) -> dict[str, Any]:
    """Cost per service and model over the last ``range_s`` (``infertel.analysis``), with totals."""
    from infertel.analysis import analyze

    report = analyze(store, end_ns=now_ns, since_s=range_s, baseline="none", prices=s.prices)
    rows: list[dict[str, Any]] = []
    for x in report.series:
        parts = [v for v in (x.token_cost_usd, x.instance_cost_usd) if v is not None]
        rows.append({
            "service": x.service, "model": x.model, "requests": x.requests, "token_cost_usd": x.token_cost_usd,
            "instance_cost_usd": x.instance_cost_usd, "total_cost_usd": sum(parts) if parts else None,
            "cost_per_request_usd": x.cost_per_request_usd,
        })  # fmt: skip
    priced = [r["total_cost_usd"] for r in rows if r["total_cost_usd"] is not None]
    return {
        "start": iso(report.start_ns), "start_ns": report.start_ns, "end": iso(report.end_ns),
        "end_ns": report.end_ns, "series": rows, "total_cost_usd": sum(priced) if priced else None,
        "by_model": _totals(rows, "model"), "by_service": _totals(rows, "service"),
    }  # fmt: skip


def _totals(rows: Sequence[Mapping[str, Any]], key: str) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        name = r[key] or ""
        entry = out.setdefault(name, {key: r[key], "requests": 0, "total_cost_usd": None})
        entry["requests"] += r["requests"]
        if r["total_cost_usd"] is not None:
            entry["total_cost_usd"] = (entry["total_cost_usd"] or 0.0) + r["total_cost_usd"]
    return sorted(out.values(), key=lambda e: (-(e["total_cost_usd"] or 0.0), str(e[key])))
