"""A private X virtual framebuffer, for running the real app where there is no display."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from typing import Iterator

__all__ = ["virtual_display", "has_display"]


def has_display() -> bool:
    """True when a graphical session is available to open a window on."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@contextmanager
def virtual_display(width: int = 1280, height: int = 1024) -> Iterator[str]:
    """Start ``Xvfb`` on a free display number; yield the ``DISPLAY`` value (e.g. ``":42"``).

    Raises:
        RuntimeError: Xvfb is not installed (``apt-get install xvfb``) or did not start.
    """
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        raise RuntimeError("Xvfb is not installed; run 'make sysdeps' or 'apt-get install xvfb'")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start (no display number reported)")
        yield f":{number}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
