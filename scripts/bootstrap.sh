#!/usr/bin/env bash
# Create .venv with a Python >= 3.11 and install Parley into it with the given extra.
# Usage: scripts/bootstrap.sh [extra]   (extra: test, dev; none for the service alone)
# Says what it does, a line per step; pip's own output is kept for errors only.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

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
    python="$(find_python)"
    say "Creating the virtualenv .venv with $("$python" --version 2>&1)"
    "$python" -m venv .venv
fi
spec="."
label="the service"
if [[ -n "${1:-}" ]]; then
    spec=".[$1]"
    label="the service and its $1 tools"
fi
stamp=".venv/.installed-${1:-base}"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    say "Installing $label into .venv (a minute or so on a first run)"
    started=$SECONDS
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
    touch "$stamp"
    say "Installed in $((SECONDS - started)) s"
else
    say "Dependencies of $label already installed in .venv, skipping (pyproject.toml unchanged)"
fi
