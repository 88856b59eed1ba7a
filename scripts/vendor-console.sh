#!/usr/bin/env bash
# Copy the console's browser libraries out of the npm registry's packages, as locked in
# src/parley/console/npm/package-lock.json, and record what was copied in vendored.txt
# (tests/unit/test_console_vendor.py checks the copies against it). Run after changing a version:
#   (cd src/parley/console/npm && npm install --package-lock-only) && scripts/vendor-console.sh
set -euo pipefail
cd "$(dirname "$0")/.."
npm_dir=src/parley/console/npm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$npm_dir/package.json" "$npm_dir/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --silent)

# package  file inside it  destination
copies=(
    "preact dist/preact.module.js src/parley/console/static/vendor/preact.module.js"
    "preact hooks/dist/hooks.module.js src/parley/console/static/vendor/hooks.module.js"
    "htm dist/htm.module.js src/parley/console/static/vendor/htm.module.js"
    "axe-core axe.min.js tests/browser/vendor/axe.min.js"
)
manifest="$npm_dir/vendored.txt"
: >"$manifest"
for copy in "${copies[@]}"; do
    read -r package file destination <<<"$copy"
    version=$(node -p "require('$work/node_modules/$package/package.json').version")
    cp "$work/node_modules/$package/$file" "$destination"
    printf '%s  %s  %s@%s\n' "$(sha256sum "$destination" | cut -d' ' -f1)" "$destination" \
        "$package" "$version" >>"$manifest"
    echo "==> $destination from $package@$version"
done
