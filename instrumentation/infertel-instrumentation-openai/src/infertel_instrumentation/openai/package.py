"""The library versions this instrumentation supports (the ``instruments`` extra)."""

from __future__ import annotations

_instruments = ("openai >= 1.40",)
