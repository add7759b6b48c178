"""``infertel grafana-dashboard``: print infertel's panels as a Grafana dashboard for a Prometheus datasource."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

NAME = "grafana-dashboard"


def add(commands: Any) -> None:
    """Add ``grafana-dashboard``'s parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="print a Grafana dashboard (JSON) of infertel's panels over Prometheus",
        description="Print the Grafana dashboard JSON of infertel's overview and resources panels: PromQL over the "
        "metrics Prometheus scrapes from configure(prometheus_port=...) or an OpenTelemetry Collector, with "
        "variables for service and model. Import it in Grafana (Dashboards > New > Import). "
        "Example: infertel grafana-dashboard > dashboard.json",
    )
    parser.add_argument(
        "--datasource",
        default=None,
        metavar="UID",
        help="uid of the Prometheus datasource to use (default: ${DS_PROMETHEUS}, chosen when importing)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the dashboard to stdout; returns the exit status."""
    from infertel.dashboard.grafana import DATASOURCE_INPUT, grafana_dashboard

    datasource = args.datasource if args.datasource is not None else DATASOURCE_INPUT
    if not datasource.strip():
        raise ValueError("--datasource must not be empty")
    sys.stdout.write(json.dumps(grafana_dashboard(datasource=datasource), indent=2, ensure_ascii=False) + "\n")
    return 0
