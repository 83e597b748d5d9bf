"""Resume a run that asked for a human (label ``needs-human``), optionally with guidance.

A run that is not waiting for ``resume`` (or has finished) is refused in one line, status 2.

python -m starters.resume --repo owner/name --issue 42 --guidance "use Decimal"
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from temporalio.service import RPCError, RPCStatusCode

from config.settings import load_config
from domain.run import ResumeRequest
from starters.common import StarterError, connect, issue_ref, resume_run, run_main


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m starters.resume", description=__doc__)
    p.add_argument("--repo", required=True)
    p.add_argument("--issue", required=True, type=int)
    p.add_argument("--guidance", default="", help="fed to the next attempt")
    p.add_argument("--as", dest="by", default=getpass.getuser())
    p.add_argument("--config", type=Path)
    return p


async def resume(args: argparse.Namespace) -> int:
    config = load_config(path=args.config)
    issue = issue_ref(config, args.repo, args.issue)
    client = await connect(config)
    try:
        # The workflow drops a resume it is not waiting for: refuse here, saying why.
        await resume_run(client, issue, ResumeRequest(by=args.by, guidance=args.guidance))
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise StarterError(f"no running run for issue #{issue.number} in {args.repo}") from None
        raise StarterError(f"resume not delivered: {err.message}") from None
    print(f"resume sent to {issue.workflow_id}")
    return 0


if __name__ == "__main__":
    arguments = parser().parse_args()
    run_main(lambda: resume(arguments), "resume")
