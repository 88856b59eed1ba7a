#!/usr/bin/env bash
# Set everything up and run Parley on the embedded default (SQLite in ./data, no other server).
# `parley serve` then names its database, says when it creates or migrates it, and the URL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
printf '==> Starting parley serve %s\n' "$*"
exec .venv/bin/parley serve "$@"
