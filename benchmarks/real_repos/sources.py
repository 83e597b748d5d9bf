"""Where the cases' upstream repositories come from, and what is taken from them.

A project's repository is a git bundle vendored in ``bundles/NAME.bundle`` (NAME after the
case's ``owner/NAME``) when there is one, else a local mirror or clone found the way
``verify_cases.py`` finds it (``--mirror OWNER/NAME=PATH``, ``--mirror-root DIR``,
``REAL_REPOS_MIRRORS``, ``REAL_REPOS_MIRROR_ROOT``). Each project used is cloned bare into
``UPSTREAM/OWNER+NAME``, a layout the replay model's ``--repo`` understands; everything else
(the seed tree, the release tag, the gold diff, the hidden tests) is read from that clone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.real_repos import verify_cases
from devstack.model_server.answer import count_tokens

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
BUNDLES_DIR = HERE / "bundles"


class SourceError(Exception):
    """A repository or a commit that is not on this machine; one line for people."""


@dataclass(frozen=True)
class Case:
    id: str
    data: dict[str, Any]

    @property
    def repo(self) -> str:
        return str(self.data["repo"])

    @property
    def upstream_dir_name(self) -> str:
        return self.repo.replace("/", "+")


def load_cases(ids: list[str] | None = None, directory: Path = CASES_DIR) -> list[Case]:
    """The named cases (file stems), or every case, in file order."""
    known = {p.stem: p for p in sorted(directory.glob("*.json"))}
    wanted = ids or list(known)
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise SourceError(f"unknown case(s) {', '.join(unknown)} (known: {', '.join(known)})")
    return [Case(i, verify_cases.load_case(known[i])) for i in wanted]


def bundle_for(repo: str, bundles: Path = BUNDLES_DIR) -> Path | None:
    path = bundles / f"{repo.rpartition('/')[2]}.bundle"
    return path if path.is_file() else None


def locate(
    cases: list[Case],
    explicit: dict[str, str],
    roots: list[str],
    bundles: Path = BUNDLES_DIR,
) -> tuple[dict[str, str], list[str]]:
    """Project -> its bundle or mirror; and one line per project found nowhere."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for repo in dict.fromkeys(c.repo for c in cases):
        bundle = bundle_for(repo, bundles)
        if repo in explicit or bundle is None:
            try:
                found[repo] = verify_cases.find_mirror(repo, explicit, roots)
            except verify_cases.CaseError:
                ids = ", ".join(c.id for c in cases if c.repo == repo)
                missing.append(f"{repo} (cases: {ids})")
        else:
            found[repo] = str(bundle)
    return found, missing


def missing_message(missing: list[str], roots: list[str], bundles: Path = BUNDLES_DIR) -> str:
    where = ", ".join(roots) or "none given"
    return (
        "no local repository for:\n  "
        + "\n  ".join(missing)
        + f"\nlooked for bundles in {bundles}/NAME.bundle and in mirror roots ({where}: "
        "DIR/owner+name/repo, DIR/owner+name, DIR/owner/name, DIR/name.git, DIR/name).\n"
        "Pass --mirror-root DIR or --mirror OWNER/NAME=PATH (or set REAL_REPOS_MIRROR_ROOT), "
        "or choose cases with a bundle with --cases."
    )


def git(repo: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        raise SourceError(f"git {' '.join(args[:3])} in {repo}: {done.stderr.strip()[-300:]}")
    return done.stdout


def clone_upstream(sources: dict[str, str], upstream: Path) -> None:
    """A bare clone of each project (branches and tags) in ``upstream/OWNER+NAME``."""
    upstream.mkdir(parents=True, exist_ok=True)
    for repo, source in sources.items():
        target = upstream / repo.replace("/", "+")
        if target.exists():
            continue
        git(upstream, "clone", "--quiet", "--bare", source, str(target))


def check_commits(case: Case, upstream: Path) -> None:
    clone = upstream / case.upstream_dir_name
    for key in ("base_commit", "fix_commit"):
        sha = case.data[key]
        if git(clone, "cat-file", "-t", sha, check=False).strip() != "commit":
            raise SourceError(f"{case.id}: {key} {sha[:12]} is not in {case.repo}'s repository")


def release_tag(case: Case, upstream: Path) -> list[str]:
    """The tag ``git describe`` finds for the base (versions from VCS tags need it)."""
    clone = upstream / case.upstream_dir_name
    tag = git(clone, "describe", "--tags", "--abbrev=0", case.data["base_commit"], check=False)
    return [tag.strip()] if tag.strip() else []


def export_base(case: Case, upstream: Path, target: Path) -> Path:
    """The upstream tree at ``base_commit`` as plain files (no history) in ``target``."""
    clone = upstream / case.upstream_dir_name
    git(clone.parent, "clone", "--quiet", "--shared", "--no-checkout", str(clone), str(target))
    git(target, "-c", "advice.detachedHead=false", "checkout", "--quiet", case.data["base_commit"])
    shutil.rmtree(target / ".git")
    return target


def gold_diff(case: Case, upstream: Path) -> str:
    """The gold patch exactly as the replay model plays it (``patches.load_cases``)."""
    clone = upstream / case.upstream_dir_name
    options = ("diff", "--no-color", "--no-ext-diff", "--no-renames")
    base, fix = case.data["base_commit"], case.data["fix_commit"]
    return git(clone, *options, base, fix, "--", *case.data["source_files_changed"])


def gold_tokens(case: Case, upstream: Path) -> int:
    """The gold diff's tokens with the replay model's own counter (``ceil(len / 4)``)."""
    return count_tokens(gold_diff(case, upstream))


def largest_source_lines(case: Case, upstream: Path) -> int:
    """Lines of the longest file the gold patch changes, at the base (the model must edit it)."""
    base = case.data["base_commit"]
    texts = [file_at(case, upstream, base, p) for p in case.data["source_files_changed"]]
    return max((t.count(b"\n") for t in texts if t is not None), default=0)


def file_at(case: Case, upstream: Path, commit: str, path: str) -> bytes | None:
    """A file's bytes at a commit, None when it does not exist there."""
    clone = upstream / case.upstream_dir_name
    done = subprocess.run(
        ["git", "-C", str(clone), "show", f"{commit}:{path}"], capture_output=True, timeout=60
    )
    return done.stdout if done.returncode == 0 else None


def write_cases(cases: list[Case], directory: Path) -> Path:
    """The chosen case files, for the replay model's ``--cases``."""
    directory.mkdir(parents=True, exist_ok=True)
    for case in cases:
        (directory / f"{case.id}.json").write_text(json.dumps(case.data, indent=2) + "\n")
    return directory
