"""Show the configured experiments: per variant the success rate, attempts and cost, and whether
one variant wins with the configured confidence.

    python -m starters.experiments [--repo owner/name ...] [--experiment NAME] [--json]

The outcomes come from the learning workflows of the configured repositories (or those given);
the experiments, their confidence and sample size from ``run.experiments`` in the config.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import NoReturn

from config.settings import load_config
from domain.experiment_stats import ExperimentReport, analyse
from domain.learning import OutcomeRecord
from starters.common import StarterError, connect, issue_ref, run_main
from starters.lessons import read_state

PROG = "python -m starters.experiments"


def parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", action="append", help="owner/name (default: every configured one)")
    p.add_argument("--experiment", help="only this experiment")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--config", type=Path, help="config file")
    return p


async def experiments_command(args: argparse.Namespace) -> int:
    """Carry out the parsed command; the ``autopilot experiments`` command calls this too."""
    config = load_config(path=args.config)
    experiments = [e for e in config.run.experiments if args.experiment in (None, e.name)]
    if not experiments:
        wanted = f" named {args.experiment!r}" if args.experiment else ""
        raise StarterError(f"no experiment{wanted} in run.experiments of the configuration")
    repos = [issue_ref(config, r, 1).repo.full_name for r in args.repo or []] or [
        r.repo for r in config.repositories
    ]
    client = await connect(config)
    records: list[OutcomeRecord] = []
    for repo in repos:
        records.extend((await read_state(client, repo)).records)
    reports = [analyse(experiment, records) for experiment in experiments]
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in reports], indent=2))
    else:
        print("\n\n".join("\n".join(report_lines(r)) for r in reports))
    return 0


def report_lines(report: ExperimentReport) -> list[str]:
    level = f"{report.confidence:.0%}"
    lines = [
        f"Experiment {report.experiment} (confidence {level}, "
        f"at least {report.min_samples} runs per variant)",
        f"  {'variant':<12} {'runs':>5} {'success':>8}  {level + ' interval':<18}"
        f" {'verify':>6} {'review':>6} {'cost/run':>9}",
    ]
    for v in report.variants:
        if v.rate is None:
            lines.append(f"  {v.name:<12} {0:>5} {'-':>8}")
            continue
        interval = f"[{v.rate_low:.3f}, {v.rate_high:.3f}]"
        lines.append(
            f"  {v.name:<12} {v.runs:>5} {v.rate:>8.1%}  {interval:<18}"
            f" {v.attempts['verify']:>6.2f} {v.attempts['review']:>6.2f}"
            f" {f'${v.mean_cost_usd or 0:.4f}':>9}"
        )
    c = report.comparison
    if c is not None:
        lines.append(
            f"  {c.best} - {c.runner_up}: {c.difference:+.3f} "
            f"[{c.difference_low:+.3f}, {c.difference_high:+.3f}]; Fisher p = {c.fisher_p:.4g}; "
            f"z = {c.z:.3f} (p = {c.z_p:.4g})"
        )
    lines.append(f"  {report.verdict}")
    return lines


def main(argv: list[str] | None = None, prog: str = PROG) -> NoReturn:
    """The command line; ``prog`` names it in usage and errors (``autopilot experiments``)."""
    args = parser(prog).parse_args(argv)
    run_main(lambda: experiments_command(args), prog)


if __name__ == "__main__":
    main()
