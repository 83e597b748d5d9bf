"""Real-repository benchmark: upstream bug fixes carried from issue to PR on the whole stack.

    python -m benchmarks.real_repo_bench --mirror-root DIR                  # all 13 cases
    python -m benchmarks.real_repo_bench --cases tomli-load-text-mode       # a bundled project
    python -m benchmarks.real_repo_bench --mirror-root DIR --jobs 2 --save

For each case of ``benchmarks/real_repos/cases`` it seeds a forge repository with the upstream
tree at ``base_commit`` (one commit, plus the release tag ``git describe`` finds, for versions
from VCS tags), opens an issue with the case's title and body and starts the run as the
starters do; the worker plans, builds the case's environment in the sandbox, runs the agent
loop, verifies, reviews and opens a PR, with the replay model playing the case's gold patch
through the real tools. Then it evaluates the PR (``real_repos/evaluate.py``): hidden tests
in, fresh virtualenv, every ``fail_to_pass`` id must pass and the full suite must not fail.

One JSON document on stdout: per case the outcome, the evaluation, the model's calls and
tokens (the run's status: ``total_usage`` and the largest single answer of its agent loops),
the gold diff's tokens (the replay model's counter, ``ceil(len / 4)``) and wall times; then
the totals, ``output_over_gold`` (total output tokens / total gold tokens) and whether the
issue's bar is met (every case green, largest answer <= 8,192 tokens, output <= 3x gold).
Repositories come from ``real_repos/bundles/NAME.bundle`` or local mirrors (``--mirror-root``,
``--mirror``, ``REAL_REPOS_MIRROR_ROOT``; see ``real_repos/sources.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.json_report import exit_now, json_stdout, write_report
from benchmarks.real_repos import sources
from benchmarks.real_repos.bench_run import run_case
from benchmarks.real_repos.sources import Case, SourceError
from benchmarks.real_repos.stack import running_stack

RESULTS = Path(__file__).resolve().parent / "results" / "real_repos.json"
LARGEST_ANSWER_LIMIT = 8192
OUTPUT_OVER_GOLD_LIMIT = 3.0
DEFAULT_CASE_TIMEOUT = 1200.0


def summarize(records: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    models = [r["model"] for r in records if r.get("model")]
    output = sum(m["output_tokens"] for m in models)
    gold = sum(r["gold_tokens"] for r in records)
    largest = max((m["largest_answer_tokens"] for m in models), default=0)
    ratio = round(output / gold, 3) if gold else None
    green = sum(1 for r in records if r["green"])
    return {
        "cases": len(records),
        "green": green,
        "pr_opened": sum(1 for r in records if r["outcome"] == "pr_opened"),
        "model_calls": sum(m["calls"] for m in models),
        "input_tokens": sum(m["input_tokens"] for m in models),
        "output_tokens": output,
        "gold_tokens": gold,
        "output_over_gold": ratio,
        "largest_answer_tokens": largest,
        "wall_s": round(wall_s, 1),
        "done": {
            "every_case_green": green == len(records) and bool(records),
            "largest_answer_within_8192": largest <= LARGEST_ANSWER_LIMIT,
            "output_within_3x_gold": ratio is not None and ratio <= OUTPUT_OVER_GOLD_LIMIT,
        },
    }


async def run_benchmark(
    cases: list[Case],
    repositories: dict[str, str],
    work: Path,
    jobs: int = 1,
    case_timeout: float = DEFAULT_CASE_TIMEOUT,
) -> dict[str, Any]:
    """The report for ``cases``; ``repositories`` maps each project to a bundle or mirror."""
    started = time.monotonic()
    upstream = work / "upstream"
    sources.clone_upstream(repositories, upstream)
    for case in cases:
        sources.check_commits(case, upstream)
    cases_dir = sources.write_cases(cases, work / "cases")
    gate = asyncio.Semaphore(max(1, jobs))
    async with running_stack(cases, cases_dir, upstream, work) as stack:
        stack_s = round(time.monotonic() - started, 1)

        async def one(case: Case) -> dict[str, Any]:
            async with gate:
                return await run_case(stack, case, upstream, work, case_timeout)

        records = list(await asyncio.gather(*(one(c) for c in cases)))
    return {
        "benchmark": "real_repos",
        "jobs": jobs,
        "stack_start_s": stack_s,
        "cases": records,
        "summary": summarize(records, time.monotonic() - started),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.real_repo_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cases", help="comma-separated case ids (default: every case)")
    parser.add_argument("--mirror-root", action="append", metavar="DIR")
    parser.add_argument("--mirror", action="append", metavar="OWNER/NAME=PATH")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    parser.add_argument("--case-timeout", type=float, default=DEFAULT_CASE_TIMEOUT)
    parser.add_argument("--save", action="store_true", help=f"also write {RESULTS}")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--log-level", default="WARNING", help="the worker's log level")
    return parser.parse_args(argv)


def prepare(args: argparse.Namespace) -> tuple[list[Case], dict[str, str]]:
    """The chosen cases and their repositories; SystemExit(2) with what is missing."""
    ids = [c.strip() for c in (args.cases or "").split(",") if c.strip()] or None
    try:
        cases = sources.load_cases(ids)
    except SourceError as err:
        raise SystemExit(f"real_repo_bench: {err}") from None
    explicit, roots = sources.verify_cases.mirrors_from(args)
    found, missing = sources.locate(cases, explicit, roots)
    if missing:
        raise SystemExit("real_repo_bench: " + sources.missing_message(missing, roots))
    return cases, found


def main(argv: list[str] | None = None) -> None:
    from workers.observability import configure_logging

    args = parse_args(argv)
    try:
        cases, found = prepare(args)
    except SystemExit as stop:
        print(stop.code, file=sys.stderr)
        sys.stderr.flush()
        os._exit(2)
    configure_logging(args.log_level, json_format=True)
    json_out = json_stdout()
    work = Path(tempfile.mkdtemp(prefix="autopilot-real-repos-"))
    code = 0
    try:
        report = asyncio.run(run_benchmark(cases, found, work, args.jobs, args.case_timeout))
        text = write_report(json_out, report)
        if args.save:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(text + "\n", encoding="utf-8")
    except (SourceError, RuntimeError, OSError) as err:
        print(f"real_repo_bench: {err}", file=sys.stderr)
        code = 1
    finally:
        if args.keep:
            print(f"real_repo_bench: scratch directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    exit_now(code)


if __name__ == "__main__":
    main()
