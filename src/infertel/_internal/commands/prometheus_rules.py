"""``infertel prometheus-rules``: the alert rules as Prometheus rule files and an Alertmanager configuration."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from infertel.environment_variables import INFERTEL_ALERT_RULES

NAME = "prometheus-rules"
RULES_FILE = "infertel-rules.yml"
ALERTMANAGER_FILE = "alertmanager.yml"


def add(commands: Any) -> None:
    """Add ``prometheus-rules``' parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="render the alert rules as Prometheus recording/alerting rules and an Alertmanager config",
        description="Render every alert rule (the default pack and the rules file) as Prometheus alerting and "
        "recording rules (SLO rules with Sloth's names), and the routes and receivers as an Alertmanager "
        "configuration. Without --out-dir the rule file goes to stdout (--alertmanager: the Alertmanager config).",
    )
    parser.add_argument(
        "--rules",
        default=None,
        metavar="PATH",
        help=f"alert rules file (default ${INFERTEL_ALERT_RULES}; none: the default pack)",
    )
    parser.add_argument("--alertmanager", action="store_true", help="print the Alertmanager configuration instead")
    parser.add_argument(
        "--out-dir",
        default=None,
        metavar="DIR",
        help=f"write DIR/prometheus/{RULES_FILE} and DIR/{ALERTMANAGER_FILE} instead of printing",
    )


def render(rules_path: str | None) -> tuple[str, str]:
    """The Prometheus rule file and the Alertmanager configuration for ``rules_path`` (``None``: defaults)."""
    from infertel.alerting import Route, default_rules, load_config
    from infertel.alerting._render import render_alertmanager_config, render_prometheus_rules

    if rules_path is None:
        rules, interval, route, specs, inhibit = default_rules(), 15.0, Route("default"), [{"name": "default"}], []
    else:
        config = load_config(Path(rules_path), build_channels=False)
        route = config.route or Route(config.receivers[0].name if config.receivers else "default")
        specs = config.receiver_specs or [{"name": route.receiver}]
        rules, interval, inhibit = config.rules, config.interval_s, config.inhibit_rules
    return render_prometheus_rules(rules, interval_s=interval), render_alertmanager_config(route, specs, inhibit)


def run(args: argparse.Namespace) -> int:
    """Render the files; returns the exit status."""
    rules_path = args.rules or os.environ.get(INFERTEL_ALERT_RULES) or None
    if rules_path is not None and not Path(rules_path).is_file():
        raise ValueError(f"--rules: no such file: {rules_path}")
    prometheus, alertmanager = render(rules_path)
    if args.out_dir is None:
        print(alertmanager if args.alertmanager else prometheus, end="")
        return 0
    out = Path(args.out_dir)
    (out / "prometheus").mkdir(parents=True, exist_ok=True)
    (out / "prometheus" / RULES_FILE).write_text(prometheus, encoding="utf-8")
    (out / ALERTMANAGER_FILE).write_text(alertmanager, encoding="utf-8")
    print(f"wrote {out / 'prometheus' / RULES_FILE} and {out / ALERTMANAGER_FILE}")
    return 0
