"""Profiles on disk: JSON files in a folder next to the store, bounded in count and size."""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

MAX_PROFILES = 20
"""Profiles kept per folder; saving one more deletes the oldest."""

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Largest profile file read or written (a CPU profile keeps its most frequent stacks to fit)."""

_ID = re.compile(r"^(cpu|heap)-\d{19,20}-[0-9a-f]{8}$")


def profiles_dir(store_path: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the profiles of the store at ``store_path`` (default: the configured/default store).

    Example:
        >>> profiles_dir("/data/infertel.db").as_posix()
        '/data/infertel.db.profiles'
    """
    if store_path is None:
        from infertel._internal.configure import active_settings
        from infertel_exporters.sqlite import default_path

        settings = active_settings()
        store_path = settings.store_path if settings is not None and settings.store_path else default_path()
    path = Path(store_path).expanduser()
    return path.with_name(path.name + ".profiles")


def new_id(kind: str, started_ns: int) -> str:
    """A profile id: kind, start time and 32 random bits (``cpu-1765084800000000000-1a2b3c4d``)."""
    return f"{kind}-{started_ns:019d}-{secrets.token_hex(4)}"


def valid_id(profile_id: str) -> bool:
    """Whether ``profile_id`` has the shape of a profile id (so it is safe as a file name).

    Example:
        >>> valid_id("../etc/passwd")
        False
    """
    return bool(_ID.match(profile_id))


def _fit_cpu(document: dict[str, Any]) -> str:
    text = json.dumps(document, separators=(",", ":"))
    stacks = document.get("stacks")
    while len(text) > MAX_FILE_BYTES and stacks:
        del stacks[len(stacks) // 2 :]  # stacks are sorted by count: keep the heavier half
        document["truncated"] = True
        text = json.dumps(document, separators=(",", ":"))
    return text


def save(directory: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` (with its ``id``) atomically and delete the oldest beyond :data:`MAX_PROFILES`."""
    directory.mkdir(parents=True, exist_ok=True)
    text = _fit_cpu(document)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    target = directory / f"{document['id']}.json"
    os.replace(tmp, target)
    for old in list_ids(directory)[MAX_PROFILES:]:
        (directory / f"{old}.json").unlink(missing_ok=True)
    return target


def list_ids(directory: Path) -> list[str]:
    """Profile ids in ``directory``, newest first."""
    if not directory.is_dir():
        return []
    ids = [p.stem for p in directory.glob("*.json") if valid_id(p.stem)]
    return sorted(ids, key=lambda i: i.split("-")[1], reverse=True)


def load(directory: Path, profile_id: str) -> dict[str, Any] | None:
    """The profile ``profile_id``, or None when there is none (or the id is malformed or too large)."""
    if not valid_id(profile_id):
        return None
    path = directory / f"{profile_id}.json"
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def summaries(directory: Path) -> list[dict[str, Any]]:
    """Newest-first summaries (the document without its stacks or sites) of the stored profiles."""
    out = []
    for profile_id in list_ids(directory):
        doc = load(directory, profile_id)
        if doc is not None:
            out.append({k: v for k, v in doc.items() if k not in ("stacks", "sites")})
    return out
