#!/usr/bin/env bash
# Set everything up and run the test suite. PostgreSQL, MariaDB and Redis tests run when
# PARLEY_TEST_DATABASE_URL / a reachable Redis say so, and are skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
printf '==> Running the test suite: pytest %s\n' "$*"
exec .venv/bin/python -m pytest "$@"
