"""The console's files, read once from the installed package and named by their content.

Every asset is served as `<stem>.<hash>.<ext>`, so it can be cached for a year: a change gives
it a new name. A module's imports (`./api.js`, and the bare `preact`, `preact/hooks`, `htm` of
the vendored libraries) are rewritten to those names before it is hashed, so a change deep in
the import graph renames every module above it too. The HTML entry names the hashed files and
is itself never cached. Nothing is built ahead of time: this runs when the app is created.
"""

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

# Bare specifiers of the vendored libraries, as their own files import them.
BARE_MODULES = {
    "preact": "preact.module.js",
    "preact/hooks": "hooks.module.js",
    "htm": "htm.module.js",
}
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
ENTRY = "index.html"
_IMPORT = re.compile(r"""(\bfrom\s*|\bimport\s*\(?\s*)(["'])([^"']+)\2""")
_SOURCE_MAP = re.compile(rb"\n//# sourceMappingURL=\S+\s*$")
_PLACEHOLDER = re.compile(r"\{\{\s*([\w.-]+)\s*\}\}")


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


@dataclass(frozen=True)
class ConsoleAssets:
    """The entry page and the assets by their hashed names."""

    entry: bytes
    assets: dict[str, Asset]
    # original name -> hashed name, for the tests and the entry page
    names: dict[str, str]


def _hashed(name: str, body: bytes) -> str:
    stem, _, ext = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(body).hexdigest()[:12]}.{ext}"


class _Builder:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.names: dict[str, str] = {}
        self.assets: dict[str, Asset] = {}

    def build(self, name: str, stack: tuple[str, ...] = ()) -> str:
        if name in self.names:
            return self.names[name]
        if name in stack:
            raise ValueError(f"console modules import each other in a cycle: {stack}")
        body = _SOURCE_MAP.sub(b"\n", self.files[name])
        if name.endswith(".js"):
            body = self._rewrite_imports(name, body, (*stack, name))
        hashed = _hashed(name, body)
        self.names[name] = hashed
        ext = "." + name.rpartition(".")[2]
        self.assets[hashed] = Asset(body, CONTENT_TYPES[ext])
        return hashed

    def _rewrite_imports(self, name: str, body: bytes, stack: tuple[str, ...]) -> bytes:
        def replace(match: re.Match[str]) -> str:
            specifier = match[3]
            target = BARE_MODULES.get(specifier) or specifier.removeprefix("./")
            if target not in self.files:
                raise ValueError(f"{name} imports {specifier!r}, which the console lacks")
            return f"{match[1]}{match[2]}./{self.build(target, stack)}{match[2]}"

        return _IMPORT.sub(replace, body.decode()).encode()


def _read(directory: Traversable, files: dict[str, bytes]) -> None:
    for item in directory.iterdir():
        if item.is_dir():
            _read(item, files)
        elif item.name.rpartition(".")[2] in {"js", "css", "svg", "html"}:
            if item.name in files:
                raise ValueError(f"two console files are named {item.name}")
            files[item.name] = item.read_bytes()


def load_console() -> ConsoleAssets:
    """Read the console's files from the package and name each by its content."""
    files: dict[str, bytes] = {}
    _read(resources.files("parley.console") / "static", files)
    builder = _Builder(files)
    for name in sorted(files):
        if name != ENTRY:
            builder.build(name)

    def url(match: re.Match[str]) -> str:
        return f"assets/{builder.names[match[1]]}"

    entry = _PLACEHOLDER.sub(url, files[ENTRY].decode()).encode()
    return ConsoleAssets(entry=entry, assets=builder.assets, names=builder.names)
