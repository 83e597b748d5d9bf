"""Run the local Gitea-compatible forge.

    python -m devstack.forge --host 127.0.0.1 --port 3000 --data-dir DIR \
        --admin-user autopilot --token-file DIR/admin-token
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from devstack.forge.app import create_app, ensure_admin
from devstack.forge.context import FORGE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.forge", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--admin-user", default="autopilot")
    parser.add_argument("--token-file", type=Path, help="default: DATA_DIR/admin-token")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return args


async def serve(args: argparse.Namespace) -> None:
    host = args.host
    # Bind first so ROOT_URL carries the real port, even for --port 0.
    app = create_app(args.data_dir, "http://placeholder/")
    runner = web.AppRunner(app, access_log=None, auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, host, args.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SystemExit(f"forge: cannot listen on {host}:{args.port}: {exc.strerror}") from None
    port = runner.addresses[0][1]
    root = f"http://{host}:{port}/"
    forge = app[FORGE]
    forge.root_url = root
    ensure_admin(forge.store, args.admin_user, args.token_file or args.data_dir / "admin-token")
    print(f"forge listening on {root.rstrip('/')}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
