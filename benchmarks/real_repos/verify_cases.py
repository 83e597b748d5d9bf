"""Verify real-repository bug-fix cases (benchmarks/real_repos/cases/*.json).

For each case, following shared/reference/real-repo-cases.md:

1. clone the project (with its history and tags) from a local mirror, check out ``base_commit``;
2. build a fresh virtualenv (``python3 -m venv``), ``pip install`` the case's ``install`` list,
   then run its ``setup_commands`` in the repository root;
3. run ``full_test_command`` in three states, recording every pytest node id's outcome:
   (a) base, (b) base + hidden tests (the ``test_files_changed`` at ``fix_commit``),
   (c) base + the whole fix (``git diff base fix`` applied);
   and ``test_command`` in (b) and (c);
4. derive ``fail_to_pass`` = ids failing/erroring in (b) and passing in (c), and check that nothing
   fails in (a), nothing else fails in (b) or (c), and that the derived list equals the case's.

It prints one JSON object per case on stdout (``{"case": ..., "ok": true, ...}`` or ``"ok": false``
with ``"why"``), one per line, and exits 1 if any case failed.

Where the repositories come from (nothing is downloaded from the forge here): every project's
git repository must already be on this machine, as a bare mirror or an ordinary clone.

    --mirror pallets/click=/path/to/click.git      (repeatable; owner/name as in the case's repo)
    --mirror-root DIR                              (looks for DIR/owner+name/repo, DIR/owner+name,
                                                    DIR/owner/name, DIR/name.git, DIR/name)

or the same through the environment: ``REAL_REPOS_MIRRORS="pallets/click=/p1;pytoolz/toolz=/p2"``
and ``REAL_REPOS_MIRROR_ROOT=DIR``. Package installs go to the configured package index (pip's
own settings apply).

Examples:

    python3 benchmarks/real_repos/verify_cases.py --mirror-root "$MIRRORS"            # all cases
    python3 benchmarks/real_repos/verify_cases.py --mirror-root "$MIRRORS" click-echo-empty-bytes
    python3 benchmarks/real_repos/verify_cases.py --mirror-root "$MIRRORS" --jobs 2 --keep

``--derive`` skips the comparison with the case's ``fail_to_pass`` (used while writing a case:
the derived list is printed as ``derived_fail_to_pass``). Only the standard library is used.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
KEYS = (
    "repo",
    "base_commit",
    "fix_commit",
    "title",
    "issue_body",
    "source_files_changed",
    "test_files_changed",
    "test_command",
    "fail_to_pass",
    "install",
    "setup_commands",
    "full_test_command",
    "notes",
)

# A pytest plugin, loaded into the project's own pytest through PYTEST_ADDOPTS, that writes every
# node id's phase outcomes as JSON lines. Uses only hooks every pytest since 3.x has.
_PLUGIN = r"""
import json, os

_OUT = os.environ.get("RR_OUTCOMES_FILE")


def _write(rec):
    if _OUT:
        with open(_OUT, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")


def pytest_runtest_logreport(report):
    _write({"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail")})


def pytest_collectreport(report):
    if report.failed:
        _write({"nodeid": report.nodeid or "<collection>", "when": "collect",
                "outcome": "failed", "xfail": False})
"""

FAILED = "failed"
ERROR = "error"
PASSED = "passed"
SKIPPED = "skipped"
XFAILED = "xfailed"
XPASSED = "xpassed"
BAD = {FAILED, ERROR}


class CaseError(Exception):
    pass


def load_case(path: Path) -> dict[str, Any]:
    case = json.loads(path.read_text(encoding="utf-8"))
    keys = tuple(case)
    if set(keys) != set(KEYS):
        missing = sorted(set(KEYS) - set(keys))
        extra = sorted(set(keys) - set(KEYS))
        raise CaseError(f"keys differ from the reference: missing {missing}, extra {extra}")
    return case


def mirrors_from(args: argparse.Namespace) -> tuple[dict[str, str], list[str]]:
    explicit: dict[str, str] = {}
    specs = [s for s in os.environ.get("REAL_REPOS_MIRRORS", "").split(";") if s.strip()]
    specs += args.mirror or []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"--mirror wants owner/name=PATH, got {spec!r}")
        explicit[name.strip()] = path.strip()
    roots = list(args.mirror_root or [])
    if os.environ.get("REAL_REPOS_MIRROR_ROOT"):
        roots.append(os.environ["REAL_REPOS_MIRROR_ROOT"])
    return explicit, roots


def find_mirror(repo: str, explicit: dict[str, str], roots: list[str]) -> str:
    if repo in explicit:
        return explicit[repo]
    owner, _, name = repo.partition("/")
    for root in roots:
        for cand in (
            Path(root) / f"{owner}+{name}" / "repo",
            Path(root) / f"{owner}+{name}",
            Path(root) / owner / name,
            Path(root) / f"{name}.git",
            Path(root) / name,
        ):
            if (cand / "HEAD").is_file() or (cand / ".git").exists():
                return str(cand)
    raise CaseError(f"no local repository for {repo}: pass --mirror {repo}=PATH or --mirror-root")


def sh(
    cmd: str | list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        shell=isinstance(cmd, str),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        shown = cmd if isinstance(cmd, str) else " ".join(cmd)
        tail = (proc.stdout + proc.stderr)[-2000:]
        raise CaseError(f"`{shown}` exited {proc.returncode}: {tail}")
    return proc


def git(repo: Path, *args: str, check: bool = True) -> str:
    return sh(["git", *args], cwd=repo, check=check).stdout


def outcomes_of(path: Path) -> dict[str, str]:
    """Fold the plugin's per-phase records into one outcome per node id."""
    phases: dict[str, dict[str, tuple[str, bool]]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            phases.setdefault(rec["nodeid"], {})[rec["when"]] = (rec["outcome"], rec["xfail"])
    result: dict[str, str] = {}
    for nid, ph in phases.items():
        call = ph.get("call")
        if "collect" in ph:
            result[nid] = ERROR
        elif call and call[0] == "failed":
            result[nid] = FAILED  # includes a strict XPASS
        elif any(ph.get(w, ("",))[0] == "failed" for w in ("setup", "teardown")):
            result[nid] = ERROR
        elif call and call[0] == "passed":
            result[nid] = XPASSED if call[1] else PASSED
        elif call and call[0] == "skipped":
            result[nid] = XFAILED if call[1] else SKIPPED
        elif ph.get("setup", ("",))[0] == "skipped":
            result[nid] = XFAILED if ph["setup"][1] else SKIPPED
        else:
            result[nid] = ERROR  # no call phase recorded
    return result


class Runner:
    def __init__(self, case_id: str, case: dict[str, Any], work: Path, python: str) -> None:
        self.case_id = case_id
        self.case = case
        self.work = work
        self.repo = work / "repo"
        self.venv = work / "venv"
        self.python = python
        self.plugin_dir = work / "plugin"
        self.timings: dict[str, float] = {}
        self.env: dict[str, str] = {}
        self.freeze: list[str] = []

    def prepare(self, mirror: str) -> None:
        t0 = time.monotonic()
        sh(["git", "clone", "--quiet", "--no-checkout", mirror, str(self.repo)], cwd=self.work)
        base, fix = self.case["base_commit"], self.case["fix_commit"]
        for commit in (base, fix):
            if git(self.repo, "cat-file", "-t", commit, check=False).strip() != "commit":
                raise CaseError(f"{commit} is not a commit of the clone")
        parents = git(self.repo, "rev-list", "--parents", "-n", "1", fix).split()[1:]
        if base not in parents:
            raise CaseError(f"base_commit is not a parent of fix_commit (parents: {parents})")
        git(self.repo, "-c", "advice.detachedHead=false", "checkout", "--quiet", base)
        changed = set(git(self.repo, "diff", "--name-only", base, fix).split())
        declared = set(self.case["source_files_changed"]) | set(self.case["test_files_changed"])
        if changed != declared:
            raise CaseError(
                "source_files_changed + test_files_changed differ from the fix's files: "
                f"undeclared {sorted(changed - declared)}, not changed {sorted(declared - changed)}"
            )
        if set(self.case["source_files_changed"]) & set(self.case["test_files_changed"]):
            raise CaseError("a file is both source and test")
        self.timings["clone_s"] = round(time.monotonic() - t0, 2)

        t0 = time.monotonic()
        sh([self.python, "-m", "venv", str(self.venv)], cwd=self.work)
        self.plugin_dir.mkdir()
        (self.plugin_dir / "rr_outcomes_plugin.py").write_text(_PLUGIN, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
        env.pop("VIRTUAL_ENV", None)
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        self.env = env
        pip = [str(self.venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        if self.case["install"]:
            sh([*pip, *self.case["install"]], cwd=self.repo, env=env)
        for cmd in self.case["setup_commands"]:
            sh(cmd, cwd=self.repo, env=env)
        self.timings["env_build_s"] = round(time.monotonic() - t0, 2)
        freeze = sh(
            [str(self.venv / "bin" / "python"), "-m", "pip", "freeze"], cwd=self.work, env=env
        )
        self.freeze = [ln for ln in freeze.stdout.splitlines() if ln and not ln.startswith("-e ")]

    def state(self, name: str) -> None:
        """Reset the work tree to base, then apply what the state needs."""
        base, fix = self.case["base_commit"], self.case["fix_commit"]
        git(self.repo, "reset", "--quiet", "--hard", base)
        git(self.repo, "clean", "--quiet", "-fd")
        if name == "a":
            return
        files = self.case["test_files_changed"] if name == "b" else None
        cmd = ["git", "diff", "--binary", base, fix]
        if files is not None:
            cmd += ["--", *files]
        diff = sh(cmd, cwd=self.repo).stdout
        if diff:
            proc = subprocess.run(
                ["git", "apply", "--whitespace=nowarn", "-"],
                cwd=self.repo,
                input=diff,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise CaseError(f"state {name}: git apply failed: {proc.stderr[-1000:]}")

    def pytest(self, command: str, label: str) -> tuple[int, dict[str, str], float, str]:
        out = self.work / f"outcomes-{label}.jsonl"
        out.unlink(missing_ok=True)
        env = dict(self.env)
        env["PYTHONPATH"] = str(self.plugin_dir)
        env["PYTEST_ADDOPTS"] = "-p rr_outcomes_plugin -p no:cacheprovider"
        env["RR_OUTCOMES_FILE"] = str(out)
        t0 = time.monotonic()
        proc = sh(command, cwd=self.repo, env=env, check=False)
        elapsed = round(time.monotonic() - t0, 2)
        tail = (proc.stdout + proc.stderr)[-1500:]
        return proc.returncode, outcomes_of(out), elapsed, tail


def run_states(
    run: Runner, case: dict[str, Any], report: dict[str, Any]
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The full suite in states a (base), b (base + hidden tests) and c (the whole fix)."""
    suites: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for name in ("a", "b", "c"):
        run.state(name)
        code, outcomes, secs, tail = run.pytest(case["full_test_command"], f"full-{name}")
        run.timings[f"full_suite_{name}_s"] = secs
        suites[name] = outcomes
        if not outcomes:
            problems.append(f"state {name}: the full suite reported no tests (exit {code}): {tail}")
        bad = sorted(n for n, o in outcomes.items() if o in BAD)
        report[f"counts_{name}"] = {
            o: sum(1 for v in outcomes.values() if v == o) for o in sorted(set(outcomes.values()))
        }
        if name == "a" and (bad or code != 0):
            problems.append(
                f"state a (base) fails: exit {code}, {bad[:10]} {tail if not bad else ''}"
            )
        if name == "c" and (bad or code != 0):
            problems.append(
                f"state c (fix) fails: exit {code}, {bad[:10]} {tail if not bad else ''}"
            )
        if name in ("b", "c"):
            _, touts, tsecs, _ = run.pytest(case["test_command"], f"target-{name}")
            run.timings[f"test_command_{name}_s"] = tsecs
            want = BAD if name == "b" else {PASSED}
            for nid in case["fail_to_pass"]:
                if touts.get(nid) not in want:
                    problems.append(f"state {name}: test_command gives {nid} {touts.get(nid)!r}")
    return suites, problems


def verify(case_id: str, path: Path, explicit: dict[str, str], roots: list[str], args) -> dict:
    report: dict[str, Any] = {"case": case_id, "ok": False}
    t_start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f"rr-{case_id}-", dir=args.workdir))
    try:
        case = load_case(path)
        report["repo"] = case["repo"]
        mirror = find_mirror(case["repo"], explicit, roots)
        run = Runner(case_id, case, work, args.python)
        run.prepare(mirror)
        suites, problems = run_states(run, case, report)
        failing_b = {n for n, o in suites["b"].items() if o in BAD}
        derived = sorted(n for n in failing_b if suites["c"].get(n) == PASSED)
        report["derived_fail_to_pass"] = derived
        others = sorted(failing_b - set(derived))
        if others:
            problems.append(f"state b: failures beyond fail_to_pass: {others[:10]}")
        if not derived:
            problems.append("no test fails at base + hidden tests and passes at the fix")
        if not args.derive and sorted(case["fail_to_pass"]) != derived:
            problems.append(
                f"fail_to_pass differs: case {sorted(case['fail_to_pass'])}, derived {derived}"
            )
        gone = sorted(n for n, o in suites["a"].items() if o == PASSED and n not in suites["c"])
        if gone:
            report["passing_at_base_absent_at_fix"] = gone[:20]
        report["timings"] = run.timings
        report["installed"] = run.freeze
        report["ok"] = not problems
        if problems:
            report["why"] = problems
    except CaseError as exc:
        report["why"] = [str(exc)]
    except subprocess.TimeoutExpired as exc:
        report["why"] = [f"timed out: {exc.cmd}"]
    finally:
        report["total_s"] = round(time.monotonic() - t_start, 2)
        if args.keep:
            report["workdir"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help="case ids (file stems) or paths; default: all")
    parser.add_argument("--mirror", action="append", metavar="OWNER/NAME=PATH")
    parser.add_argument("--mirror-root", action="append", metavar="DIR")
    parser.add_argument("--python", default="python3", help="interpreter for the venvs")
    parser.add_argument("--jobs", type=int, default=1, help="cases verified at once")
    parser.add_argument("--workdir", default=None, help="where clones and venvs go (tmp)")
    parser.add_argument("--keep", action="store_true", help="keep each case's clone and venv")
    parser.add_argument("--derive", action="store_true", help="do not compare fail_to_pass")
    args = parser.parse_args(argv)
    explicit, roots = mirrors_from(args)

    paths: list[Path] = []
    for item in args.cases or sorted(p.stem for p in CASES_DIR.glob("*.json")):
        p = Path(item)
        paths.append(p if p.suffix == ".json" else CASES_DIR / f"{item}.json")
    all_ok = True
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(verify, p.stem, p, explicit, roots, args) for p in paths]
        for fut in concurrent.futures.as_completed(futures):
            rep = fut.result()
            all_ok &= rep["ok"]
            print(json.dumps(rep), flush=True)
    print(
        json.dumps(
            {
                "summary": True,
                "cases": len(paths),
                "ok": all_ok,
                "wall_s": round(time.monotonic() - t0, 2),
            }
        ),
        flush=True,
    )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
