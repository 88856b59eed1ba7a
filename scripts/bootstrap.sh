#!/usr/bin/env bash
# Create .venv with a Python >= 3.11 and install Parley into it with the given extra.
# Usage: scripts/bootstrap.sh [extra]   (extra: test, dev; none for the service alone)
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11 python; do
        [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "Parley needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2
    exit 1
}

if [[ ! -x .venv/bin/python ]]; then
    "$(find_python)" -m venv .venv
fi
spec="."
[[ -n "${1:-}" ]] && spec=".[$1]"
stamp=".venv/.installed-${1:-base}"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e "$spec"
    touch "$stamp"
fi
