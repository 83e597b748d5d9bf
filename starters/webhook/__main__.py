"""python -m starters.webhook --host 127.0.0.1 --port 8600

Reads the usual Autopilot config (``AUTOPILOT_CONFIG``, ``AUTOPILOT_REPOSITORIES``,
``AUTOPILOT__…`` overrides), the forge token, and the webhook secret from
``AUTOPILOT_WEBHOOK_SECRET``. Problems at startup are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

import structlog
from aiohttp import web

from activities.forge.client import GiteaClient
from activities.forge.errors import GiteaError
from config.settings import load_config
from starters.common import StarterError, connect, run_main
from starters.webhook.app import HOOK_PATH, Receiver, create_app
from starters.webhook.backend import TemporalBackend
from workers.observability import configure_logging

SECRET_ENV = "AUTOPILOT_WEBHOOK_SECRET"
DEFAULT_PORT = 8600

log = structlog.get_logger("autopilot.webhook")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m starters.webhook", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--config", type=Path)
    return p


async def bot_login(forge: GiteaClient, url: str) -> str:
    try:
        return (await forge.current_user()).login
    except GiteaError as err:
        if err.status in (401, 403):
            raise StarterError(f"the forge at {url} refused the token: {err.message}") from None
        raise StarterError(f"cannot reach the forge at {url}") from None


async def serve(args: argparse.Namespace) -> int:
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise StarterError(f"environment variable {SECRET_ENV} is not set (the webhook secret)")
    config = load_config(path=args.config)
    token = config.forge_token()
    configure_logging(config.logging.level, config.logging.json_format, secrets=(secret, token))
    client = await connect(config)
    async with GiteaClient(config.forge.url, token, timeout=config.forge.timeout_seconds) as forge:
        login = await bot_login(forge, config.forge.url)
        receiver = Receiver(config, secret, TemporalBackend(client, config, forge), login)
        runner = web.AppRunner(create_app(receiver), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, args.host, args.port).start()
        except OSError as err:
            await runner.cleanup()
            raise StarterError(
                f"cannot listen on {args.host}:{args.port}: {err.strerror}"
            ) from None
        log.info("webhook.listening", url=f"http://{args.host}:{args.port}{HOOK_PATH}", bot=login)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
    return 0


if __name__ == "__main__":
    arguments = parser().parse_args()
    run_main(lambda: serve(arguments), "webhook")
