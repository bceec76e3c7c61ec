#!/usr/bin/env bash
# Set everything up (a virtual environment with the project and its dev tools) and run every check:
# ruff, mypy, import-linter, pytest. Used by the README's test command and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,service]'
# The report's browser test needs a real Chromium; Debian's is installed here when missing and possible.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "== installing chromium (browser test of report.html)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      || echo "chromium could not be installed: the browser test of report.html will be skipped"
  else
    echo "no chromium, and apt-get as root is not available: the browser test of report.html will be skipped"
  fi
fi
echo "== ruff";          .venv/bin/ruff check .
echo "== mypy";          .venv/bin/mypy
echo "== import-linter"; .venv/bin/lint-imports
echo "== pytest";        .venv/bin/pytest "$@"
