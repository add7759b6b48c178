#!/usr/bin/env bash
# Installs the real peers the integration tests talk to, each only once (idempotent).
# Everything lands under .cache/ (git-ignored) or comes from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# Arize Phoenix (OTLP trace backend with a REST API), in its own venv: its dependencies must not
# mix with ours.
PHOENIX_VERSION=20.26.1
if ! .cache/phoenix-venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('arize-phoenix') != '$PHOENIX_VERSION')" 2>/dev/null; then
  rm -rf .cache/phoenix-venv
  "$PYTHON" -m venv .cache/phoenix-venv
  .cache/phoenix-venv/bin/python -m pip install -q --upgrade pip
  .cache/phoenix-venv/bin/python -m pip install -q "arize-phoenix==$PHOENIX_VERSION"
fi

# Prometheus server (tests/integration/test_prometheus.py scrapes the app with it). Debian's package;
# the test starts its own instance with a generated configuration, not the system service.
if ! command -v prometheus >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus
fi

# amtool (Debian's prometheus-alertmanager): tests/alerting/test_deploy_files.py runs `amtool check-config` on the
# generated examples/deploy/alertmanager.yml. No Alertmanager service is started.
if ! command -v amtool >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus-alertmanager
fi

# Headless Chromium (tests/dashboard/test_browser*.py drive it through the playwright package, which is
# told to use this binary: no browser download). Debian's package, installed only when absent; DejaVu so the
# screenshots have a font to draw text with.
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
fi
