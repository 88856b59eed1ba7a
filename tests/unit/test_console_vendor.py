"""The console's vendored libraries are the npm packages the lock file names, unedited, and
every console file ships in the package."""

import hashlib
import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NPM = ROOT / "src" / "parley" / "console" / "npm"


def test_vendored_files_match_what_the_vendor_script_copied_from_the_locked_packages() -> None:
    lock = json.loads((NPM / "package-lock.json").read_text())["packages"]
    manifest = [line.split() for line in (NPM / "vendored.txt").read_text().splitlines()]

    assert manifest, "scripts/vendor-console.sh records each copy"
    for digest, path, package in manifest:
        name, version = package.rsplit("@", 1)
        assert lock[f"node_modules/{name}"]["version"] == version, (
            f"{path} comes from {package}; run scripts/vendor-console.sh after a version change"
        )
        assert hashlib.sha256((ROOT / path).read_bytes()).hexdigest() == digest, (
            f"{path} differs from the copy of {package}: vendored files are never edited"
        )


def test_every_console_file_ships_in_the_package() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["parley"]
    package = ROOT / "src" / "parley"
    console = package / "console"
    files = [
        path.relative_to(package).as_posix()
        for folder in ("static", "npm")
        for path in (console / folder).rglob("*")
        if path.is_file()
    ]

    assert files
    # setuptools' globs: `*` stays within one folder.
    shipped = [re.compile(re.escape(p).replace(r"\*", "[^/]*")) for p in patterns]
    unshipped = [f for f in files if not any(glob.fullmatch(f) for glob in shipped)]
    assert unshipped == []
