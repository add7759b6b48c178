"""Server-rendered views of a profile: a flame graph as SVG (no script) and the top allocation sites."""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

WIDTH = 1200
ROW = 17
MIN_WIDTH_PX = 0.3
"""Frames narrower than this are not drawn (their time still counts in their parent)."""

MAX_RECTS = 4_000
"""Most frames drawn; the narrowest go first."""

PALETTE = ("#e8743b", "#f2a65a", "#e05d44", "#f4c95d", "#d9534f", "#f0ad4e")
"""Frame colours, picked by a hash of the name (stable across renders). Presentation attributes, not
``style``: the dashboard's Content-Security-Policy forbids style attributes, and the SVG must also
stand alone (``flamegraph.svg``) without the dashboard's style sheet."""


class _Node:
    __slots__ = ("children", "count", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.children: dict[str, _Node] = {}


def _label(frame: Sequence[Any]) -> str:
    file, func, line = frame[0], frame[1], frame[2]
    return f"{func} ({os.path.basename(file)}:{line})" if file else str(func)


def tree(stacks: Sequence[Mapping[str, Any]]) -> _Node:
    """The call tree of ``[{"frames": [[file, function, line], ...], "count": n}]`` (outermost frame first)."""
    root = _Node("all")
    for entry in stacks:
        n = int(entry["count"])
        root.count += n
        node = root
        for frame in entry["frames"]:
            label = _label(frame)
            child = node.children.get(label)
            if child is None:
                child = node.children[label] = _Node(label)
            child.count += n
            node = child
    return root


def flame_graph_svg(profile: Mapping[str, Any], *, width: int = WIDTH) -> str:
    """A flame graph of a CPU profile as a standalone SVG: the root at the bottom, callees above.

    Every frame is a ``<rect>`` with a ``<title>`` (function, file:line, samples, share), so a
    browser shows the details on hover without any script.

    Example:
        >>> svg = flame_graph_svg({"stacks": [{"frames": [["a.py", "main", 1], ["a.py", "work", 5]], "count": 3}]})
        >>> svg.startswith("<svg") and "work (a.py:5)" in svg
        True
    """
    root = tree(profile.get("stacks") or [])
    total = root.count or 1
    scale = width / total
    rects: list[tuple[int, float, float, _Node]] = []  # depth, x, w, node

    def walk(node: _Node, depth: int, x: float) -> None:
        w = node.count * scale
        if w < MIN_WIDTH_PX:
            return
        rects.append((depth, x, w, node))
        for child in sorted(node.children.values(), key=lambda c: c.name):
            walk(child, depth + 1, x)
            x += child.count * scale

    walk(root, 0, 0.0)
    if len(rects) > MAX_RECTS:
        rects = sorted(rects, key=lambda r: -r[2])[:MAX_RECTS]
    depth = max((r[0] for r in rects), default=0) + 1
    height = depth * ROW + 4
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="flame" width="{width}" height="{height}"'
           f' viewBox="0 0 {width} {height}" role="img" aria-label="CPU flame graph" font-family="monospace"'
           ' font-size="11">']  # fmt: skip
    for d, x, w, node in rects:
        y = height - (d + 1) * ROW
        share = node.count / total
        fill = "#c9c9c9" if d == 0 else PALETTE[zlib.crc32(node.name.encode()) % len(PALETTE)]
        title = escape(f"{node.name}: {node.count} samples ({share:.1%})")
        out.append(f'<g><title>{title}</title><rect fill="{fill}" stroke="#fff" stroke-width="0.5"'
                   f' x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 1}"/>')  # fmt: skip
        chars = int(w / 7) - 1
        if chars >= 3:
            text = node.name if len(node.name) <= chars else node.name[: chars - 1] + "…"
            out.append(f'<text fill="#111" x="{x + 3:.1f}" y="{y + ROW - 5}">{escape(text)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def top_functions(profile: Mapping[str, Any], limit: int = 20) -> list[dict[str, Any]]:
    """Functions by self samples (innermost frame) and total samples (anywhere on the stack).

    Example:
        >>> top_functions({"samples": 2, "stacks": [{"frames": [["a.py", "f", 1]], "count": 2}]})[0]["self"]
        2
    """
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    for entry in profile.get("stacks") or []:
        labels = [_label(f) for f in entry["frames"] if f[0]]  # not the "thread <name>" roots
        if not labels:
            continue
        own[labels[-1]] = own.get(labels[-1], 0) + entry["count"]
        for label in set(labels):
            total[label] = total.get(label, 0) + entry["count"]
    samples = max(1, sum(e["count"] for e in profile.get("stacks") or []))
    ranked = sorted(total, key=lambda k: (-own.get(k, 0), -total[k], k))[:limit]
    return [{"function": k, "self": own.get(k, 0), "total": total[k], "self_share": own.get(k, 0) / samples,
             "total_share": total[k] / samples} for k in ranked]  # fmt: skip


def allocation_sites(profile: Mapping[str, Any], limit: int = 50) -> list[dict[str, Any]]:
    """The heap snapshot's sites as rows: ``{"where", "size_bytes", "count", "traceback"}``.

    Example:
        >>> allocation_sites({"sites": [{"size_bytes": 10, "count": 1, "frames": [["a.py", 3]]}]})[0]["where"]
        'a.py:3'
    """
    rows = []
    for site in (profile.get("sites") or [])[:limit]:
        frames = site.get("frames") or []
        where = f"{frames[-1][0]}:{frames[-1][1]}" if frames else "?"
        rows.append({"where": where, "size_bytes": site["size_bytes"], "count": site["count"],
                     "traceback": [f"{f[0]}:{f[1]}" for f in frames]})  # fmt: skip
    return rows


__all__ = ["PALETTE", "allocation_sites", "flame_graph_svg", "top_functions", "tree"]
