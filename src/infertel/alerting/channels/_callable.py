"""Any Python callable as a channel, and :func:`as_channel` for the engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from infertel.alerting.channels._base import NOTIFY, Channel, DeliveryError, RetryPolicy


class CallableChannel(Channel):
    """Calls ``fn(payload)`` on the channel's worker thread for each notification.

    ``fn`` gets the Alertmanager webhook v4 payload (a dict it must not keep mutating). When it
    raises :class:`DeliveryError` its ``retryable`` decides; ``ConnectionError`` and
    ``TimeoutError`` are retried; any other exception is a failure, not retried. A call that
    overruns ``timeout_millis`` is not interrupted (Python cannot): it only holds up this channel.

    Args:
        fn: The callable.
        name: The channel's name (default: the callable's name).
        acknowledgements: Also call ``fn`` for acknowledgements, with ``event="acknowledge"`` as a
            keyword argument.
        timeout_millis: Documented limit (see above).
        max_queue: Notifications waiting at most.
        retry: The retry policy.

    Example:
        >>> received = []
        >>> channel = CallableChannel(received.append, name="memory")
        >>> channel.submit({"version": "4", "status": "firing", "alerts": []})
        True
        >>> channel.flush(); received[0]["status"]
        True
        'firing'
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        acknowledgements: bool = False,
        timeout_millis: float = 10_000,
        max_queue: int = 1_000,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not callable(fn):
            raise ValueError(f"CallableChannel: fn must be callable, got {type(fn).__name__}")
        label = name or getattr(fn, "__qualname__", None) or type(fn).__name__
        super().__init__(label, timeout_millis=timeout_millis, max_queue=max_queue, retry=retry)
        self._fn = fn
        self.supports_acknowledge = acknowledgements
        self.target = f"python:{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"

    def send(self, payload: Mapping[str, Any], event: str = NOTIFY) -> None:
        """Call the function (worker thread)."""
        try:
            if event == NOTIFY:
                self._fn(payload)
            else:
                self._fn(payload, event=event)
        except DeliveryError:
            raise
        except (ConnectionError, TimeoutError) as exc:
            raise DeliveryError(type(exc).__name__, retryable=True) from None
        except Exception as exc:
            raise DeliveryError(f"the callable raised {type(exc).__name__}", retryable=False) from None


def as_channel(obj: Any) -> Any:
    """``obj`` as a channel: a channel (anything with ``submit``) as is, a callable wrapped.

    Raises:
        ValueError: Neither.

    Example:
        >>> as_channel(print).name
        'print'
    """
    if hasattr(obj, "submit"):
        return obj
    if callable(obj):
        return CallableChannel(obj)
    raise ValueError(f"a channel must have submit(payload) or be callable; got {type(obj).__name__}")
