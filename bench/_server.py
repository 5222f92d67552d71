"""A daphne server for the HTTP benchmarks, its environment, and a keep-alive client for the ingest endpoint."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._harness import BENCH_SECRET, BIN, ROOT, db_url, free_port

REDIS_URL = "redis://127.0.0.1:6379/14"
Batch = list[dict[str, Any]]


def django_env(name: str, port: int | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": BENCH_SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": db_url(name),
        "LOG_LEVEL": "WARNING",
        # Plain HTTP on loopback, one token sending as fast as it can: no HTTPS redirect, no rate limit.
        "SECURE_SSL_REDIRECT": "0",
        "API_RATE_LIMIT_PER_MINUTE": "0",
    }
    if port is not None:  # the server: scoring tasks only go to Redis, never run here
        env["REDIS_URL"] = REDIS_URL
    else:
        env.pop("REDIS_URL", None)
    return env


class ApiClient:
    """A sequential keep-alive client for the ingest endpoint."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def ingest(self, batch: Batch) -> None:
        self.send(encode(batch), len(batch))

    def send(self, body: bytes, count: int) -> None:
        self.conn.request("POST", "/api/v1/conversations", body=body, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 202:
            raise RuntimeError(f"ingest answered {response.status}: {data[:500]!r}")
        if json.loads(data)["accepted"] != count:
            raise RuntimeError(f"ingest accepted fewer than sent: {data[:200]!r}")

    def close(self) -> None:
        self.conn.close()


def encode(batch: Batch) -> bytes:
    return json.dumps({"conversations": batch}).encode()


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/health")
            status = conn.getresponse().status
            conn.close()
            if status == 200:  # "degraded" (no workers) is fine: we only enqueue
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"daphne on port {port} not healthy after {timeout:.0f}s")


@contextmanager
def server(name: str, log_dir: Path) -> Iterator[int]:
    """Daphne serving the project against database `name`; yields its port."""
    port = free_port()
    log = (log_dir / f"daphne-{name}.log").open("wb")
    cmd = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "oversight.asgi:application"]
    process = subprocess.Popen(cmd, cwd=ROOT, env=django_env(name, port), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(port, process)
        yield port
    except BaseException:
        log.flush()
        sys.stderr.write((log_dir / f"daphne-{name}.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
