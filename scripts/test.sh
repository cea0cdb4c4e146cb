#!/usr/bin/env bash
# Install everything into ./.venv from scratch (if missing) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
# The console's browser tests drive Debian's Chromium through Playwright (never a downloaded
# browser). CI runs as root with the Debian archive reachable; elsewhere install it yourself.
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
    else
        echo "warning: /usr/bin/chromium is missing (apt-get install chromium): the console's" \
             "browser tests will fail" >&2
    fi
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
# Two processes, each with its own embedded PostgreSQL, one test file at a time (a file's tests
# share fixtures). FACEFIND_TEST_WORKERS=0 runs everything in this one process.
.venv/bin/python -m pytest -n "${FACEFIND_TEST_WORKERS:-2}" --dist loadfile "$@"
