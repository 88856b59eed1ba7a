"""Disks the fault tests can fill: a small tmpfs of a test's own (as root), and a filler."""

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def small_tmpfs(disk: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `disk` (made here), unmounted afterwards; skips the test
    where mounting is not allowed."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk.mkdir()
    try:
        mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk))
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        yield disk
    finally:
        # Lazily: a server being shut down may still hold a file open there.
        subprocess.run(["umount", "-l", str(disk)], check=False, capture_output=True, timeout=30)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; return it (removing it frees the space)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\x00" * 65536)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler
