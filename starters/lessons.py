"""List, edit and delete a repository's lessons; list its outcome records.

    python -m starters.lessons list     --repo owner/name [--json]
    python -m starters.lessons edit     --repo owner/name L3 "Tests need -p no:cacheprovider"
    python -m starters.lessons delete   --repo owner/name L3
    python -m starters.lessons outcomes --repo owner/name [--limit 20] [--json]

Lessons live in the repository's learning workflow; edits and deletions are its Updates, whose
validators refuse an unknown id or empty text (one line, status 2). An edited lesson keeps the
person's text; a deleted one is not derived again from later runs.
"""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import NoReturn

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.learning import learning_state
from config.settings import AutopilotConfig, load_config
from domain.learning import (
    LearningState,
    Lesson,
    LessonDelete,
    LessonEdit,
    learning_workflow_id,
)
from domain.names import LEARNING_DELETE_LESSON, LEARNING_EDIT_LESSON
from starters.common import StarterError, connect, issue_ref, run_main

PROG = "python -m starters.lessons"
DEFAULT_OUTCOMES = 20


def parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    commands = p.add_subparsers(dest="command", required=True)
    for name, text in (
        ("list", "the lessons, most seen first"),
        ("edit", "replace a lesson's text"),
        ("delete", "delete a lesson for good"),
        ("outcomes", "the newest outcome records"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--repo", required=True, help="owner/name, as configured")
        sub.add_argument("--config", type=Path, help="config file")
        if name in ("edit", "delete"):
            sub.add_argument("lesson", help="the lesson's id, as listed (L3)")
            sub.add_argument("--as", dest="by", default=getpass.getuser(), help="who changes it")
        if name == "edit":
            sub.add_argument("text", help="the new text")
        if name in ("list", "outcomes"):
            sub.add_argument("--json", action="store_true", help="print JSON")
        if name == "outcomes":
            sub.add_argument("--limit", type=int, default=DEFAULT_OUTCOMES)
    return p


async def read_state(client: Client, repo: str) -> LearningState:
    """The repository's learning state (empty before its first record); one-line errors."""
    try:
        return await learning_state(client, repo) or LearningState(repo=repo)
    except RPCError as err:
        raise StarterError(f"cannot read what {repo} learnt: {err.message}") from None


def _repo(config: AutopilotConfig, repo: str) -> str:
    return issue_ref(config, repo, 1).repo.full_name  # refuses an unconfigured repository


async def lessons_command(args: argparse.Namespace) -> int:
    """Carry out one parsed command; the ``autopilot lessons`` command calls this too."""
    config = load_config(path=args.config)
    repo = _repo(config, args.repo)
    client = await connect(config)
    if args.command in ("list", "outcomes"):
        state = await read_state(client, repo)
        lines = _lessons(state, args.json) if args.command == "list" else _outcomes(state, args)
        print("\n".join(lines))
        return 0
    if args.command == "edit":
        request: LessonEdit | LessonDelete = LessonEdit(id=args.lesson, text=args.text, by=args.by)
        update = LEARNING_EDIT_LESSON
    else:
        request, update = LessonDelete(id=args.lesson, by=args.by), LEARNING_DELETE_LESSON
    lesson = await _update(client, repo, update, request)
    verb = "edited" if args.command == "edit" else "deleted"
    print(f"{lesson.id} {verb}: {lesson.text}")
    return 0


async def _update(client: Client, repo: str, update: str, request: object) -> Lesson:
    handle = client.get_workflow_handle(learning_workflow_id(repo))
    try:
        return await handle.execute_update(update, request, result_type=Lesson)
    except WorkflowUpdateFailedError as err:
        reason = getattr(err.cause, "message", str(err.cause))
        raise StarterError(f"refused: {reason}") from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise StarterError(f"{repo} has no lessons yet: no run there has ended") from None
        raise StarterError(f"not delivered: {err.message}") from None


def _lessons(state: LearningState, as_json: bool) -> list[str]:
    ranked = sorted(state.lessons, key=lambda x: (-x.seen, x.id))
    if as_json:
        return [json.dumps([x.model_dump(mode="json") for x in ranked], indent=2)]
    if not ranked:
        return [f"{state.repo}: no lessons yet"]
    lines = [f"{state.repo}: {len(ranked)} lessons from {state.aggregates.runs} runs"]
    for x in ranked:
        edited = f", edited by {x.edited_by}" if x.edited_by else ""
        lines.append(f"{x.id:>4}  {x.kind:<13} seen {x.seen}{edited}: {x.text}")
    return lines


def _outcomes(state: LearningState, args: argparse.Namespace) -> list[str]:
    records = state.records[-args.limit :] if args.limit > 0 else []
    if args.json:
        return [json.dumps([r.model_dump(mode="json") for r in records], indent=2)]
    totals = state.aggregates
    counts = ", ".join(f"{k} {v}" for k, v in sorted(totals.outcomes.items())) or "none"
    lines = [f"{state.repo}: {totals.runs} runs ({counts}); ${totals.cost_usd:.4f} in all"]
    for r in records:
        tries = " ".join(f"{k}={v}" for k, v in sorted(r.attempts.items()))
        lines.append(
            f"#{r.issue:<5} {r.outcome:<10} {r.ended_at:%Y-%m-%d %H:%M} "
            f"${r.usage.cost_usd:.4f} {tries}"
        )
    return lines


def main(argv: list[str] | None = None, prog: str = PROG) -> NoReturn:
    """The command line; ``prog`` names it in usage and errors (``autopilot lessons``)."""
    args = parser(prog).parse_args(argv)
    run_main(lambda: lessons_command(args), prog)


if __name__ == "__main__":
    main()
