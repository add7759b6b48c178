"""``infertel silence add|list|expire``: silences in the store, read by every alert engine using it."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from infertel._internal.commands import STORE_HELP

NAME = "silence"


def add(commands: Any) -> None:
    """Add ``silence``'s parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="add, list or expire alert silences",
        description="Silences mute matching alerts until they end. They live in the store file, where every "
        "alert engine using that store reads them each round.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="{add,list,expire}", required=True)
    add_parser = verbs.add_parser("add", help="mute alerts matching every MATCHER (name=value, name=~regex ...)")
    add_parser.add_argument("matchers", nargs="+", metavar="MATCHER", help='e.g. alertname="HighP99" model=~"llama.*"')
    add_parser.add_argument("--duration", default="1h", metavar="D", help="how long (30m, 2h, 1d; default 1h)")
    add_parser.add_argument("--comment", default="", help="why")
    add_parser.add_argument("--author", default="", help="who")
    add_parser.add_argument("--store", default=None, metavar="PATH", help=STORE_HELP)
    list_parser = verbs.add_parser("list", help="silences not yet ended (--all: ended ones too)")
    list_parser.add_argument("--all", action="store_true", help="include ended silences")
    list_parser.add_argument("--json", action="store_true", help="print JSON")
    list_parser.add_argument("--store", default=None, metavar="PATH", help=STORE_HELP)
    expire_parser = verbs.add_parser("expire", help="end a silence now")
    expire_parser.add_argument("id", metavar="ID", help="the silence's id (from add or list)")
    expire_parser.add_argument("--store", default=None, metavar="PATH", help=STORE_HELP)


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def run(args: argparse.Namespace) -> int:
    """Run the verb; returns the exit status."""
    from infertel._internal.commands import CommandError
    from infertel._internal.config import default_store_path
    from infertel.alerting import AlertStore
    from infertel.alerting._loader import parse_duration

    path = args.store or str(default_store_path())
    now = time.time()
    if args.verb == "add":
        duration_s = parse_duration(args.duration, "--duration")
        if duration_s <= 0:
            raise ValueError("--duration: must be positive")
        store = AlertStore(path)
        try:
            silence_id = store.add_silence(
                args.matchers, starts_at=now, ends_at=now + duration_s, created_by=args.author, comment=args.comment
            )
        finally:
            store.close()
        print(silence_id)
        return 0
    store = AlertStore(path)
    try:
        if args.verb == "expire":
            if not store.expire_silence(args.id, now=now):
                raise CommandError(f"no active silence with id {args.id}")
            print(f"expired {args.id}")
            return 0
        silences = store.silences(include_expired=args.all, now=now)
    finally:
        store.close()
    rows: list[dict[str, Any]] = [
        {"id": s.id, "matchers": [str(m) for m in s.matchers], "starts_at": _iso(s.starts_at),
         "ends_at": _iso(s.ends_at), "created_by": s.created_by, "comment": s.comment, "active": s.active(now)}
        for s in silences
    ]  # fmt: skip
    if args.json:
        print(json.dumps({"silences": rows}, indent=2))
        return 0
    for row in rows:
        state = "active" if row["active"] else "ended"
        print(f"{row['id']}  {state:6}  until {row['ends_at']}  {' '.join(row['matchers'])}  {row['comment']}")
    if not rows:
        print("no silences")
    return 0
