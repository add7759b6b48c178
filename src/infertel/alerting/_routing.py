"""Routes, receivers, inhibition rules and silences: Alertmanager's configuration as plain data."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_MATCHER_HEAD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*")
_ESCAPES = {"n": "\n", '"': '"', "\\": "\\"}


def _unquote(raw: str, text: str) -> str:
    r"""A matcher's value as Alertmanager reads it: optional quotes, ``\"`` ``\\`` ``\n`` escapes.

    A backslash before any other character stays (``"a\.b"`` is the regex ``a\.b``), as in
    Alertmanager's ``labels.ParseMatcher``; an unescaped quote inside the value is an error.
    """
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            follower = body[index + 1]
            out.append(_ESCAPES.get(follower, "\\" + follower))
            index += 2
            continue
        if char == '"':
            if not quoted or index != len(body) - 1:
                raise ValueError(f'matcher {text!r}: unescaped double quote in the value (write \\")')
            quoted = False  # the closing quote
        else:
            out.append(char)
        index += 1
    if quoted:
        raise ValueError(f"matcher {text!r}: the value's closing double quote is missing")
    return "".join(out)


@dataclass(frozen=True)
class Matcher:
    """``name op value`` with op ``=``, ``!=``, ``=~``, ``!~`` (regexes anchored, as Alertmanager).

    Example:
        >>> Matcher.parse('severity=~"page|critical"').matches({"severity": "page"})
        True
    """

    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in ("=", "!=", "=~", "!~"):
            raise ValueError(f"matcher {self.name}: op must be =, !=, =~ or !~; got {self.op!r}")
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as error:
                raise ValueError(
                    f"matcher {self.name}{self.op}{self.value!r}: bad regular expression: {error}"
                ) from None

    @classmethod
    def parse(cls, text: str) -> Matcher:
        r"""Parse ``name="value"`` (Alertmanager's matcher syntax; ``str(matcher)`` gives text it reads back).

        Example:
            >>> m = Matcher.parse(r'path="C:\\tmp \"x\""')
            >>> m.value, Matcher.parse(str(m)) == m
            ('C:\\tmp "x"', True)
        """
        match = _MATCHER_HEAD.match(text)
        if match is None:
            raise ValueError(f"matcher {text!r}: expected name=value, name!=value, name=~regex or name!~regex")
        return cls(match.group(1), match.group(2), _unquote(text[match.end() :].rstrip(), text))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label is the empty string)."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        value = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{value}"'


def matchers_of(items: Sequence[Matcher | str] | Mapping[str, str]) -> tuple[Matcher, ...]:
    """Matchers from text, ``Matcher`` objects or a ``{name: value}`` mapping (equality).

    Example:
        >>> [str(m) for m in matchers_of({"team": "ml"})]
        ['team="ml"']
    """
    if isinstance(items, Mapping):
        return tuple(Matcher(k, "=", v) for k, v in items.items())
    return tuple(m if isinstance(m, Matcher) else Matcher.parse(m) for m in items)


@dataclass
class Receiver:
    """A named set of channels, optionally escalating to another receiver.

    Attributes:
        name: Referenced by routes.
        channels: Objects with ``submit(payload) -> bool`` (``infertel.alerting.channels``).
        escalate_to: Receiver notified too when a firing alert is not acknowledged in time.
        escalate_after_s: That time, from the first notification.

    Example:
        >>> Receiver("oncall", escalate_to="managers", escalate_after_s=900).name
        'oncall'
    """

    name: str
    channels: Sequence[Any] = ()
    escalate_to: str | None = None
    escalate_after_s: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"receiver name must be a non-empty string; got {self.name!r}")
        if self.escalate_after_s is not None and not self.escalate_after_s > 0:
            raise ValueError(
                f"receiver {self.name!r}: escalate_after_s must be positive; got {self.escalate_after_s!r}"
            )
        if any(not hasattr(c, "submit") for c in self.channels):
            from infertel.alerting.channels import as_channel  # a plain callable becomes a CallableChannel

            self.channels = [as_channel(c) for c in self.channels]


@dataclass
class Route:
    """One node of the routing tree (Alertmanager's ``route``); unset fields inherit the parent's.

    ``repeat_interval_s`` is rounded up to a multiple of ``group_interval_s``.

    Example:
        >>> root = Route("default", routes=[Route("pager", matchers=matchers_of(['severity="page"']))])
        >>> [r.receiver for r in root.match({"severity": "page"})]
        ['pager']
    """

    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait_s: float | None = None
    group_interval_s: float | None = None
    repeat_interval_s: float | None = None
    continue_: bool = False
    routes: list[Route] = field(default_factory=list)
    parent: Route | None = field(default=None, repr=False, compare=False)
    key: str = ""

    def resolve(self, parent: Route | None = None, path: str = "") -> Route:
        """Fill unset fields from ``parent`` (defaults at the root), round, and name each node; returns self."""
        self.parent = parent
        self.key = path or "{}"
        if parent is None:
            defaults = Route("", group_by=("alertname",), group_wait_s=30.0, group_interval_s=300.0,
                             repeat_interval_s=4 * 3600.0)  # fmt: skip
            if self.receiver is None:
                raise ValueError("route: the root route needs a receiver")
        else:
            defaults = parent
        for name in ("receiver", "group_by", "group_wait_s", "group_interval_s", "repeat_interval_s"):
            if getattr(self, name) is None:
                setattr(self, name, getattr(defaults, name))
        for name in ("group_wait_s", "group_interval_s", "repeat_interval_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0 or (name != "group_wait_s" and value == 0):
                raise ValueError(f"route {self.key}: {name[:-2]} must be a positive duration; got {value!r}")
        interval = float(self.group_interval_s)  # type: ignore[arg-type]
        self.repeat_interval_s = math.ceil(float(self.repeat_interval_s) / interval - 1e-9) * interval  # type: ignore[arg-type]
        for index, child in enumerate(self.routes):
            child.resolve(self, f"{self.key}/{index}")
        return self

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with ``labels`` goes to (depth first, ``continue`` honoured)."""
        if not all(m.matches(labels) for m in self.matchers):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            if matched:
                found.extend(matched)
                if not child.continue_:
                    break
        return found or [self]


@dataclass(frozen=True)
class InhibitRule:
    """Mute alerts matching ``target`` while an alert matching ``source`` fires with the same ``equal`` labels.

    Example:
        >>> rule = InhibitRule(matchers_of(['severity="page"']), matchers_of(['severity="ticket"']), ("model",))
        >>> rule.inhibits({"severity": "ticket", "model": "a"}, [{"severity": "page", "model": "a"}])
        True
    """

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def inhibits(self, labels: Mapping[str, str], firing: Sequence[Mapping[str, str]]) -> bool:
        """Whether an alert with ``labels`` is muted by one of the ``firing`` alerts."""
        if not all(m.matches(labels) for m in self.target):
            return False
        for source in firing:
            if source is labels or dict(source) == dict(labels):
                continue
            if all(m.matches(source) for m in self.source) and all(
                source.get(name, "") == labels.get(name, "") for name in self.equal
            ):
                return True
        return False


@dataclass(frozen=True)
class Silence:
    """Mutes matching alerts from ``starts_at`` until ``ends_at`` (Unix seconds).

    Example:
        >>> s = Silence("id1", matchers_of(['alertname="A"']), 0.0, 60.0, "ops", "deploy")
        >>> s.mutes({"alertname": "A"}, now=30.0), s.mutes({"alertname": "A"}, now=61.0)
        (True, False)
    """

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""

    def active(self, now: float) -> bool:
        """Whether the silence is in effect at ``now``."""
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], *, now: float) -> bool:
        """Whether it is active and every matcher matches ``labels``."""
        return self.active(now) and all(m.matches(labels) for m in self.matchers)
