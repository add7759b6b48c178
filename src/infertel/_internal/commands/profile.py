"""``infertel profile``: start a CPU profile or heap snapshot of a serving process, list and show stored ones."""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from infertel._internal.commands import CommandError
from infertel._internal.commands import _query as q

NAME = "profile"


def add(commands: Any) -> None:
    """Add ``profile``'s parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="profile a serving process (CPU, heap) through its dashboard; list and show profiles",
        description="Start a time-boxed CPU profile or heap snapshot of a serving process through its mounted "
        "dashboard (authenticated like the dashboard), or list and show the stored profiles. "
        "Example: infertel profile start cpu --url http://127.0.0.1:8000/monitoring --seconds 30 --wait",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = actions.add_parser("start", help="start a profile in a serving process")
    start.add_argument("kind", choices=("cpu", "heap"))
    start.add_argument("--url", required=True, help="the mounted dashboard, e.g. http://127.0.0.1:8000/monitoring")
    start.add_argument("--seconds", type=q.duration, default=10.0, metavar="DURATION", help="time box (default 10s)")
    start.add_argument("--token", default=None, help="dashboard token (default $INFERTEL_DASHBOARD_TOKEN)")
    start.add_argument("--wait", action="store_true", help="wait until it is done and print its summary")
    start.add_argument("--json", action="store_true", help="print JSON instead of text")
    listing = actions.add_parser("list", help="list the stored profiles, newest first")
    q.add_common(listing)
    show = actions.add_parser("show", help="show a stored profile: top functions or allocation sites")
    show.add_argument("profile_id", metavar="ID")
    show.add_argument("--svg", default=None, metavar="PATH", help="also write a CPU profile's flame graph here")
    q.add_common(show)


def _request(url: str, token: str | None, method: str = "GET") -> Any:
    # JSON, not urllib's default form type: a form post is answered with a redirect to the page.
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the user's own URL)
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read().decode("utf-8")).get("detail", exc.reason)
        except (ValueError, AttributeError):
            detail = exc.reason
        raise CommandError(f"{url}: HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise CommandError(f"{url}: {getattr(exc, 'reason', exc)}") from None


def _start(args: argparse.Namespace) -> int:
    from infertel.environment_variables import INFERTEL_DASHBOARD_TOKEN

    base = args.url.rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise CommandError(f"--url: expected an http(s) URL of the mounted dashboard, got {args.url!r}")
    token = args.token or os.environ.get(INFERTEL_DASHBOARD_TOKEN) or None
    status = _request(f"{base}/api/profiles/{args.kind}?seconds={args.seconds:g}", token, "POST")
    if args.wait:
        deadline = time.monotonic() + args.seconds + 60
        while any(j.get("id") == status["id"] for j in _request(f"{base}/api/profiles", token)["running"]):
            if time.monotonic() > deadline:
                raise CommandError(f"profile {status['id']} did not finish in time")
            time.sleep(min(1.0, args.seconds / 4))
        status = _request(f"{base}/api/profiles/{status['id']}", token)
        status = {k: v for k, v in status.items() if k not in ("stacks", "sites")}
    if args.json:
        q.write_json(status)
    else:
        q.write(f"{args.kind} profile {status['id']}: " + ("done" if args.wait else f"running for {args.seconds:g} s"))
        q.write(f"see {base}/profiles/{status['id']}")
    return 0


def _folder(store: str | None) -> Path:
    from infertel.profiling import profiles_dir
    from infertel_exporters.sqlite import default_path

    return profiles_dir(Path(store).expanduser() if store else default_path())


def run(args: argparse.Namespace) -> int:
    """Run the action; returns the exit status.

    JSON shapes: ``start``: ``{"id", "kind", "seconds", "started_ns", "done", "error"}`` (with ``--wait``:
    the stored profile without its stacks/sites); ``list``: ``{"profiles": [...]}`` (summaries, newest first);
    ``show``: the stored profile (``stacks`` for CPU: ``[{"frames": [[file, function, line], ...], "count"}]``,
    ``sites`` for heap: ``[{"size_bytes", "count", "frames": [[file, line], ...]}]``).
    """
    if args.action == "start":
        return _start(args)
    from infertel.profiling import allocation_sites, flame_graph_svg, list_profiles, load_profile, top_functions

    folder = _folder(args.store)
    if args.action == "list":
        profiles = list_profiles(str(folder))
        if args.json:
            q.write_json({"profiles": profiles})
            return 0
        rows = [[q.local_time(p["started_ns"]), p["kind"], f"{p.get('seconds', 0):.1f}",
                 str(p.get("samples", p.get("total_bytes", ""))), str(p.get("pid", "")), p["id"]]
                for p in profiles]  # fmt: skip
        q.write(q.table(["started", "kind", "seconds", "samples/bytes", "pid", "id"], rows, right=(2, 3))
                if rows else f"no profiles in {folder}")  # fmt: skip
        return 0
    doc = load_profile(args.profile_id, str(folder))
    if doc is None:
        raise CommandError(f"no profile {args.profile_id!r} in {folder}")
    if args.svg and doc["kind"] == "cpu":
        Path(args.svg).write_text(flame_graph_svg(doc), encoding="utf-8")
    if args.json:
        q.write_json(doc)
    elif doc["kind"] == "cpu":
        rows = [[q.printable(f["function"]), str(f["self"]), f"{f['self_share']:.1%}", str(f["total"]),
                 f"{f['total_share']:.1%}"] for f in top_functions(doc)]  # fmt: skip
        q.write(q.table(["function", "self", "self %", "total", "total %"], rows, right=(1, 2, 3, 4)))
    else:
        rows = [[q.printable(s["where"]), str(s["size_bytes"]), str(s["count"])] for s in allocation_sites(doc, 20)]
        q.write(q.table(["where", "bytes", "blocks"], rows, right=(1, 2)))
    return 0
