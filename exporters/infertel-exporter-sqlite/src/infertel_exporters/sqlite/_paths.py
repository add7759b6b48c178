"""Where the embedded store lives when no path is given."""

from __future__ import annotations

import os
from pathlib import Path

STORE_PATH_VARIABLE = "INFERTEL_STORE_PATH"
"""The environment variable naming the store's file (the same one ``infertel.configure()`` reads)."""


def default_path() -> Path:
    """The store's file: ``$INFERTEL_STORE_PATH`` or ``${XDG_DATA_HOME:-~/.local/share}/infertel/infertel.db``.

    The exporters use it when they are built without a path, as the OpenTelemetry SDK's own
    configurator builds an exporter named in ``OTEL_TRACES_EXPORTER=infertel_store``.

    Example:
        >>> default_path().name
        'infertel.db'
    """
    explicit = os.environ.get(STORE_PATH_VARIABLE, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME", "").strip() or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "infertel" / "infertel.db"
