"""Gunicorn configuration of tests/integration/test_prefork.py's ``post_worker_init`` case (the documented hook).

Gunicorn's ``UvicornWorker`` resets SIGTERM to its default action after the fork, and uvicorn later
restores whatever it found there and raises SIGTERM again: ``post_worker_init`` runs in between, so
infertel's SIGTERM flush installed there runs on that re-raised signal.
"""

from __future__ import annotations

from typing import Any

import infertel


def post_worker_init(worker: Any) -> None:
    """Install infertel's SIGTERM flush in each worker (gunicorn server hook)."""
    assert infertel.flush_on_sigterm(), "infertel's SIGTERM flush could not be installed"
