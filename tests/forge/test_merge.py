"""Merging a PR really changes the base branch in git, per merge style."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

import pytest

from devstack.forge.testing import RunningForge, push_files, run_git, seed_repo

_ids = itertools.count(1)


def _repo_with_pr(
    forge: RunningForge, head_files: dict[str, str], commits: int = 1
) -> tuple[str, int]:
    name = f"m{next(_ids)}"
    seed_repo(forge, forge.admin, name, {"app.py": "a = 1\n", "keep.txt": "keep\n"})
    for i in range(commits):
        push_files(
            forge,
            forge.admin,
            name,
            "feature",
            head_files if i == commits - 1 else {f"step{i}.txt": str(i)},
            base="main" if i == 0 else None,
            message=f"c{i}",
        )
    pr = forge.api(
        "POST",
        f"/repos/{forge.admin}/{name}/pulls",
        {"head": "feature", "base": "main", "title": "Change app"},
    )
    return name, pr["number"]


def _content(forge: RunningForge, name: str, path: str, ref: str = "main") -> str:
    got = forge.api("GET", f"/repos/{forge.admin}/{name}/contents/{path}?ref={ref}")
    return base64.b64decode(got["content"]).decode()


def _log(forge: RunningForge, name: str, tmp_path: Path) -> list[list[str]]:
    """Parents of each commit on main, newest first, from a fresh clone."""
    work = tmp_path / f"clone-{name}"
    run_git("clone", "--quiet", forge.clone_url(forge.admin, name), str(work))
    out = run_git("log", "--format=%P", "main", cwd=work)
    return [line.split() for line in out.splitlines()]


@pytest.mark.parametrize(
    ("style", "parents_of_tip", "new_commits"),
    [("merge", 2, 3), ("squash", 1, 1), ("rebase", 1, 2), ("rebase-merge", 2, 3)],
)
def test_merge_styles_update_main(
    forge: RunningForge, tmp_path: Path, style: str, parents_of_tip: int, new_commits: int
) -> None:
    name, number = _repo_with_pr(forge, {"app.py": "a = 2\n"}, commits=2)
    # Move main on, so rebase has real work and merge needs a true merge commit.
    push_files(forge, forge.admin, name, "main", {"other.txt": "o\n"}, message="main moves")
    forge.api("POST", f"/repos/{forge.admin}/{name}/pulls/{number}/merge", {"Do": style})
    assert _content(forge, name, "app.py") == "a = 2\n"
    assert _content(forge, name, "step0.txt") == "0"
    assert _content(forge, name, "other.txt") == "o\n"
    log = _log(forge, name, tmp_path)
    assert len(log[0]) == parents_of_tip
    assert len(log) == 2 + new_commits  # initial + "main moves" + what the style adds
    pr = forge.api("GET", f"/repos/{forge.admin}/{name}/pulls/{number}")
    main = forge.api("GET", f"/repos/{forge.admin}/{name}/branches/main")
    assert pr["merged"] and pr["merge_commit_sha"] == main["commit"]["id"]


def test_merge_deletes_branch_when_asked(forge: RunningForge) -> None:
    name, number = _repo_with_pr(forge, {"app.py": "a = 3\n"})
    forge.api(
        "POST",
        f"/repos/{forge.admin}/{name}/pulls/{number}/merge",
        {"Do": "merge", "delete_branch_after_merge": True},
    )
    with pytest.raises(RuntimeError, match="404"):
        forge.api("GET", f"/repos/{forge.admin}/{name}/branches/feature")
    pr = forge.api("GET", f"/repos/{forge.admin}/{name}/pulls/{number}")
    assert pr["merged"] and pr["head"]["sha"]  # the head sha survives the branch


def test_conflict_leaves_main_untouched(forge: RunningForge) -> None:
    name, number = _repo_with_pr(forge, {"app.py": "a = 'feature'\n"})
    push_files(forge, forge.admin, name, "main", {"app.py": "a = 'main'\n"})
    before = forge.api("GET", f"/repos/{forge.admin}/{name}/branches/main")["commit"]["id"]
    for style in ("merge", "squash", "rebase"):
        with pytest.raises(RuntimeError, match="405"):
            forge.api("POST", f"/repos/{forge.admin}/{name}/pulls/{number}/merge", {"Do": style})
    after = forge.api("GET", f"/repos/{forge.admin}/{name}/branches/main")["commit"]["id"]
    assert after == before and _content(forge, name, "app.py") == "a = 'main'\n"
    assert forge.api("GET", f"/repos/{forge.admin}/{name}/pulls/{number}")["merged"] is False


def test_pr_head_follows_pushes(forge: RunningForge) -> None:
    name, number = _repo_with_pr(forge, {"app.py": "a = 4\n"})
    new_sha = push_files(forge, forge.admin, name, "feature", {"more.txt": "m\n"})
    pr = forge.api("GET", f"/repos/{forge.admin}/{name}/pulls/{number}")
    assert pr["head"]["sha"] == new_sha
    assert (pr["additions"], pr["changed_files"]) == (2, 2)
