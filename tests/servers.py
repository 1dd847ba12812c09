"""Real servers for the tests that need one (gunicorn or `followup serve` in a process of its own): a
free port, and a context that starts the server, waits until `/api/health` answers 200, and stops it."""
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(command, env, port, cwd=ROOT, wait=30.0):
    """Run `command` (serving on `port`) until the block ends; yields (base URL, process)."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                with urllib.request.urlopen(base + "/api/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if process.poll() is not None:
                pytest.fail("the server exited: " + process.stdout.read().decode(errors="replace")[-3000:])
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within {wait:g} s")
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
