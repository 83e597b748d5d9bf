"""A real Prometheus server (the ``prometheus`` binary) scraping given targets, for tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devstack.forge.testing import free_port

SCRAPE_INTERVAL = "1s"
READY_SECONDS = 30.0


@dataclass
class RunningPrometheus:
    url: str
    log: Path

    def api(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def metric_names(self) -> set[str]:
        return set(self.api("label/__name__/values"))

    def query(self, expression: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=expression)["result"]
        return result


def config(targets: list[str]) -> str:
    quoted = ", ".join(f'"{t}"' for t in targets)
    return (
        f"global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  evaluation_interval: {SCRAPE_INTERVAL}\n"
        f"scrape_configs:\n  - job_name: autopilot\n    static_configs:\n"
        f"      - targets: [{quoted}]\n"
    )


@contextmanager
def running_prometheus(workdir: Path, targets: list[str]) -> Iterator[RunningPrometheus]:
    binary = shutil.which("prometheus")
    assert binary, "the prometheus binary is missing: run devstack/host-packages.sh"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(config(targets))
    address = f"127.0.0.1:{free_port()}"
    log = workdir / "prometheus.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={address}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = RunningPrometheus(f"http://{address}", log)
    try:
        _wait_ready(running, process)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(running: RunningPrometheus, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited: {running.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{running.url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"prometheus not ready: {running.log.read_text()[-2000:]}")
