#!/usr/bin/env bash
# The OpenTelemetry version matrix: the unit suite on the oldest supported OTel releases with the
# oldest supported Python, and on the newest with the newest Python (the full suite runs on the
# main .venv, Python 3.11, through `make test`).
#
#   leg     Python   OpenTelemetry API/SDK/OTLP   contrib   constraints                  C extension
#   oldest  3.10     1.37.0                       0.58b0    .ci/constraints-oldest.txt   not built
#   newest  3.13     1.45.2                       0.66b2    .ci/constraints-newest.txt   built
#
# The oldest leg installs infertel without its optional C extension (INFERTEL_BUILD_EXTENSION=0),
# so the unit suite runs on the pure-Python statistics buffer there, as where no compiler is at
# hand; the tests of the C buffer skip in that leg. The full suite and the newest leg build it.
#
# Each leg's venv lives in .cache/venv-<leg> (git-ignored) and is rebuilt only when its inputs
# change (constraints, the matrix requirements, any pyproject.toml). The unit suite is selected
# explicitly, not by skipping: tests marked integration/slow/gpu and the directories that need
# heavy peers (Phoenix, Prometheus server, torch/transformers) are left to the full suite.
# Usage: .ci/matrix.sh [oldest|newest ...]   (both by default). Python interpreters are found as
# python3.10 / python3.13 on PATH, else through pyenv (PYTHON_OLDEST / PYTHON_NEWEST override).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # $1: version like 3.10; prints a working interpreter of that version
  local v=$1 p
  local candidates=()
  if command -v pyenv >/dev/null 2>&1; then
    p=$(pyenv versions --bare 2>/dev/null | grep -E "^${v//./\\.}(\.[0-9]+)?$" | sort -V | tail -1 || true)
    [ -n "$p" ] && candidates+=("$(pyenv root)/versions/$p/bin/python")
  fi
  command -v "python$v" >/dev/null 2>&1 && candidates+=("$(command -v "python$v")")
  for p in "${candidates[@]}"; do
    if "$p" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$v'.split('.'))))" 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "matrix: no Python $v found (install it, or set PYTHON_OLDEST/PYTHON_NEWEST)" >&2
  return 2
}

DISTS=(-e ".[all]" -e exporters/infertel-exporter-sqlite -e "exporters/infertel-exporter-durable[grpc]")
for d in instrumentation/*/; do DISTS+=(-e "$d"); done

UNIT_SELECTION=(
  -m "not integration and not slow and not gpu"
  --ignore=tests/integration --ignore=tests/peers --ignore=tests/instrumentation/transformers
  -p no:cacheprovider -q
)

run_leg() {  # $1: leg name, $2: python version
  local leg=$1 version=$2 venv=.cache/venv-$1 python stamp inputs
  local override_var="PYTHON_${leg^^}"
  python=${!override_var:-$(find_python "$version")} || return
  local build_extension=1
  [ "$leg" = oldest ] && build_extension=0
  inputs=$(cat ".ci/constraints-$leg.txt" .ci/requirements-matrix.txt pyproject.toml */*/pyproject.toml hatch_build.py \
    src/infertel/_internal/processors/_records.c | sha256sum | cut -c1-16)
  stamp="$venv/.matrix-inputs"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$inputs" ]; then
    echo "matrix[$leg]: building $venv with $("$python" --version)"
    # (set -e does not apply inside a function called from `||`: each step returns on failure)
    rm -rf "$venv"
    "$python" -m venv "$venv" || return
    # (grep drops the notes some pip configurations print about unused local indexes)
    "$venv/bin/python" -m pip install -q --upgrade pip 2> >(grep -v "^WARNING: Location" >&2) || return
    INFERTEL_BUILD_EXTENSION=$build_extension \
      "$venv/bin/python" -m pip install -q -c ".ci/constraints-$leg.txt" "${DISTS[@]}" -r .ci/requirements-matrix.txt \
      2> >(grep -v "^WARNING: Location" >&2) || return
    echo "$inputs" > "$stamp"
  fi
  echo "matrix[$leg]: $("$venv/bin/python" --version); $("$venv/bin/python" -m pip list 2>/dev/null \
    | awk '$1=="opentelemetry-sdk"||$1=="opentelemetry-instrumentation"{printf "%s %s  ", $1, $2}')$("$venv/bin/python" \
    -c "from infertel._internal.processors import _buffer; print('C' if _buffer.Records else 'list', 'statistics buffer')")"
  # A leg runs a chosen subset: a test skipped there for a feature its releases lack (or a peer the
  # full suite has) is not the CI failure tests/ci_skips.py makes of a skip in the full suite.
  INFERTEL_TEST_ALLOW_SKIPS=true "$venv/bin/python" -m pytest "${UNIT_SELECTION[@]}"
}

legs=("$@")
[ ${#legs[@]} -eq 0 ] && legs=(oldest newest)
failed=()
for leg in "${legs[@]}"; do
  case $leg in
    oldest) version=3.10 ;;
    newest) version=3.13 ;;
    *) echo "matrix: unknown leg '$leg' (accepted: oldest, newest)" >&2; exit 2 ;;
  esac
  start=$SECONDS
  status=passed
  run_leg "$leg" "$version" || { status=FAILED; failed+=("$leg"); }
  echo "matrix[$leg]: $status in $((SECONDS - start)) s"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "matrix: failed legs: ${failed[*]}" >&2
  exit 1
fi
