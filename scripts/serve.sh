#!/usr/bin/env bash
# Set everything up and run Parley on the embedded default (SQLite in ./data, no other server).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/parley serve "$@"
