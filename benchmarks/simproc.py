"""The simulator in a child process, shared by the benchmarks (it must not share our core)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def start_simulator(*options: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``crawler simulate --port 0 OPTIONS``; return the process and its base URL."""
    command = [sys.executable, "-m", "crawler", "simulate", "--port", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("simulator listening on "):
            return process, line.split()[-1]
    process.wait()
    raise RuntimeError(f"simulator did not start (exit {process.returncode})")


@contextmanager
def running_simulator(*options: str) -> Iterator[str]:
    """``start_simulator`` as a context: yields the base URL, stops the process after."""
    process, url = start_simulator(*options)
    try:
        yield url
    finally:
        process.terminate()
        process.wait()
