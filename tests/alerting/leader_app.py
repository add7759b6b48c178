"""The application tests/alerting/test_leader_prefork.py serves with gunicorn (no ``--preload``): 3 uvicorn workers.

Each worker imports it and so calls ``configure(alert_rules=...)`` over the same store: three alert
engines on one host. ``/engine`` says which worker answered, whether its engine leads and what its
engine shows; the dashboard (``/monitoring``) shows the alerts pages and API of whichever worker answers.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

import infertel
import infertel.dashboard
from infertel.alerting import current_engine

infertel.configure(
    service_name="leader-app",
    store_path=os.environ["LEADER_STORE"],
    alert_rules=os.environ["LEADER_RULES"],
    resource_metrics=False,
)

app = FastAPI()
app.include_router(infertel.dashboard.router(os.environ["LEADER_STORE"], prefix="/monitoring", refresh_s=0))


@app.get("/engine")
def engine() -> dict[str, Any]:
    running = current_engine()
    assert running is not None
    return {"pid": os.getpid(), "leading": running.leading,
            "alerts": sorted([a.name, a.state] for a in running.alerts())}  # fmt: skip
