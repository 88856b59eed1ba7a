#!/usr/bin/env bash
# Run the benchmark suite with what it needs: wrk (apt), the bench requirements (pip, into the
# project venv), then `python -m bench` with the given arguments (see `--help`).
#   bash bench/run.sh               standard profile, SQLite and PostgreSQL (about 15 minutes)
#   bash bench/run.sh --quick       smoke profile (about 2-3 minutes)
#   bash bench/run.sh --publish     also refresh docs/performance.md, .png and -latest.json
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
    echo "no virtualenv at $VENV: create it and install the project first (see README)" >&2
    exit 1
fi
if ! command -v wrk >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq wrk >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk; }
fi
"$VENV/bin/python" -m pip install -q -r bench/requirements.txt
exec "$VENV/bin/python" -m bench "$@"
