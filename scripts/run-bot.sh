#!/usr/bin/env bash
# Install everything into ./.venv (if missing) and run the bot; the database is embedded unless
# DATABASE_URL is set. Needs TELEGRAM_BOT_TOKEN (in the environment or in ./.env).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/facefind run "$@"
