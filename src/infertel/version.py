"""The version of every infertel distribution (they move in lockstep)."""

__version__ = "0.1.0"
