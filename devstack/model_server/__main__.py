"""``python -m devstack.model_server --scenario FILE``: serve a scenario over the OpenAI API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from devstack.model_server.app import create_app
from devstack.model_server.scenario import ScenarioError, load_scenario


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.model_server",
        description="Offline model server: replays a scenario over the OpenAI chat API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400, help="0 picks a free port")
    parser.add_argument("--scenario", type=Path, required=True, help="scenario YAML file")
    parser.add_argument("--quiet", action="store_true", help="do not log which rule answered")
    return parser.parse_args(argv)


async def serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port  # the real one for port 0
        print(f"model server listening on http://{host}:{bound}/v1", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as err:
        print("model server: scenario error: " + " ".join(str(err).split()), file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="model server: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(serve(create_app(scenario), args.host, args.port))
    except OSError as err:
        print(
            f"model server: cannot listen on {args.host}:{args.port}: {err.strerror}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
