"""The embedded stack: Temporal dev server, local forge, offline model server and a worker.

Production swaps the addresses in config/ — not the code paths: the worker started here is the
same ``python -m workers`` a real deployment runs.

    python -m devstack.stack status|stop
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

from config.settings import AutopilotConfig, load_config
from devstack.processes import BackgroundProcess
from devstack.temporal_server import DevServer

STATE_DIR = Path(".autopilot")
# The demo for the implementer's loop (tool-calling trajectories, patch ``agent-loop``).
DEMO_SCENARIO = Path(__file__).parent / "demo" / "scenario_agent.yaml"
FORGE_ADMIN = "autopilot"


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        raise ValueError(f"{url!r} needs an explicit host and port for the embedded stack")
    return parts.hostname, parts.port


class EmbeddedStack:
    def __init__(
        self, config: AutopilotConfig, state_dir: Path = STATE_DIR, scenario: Path = DEMO_SCENARIO
    ) -> None:
        self.config = config
        self.state_dir = state_dir.resolve()
        host, _, port = config.temporal.address.rpartition(":")
        _, ui_port = _host_port(config.temporal.ui_url)
        self.temporal = DevServer(
            self.state_dir / "temporal",
            host=host,
            port=int(port),
            ui_port=ui_port,
            namespace=config.temporal.namespace,
        )
        forge_host, forge_port = _host_port(config.forge.url)
        model_host, model_port = _host_port(config.model.base_url)
        python = sys.executable
        self.forge_data = self.state_dir / "forge"
        self.forge = BackgroundProcess(
            "forge",
            [
                *(python, "-m", "devstack.forge", "--host", forge_host, "--port", str(forge_port)),
                *("--data-dir", str(self.forge_data), "--admin-user", FORGE_ADMIN),
                *("--token-file", str(self.token_file)),
            ],
            self.state_dir,
            "forge listening on",
        )
        self.model = BackgroundProcess(
            "model",
            [
                *(python, "-m", "devstack.model_server", "--host", model_host),
                *("--port", str(model_port), "--scenario", str(scenario.resolve())),
            ],
            self.state_dir,
            "model server listening on",
        )
        self.worker = BackgroundProcess(
            "worker", [python, "-m", "workers"], self.state_dir, "worker started"
        )

    @property
    def token_file(self) -> Path:
        return self.forge_data / "admin-token"

    def forge_token(self) -> str:
        return self.token_file.read_text().strip()

    def env(self) -> dict[str, str]:
        """Environment for the worker and the starters: the forge token, the workspace root,
        and this interpreter's bin directory first on PATH (the starters run with it)."""
        env = dict(os.environ)
        env[self.config.forge.token_env] = self.forge_token()
        env["AUTOPILOT__WORKSPACE__ROOT"] = str(self.state_dir / "workspaces")
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    async def start(self, fresh_forge: bool) -> None:
        """Start (or reuse) Temporal; (re)start the forge, model server and worker."""
        await self.temporal.ensure_running()
        self.stop_services()
        if fresh_forge:
            shutil.rmtree(self.forge_data, ignore_errors=True)
            shutil.rmtree(self.state_dir / "workspaces", ignore_errors=True)
        self.forge.start()
        self.model.start()
        self.worker.env = self.env()
        self.worker.start()

    def stop_services(self) -> None:
        for process in (self.worker, self.model, self.forge):
            process.stop()

    async def stop(self) -> None:
        self.stop_services()
        await self.temporal.stop()

    async def status(self) -> dict[str, str]:
        serving = await self.temporal.is_serving()
        report = {"temporal": f"{self.temporal.address} ({'up' if serving else 'down'})"}
        for process in (self.forge, self.model, self.worker):
            pid = process.pid()
            report[process.name] = f"pid {pid}" if pid else "stopped"
        return report


async def _main(command: str) -> int:
    stack = EmbeddedStack(load_config())
    if command == "stop":
        await stack.stop()
        print("embedded stack stopped")
    else:
        for name, state in (await stack.status()).items():
            print(f"{name:9} {state}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m devstack.stack", description=__doc__)
    parser.add_argument("command", choices=["status", "stop"])
    code = asyncio.run(_main(parser.parse_args().command))
    sys.stdout.flush()
    os._exit(code)
