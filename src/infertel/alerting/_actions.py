"""Built-in remediation actions: load shedding, garbage collection and cache clearing, scale requests."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from typing import Any

from infertel.health._shedding import LoadShedder, load_shedder


def shed_load(
    *, retry_after_s: float = 30.0, shedder: LoadShedder = load_shedder, dry_run: bool = False, **options: Any
) -> Action:
    """Shed load while the alert fires: the inference routes answer 503 with ``Retry-After``.

    ``infertel-instrumentation-fastapi`` reads ``shedder`` (the process-wide one by default) on
    each request to the inference routes. Shedding starts on fire and stops on resolve (several
    alerts may hold it: it stops when the last one resolves).

    Example:
        >>> action = shed_load(retry_after_s=10)
        >>> action.name
        'shed_load'
    """
    if not retry_after_s > 0:
        raise ValueError(f"shed_load retry_after_s: {retry_after_s!r}; expected a positive number of seconds")

    def holder(alert: Any) -> str:
        return f"{getattr(alert, 'name', '')}/{getattr(alert, 'fingerprint', '')}"

    def start(alert: Any) -> str:
        shedder.activate(holder(alert), retry_after_s=retry_after_s)
        return f"shedding inference requests (Retry-After {retry_after_s:g} s)"

    def stop(alert: Any) -> str:
        shedder.release(holder(alert))
        return "shedding stopped" if not shedder.active else f"still shedding for {', '.join(shedder.holders())}"

    options.setdefault("max_runs", 1_000)  # holding a switch: not something to rate-limit
    return Action(
        "shed_load",
        fire=start,
        resolve=stop,
        dry_run=dry_run,
        describe=f"shed inference requests with 503 (Retry-After {retry_after_s:g} s)",
        **options,
    )


def collect_garbage(*callbacks: Callable[[], Any], dry_run: bool = False, **options: Any) -> Action:
    """Run ``gc.collect()`` then each cache-clearing callback (``torch.cuda.empty_cache`` ...) on fire.

    Example:
        >>> import functools
        >>> @functools.lru_cache
        ... def embed(text): ...
        >>> action = collect_garbage(embed.cache_clear)
    """

    def run(alert: Any) -> str:
        collected = gc.collect()
        for callback in callbacks:
            callback()
        return f"gc collected {collected} objects; {len(callbacks)} cache callback(s) run"

    return Action(
        "collect_garbage",
        fire=run,
        dry_run=dry_run,
        describe=f"gc.collect() and {len(callbacks)} cache callback(s)",
        **options,
    )


def scale_request(
    url: str,
    *,
    direction: str = "up",
    headers: Mapping[str, str] | None = None,
    resolve_direction: str | None = None,
    dry_run: bool = False,
    **options: Any,
) -> Action:
    """POST a scale request to an autoscaler's webhook on fire (and optionally on resolve).

    The JSON body: ``{"action": "scale", "direction": "up", "alert": <v4 alert entry>,
    "reason": <summary>}``. 5xx, 429 and network errors are retried within the action's time
    limit (``timeout_millis``); the URL is never logged.

    Example:
        >>> action = scale_request("http://127.0.0.1:9000/scale", resolve_direction="down")
    """
    from infertel.alerting.channels._base import DeliveryError, RetryPolicy
    from infertel.alerting.channels._http import check_url, post_json, redact

    check_url(url, "scale_request url")
    retry = RetryPolicy(max_attempts=4, initial_backoff_s=0.2, max_backoff_s=2.0)
    timeout_s = float(options.get("timeout_millis", 10_000)) / 1000

    def request(which: str) -> Callable[[Any], str]:
        def run(alert: Any) -> str:
            entry = (
                alert.to_webhook() if hasattr(alert, "to_webhook") else {"labels": dict(getattr(alert, "labels", {}))}
            )
            body = {
                "action": "scale",
                "direction": which,
                "alert": entry,
                "reason": str((getattr(alert, "annotations", {}) or {}).get("summary", getattr(alert, "name", ""))),
            }
            attempt, started = 0, time.monotonic()
            while True:
                attempt += 1
                try:
                    status, _ = post_json(url, body, timeout_s=max(timeout_s / 2, 0.1), headers=headers)
                    return f"scale {which} requested from {redact(url)} (HTTP {status})"
                except DeliveryError as exc:
                    wait = retry.backoff_s(attempt, exc.retry_after_s)
                    if (
                        not exc.retryable
                        or attempt >= retry.max_attempts
                        or time.monotonic() - started + wait > timeout_s
                    ):
                        raise RuntimeError(f"scale request failed: {exc.reason}") from None
                    time.sleep(wait)

        return run

    return Action(
        f"scale_{direction}",
        fire=request(direction),
        resolve=request(resolve_direction) if resolve_direction else None,
        dry_run=dry_run,
        describe=f"request scale {direction} from {redact(url)}",
        **options,
    )


# At the end, as remediation imports this module's functions at its own end: either module may be imported first.
from infertel.alerting.remediation import Action  # noqa: E402
