"""``python -m devstack.model_server``: the offline model, over the OpenAI and Anthropic APIs.

Answers come from a scenario file, from gold patches, or both (scenario rules first)::

    python -m devstack.model_server --scenario devstack/demo/scenario.yaml
    python -m devstack.model_server --gold-patches patches.yaml
    python -m devstack.model_server --cases cases/ --repo checkout/

**Scenario** (``--scenario FILE``): structured rules and scripted tool-calling trajectories;
see ``devstack.model_server.scenario``.

**Gold-patch mode** plays known fixes through the agent's tools as a real model would (see
``devstack.model_server.gold``): for a tool-calling request whose brief holds a gold issue's
title it views the changed files, makes one ``str_replace`` per hunk (``old_str`` unique in the
viewed text, split to fit the output limit), ``create``s new files, runs the brief's test
command and finishes with a summary, each answer worked out from the conversation alone. A
failed edit ends the play with a ``finish`` that says so. Structured ``plan`` requests for the
issue get a one-task plan listing the changed files, ``review_verdict`` requests an approval.

* ``--gold-patches FILE``: a YAML or JSON mapping of issue title to diff text (``git diff``
  output), or to ``{diff: ..., test_command: ...}``.
* ``--cases DIR --repo PATH``: the ``*.json`` case files of DIR (the real-repository case
  format: ``title``, ``base_commit``, ``fix_commit``, ``source_files_changed``...); each gold
  patch is ``git diff base_commit fix_commit -- source_files_changed`` in the git repository
  PATH, or, when PATH is a directory of clones, in ``PATH/NAME``, ``PATH/OWNER/NAME`` or
  ``PATH/OWNER+NAME`` after the case's ``repo``. Cases whose commits are not there are skipped
  (and named on stderr), so one directory can hold several projects' cases.

Output limits (``max_tokens``, ``max_completion_tokens``) are enforced as the real APIs do:
tokens are ``ceil(len(text) / 4)``, and an answer over the limit is cut with
``finish_reason: "length"`` / ``stop_reason: "max_tokens"``.
"""

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
from devstack.model_server.gold import GoldPlayer
from devstack.model_server.patches import GoldPatch, PatchError, load_cases, load_gold_patches
from devstack.model_server.scenario import Scenario, ScenarioError, load_scenario


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.model_server",
        description="Offline model server: replays a scenario or plays gold patches, over the "
        "OpenAI chat and Anthropic Messages APIs.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400, help="0 picks a free port")
    parser.add_argument("--scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--gold-patches", type=Path, help="YAML/JSON: issue title -> diff")
    parser.add_argument("--cases", type=Path, help="directory of real-repository case files")
    parser.add_argument("--repo", type=Path, help="git repository holding the cases' commits")
    parser.add_argument("--quiet", action="store_true", help="do not log which rule answered")
    args = parser.parse_args(argv)
    if args.scenario is None and args.gold_patches is None and args.cases is None:
        parser.error("give --scenario, --gold-patches or --cases (with --repo)")
    if (args.cases is None) != (args.repo is None):
        parser.error("--cases and --repo go together")
    return args


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


def load(args: argparse.Namespace) -> tuple[Scenario | None, GoldPlayer | None]:
    scenario = load_scenario(args.scenario) if args.scenario is not None else None
    patches: list[GoldPatch] = []
    if args.gold_patches is not None:
        patches.extend(load_gold_patches(args.gold_patches))
    if args.cases is not None:
        cases, skipped = load_cases(args.cases, args.repo)
        patches.extend(cases)
        for why in skipped:
            print(f"model server: skipped case {why}", file=sys.stderr)
    return scenario, (GoldPlayer(patches) if patches else None)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        scenario, gold = load(args)
    except ScenarioError as err:
        print("model server: scenario error: " + " ".join(str(err).split()), file=sys.stderr)
        return 2
    except PatchError as err:
        print("model server: gold patch error: " + " ".join(str(err).split()), file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="model server: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(serve(create_app(scenario, gold), args.host, args.port))
    except OSError as err:
        print(
            f"model server: cannot listen on {args.host}:{args.port}: {err.strerror}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
