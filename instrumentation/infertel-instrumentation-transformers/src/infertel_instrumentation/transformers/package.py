"""The library versions this instrumentation supports (the ``instruments`` extra)."""

from __future__ import annotations

_instruments = ("transformers >= 4.40", "torch >= 2.1")
