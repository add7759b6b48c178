"""The version of this distribution (every infertel distribution moves in lockstep; a test checks)."""

__version__ = "0.1.0"
