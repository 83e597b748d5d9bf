"""revert_merge against real git: a local bare origin, then the local forge over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.workspace.revert import TRAILER, RevertActivities
from devstack.forge.testing import push_files, run_git, running_forge, seed_repo
from domain import names
from domain.cross_repo import RevertMergeInput, RevertResult
from domain.issue import RepoRef
from tests.workspace.conftest import Origin, git

APP = "def add(a, b):\n    return a + b\n"
REVERT_BRANCH = "autopilot/revert-5"


@pytest.fixture
def work(origin: Origin, tmp_path: Path) -> Path:
    """A person's clone of the origin, to make merges on ``main`` the way a forge would."""
    path = tmp_path / "work"
    git(tmp_path, "clone", "-q", origin.url, str(path))
    return path


@pytest.fixture
def reverts(tmp_path: Path) -> RevertActivities:
    return RevertActivities(tmp_path / "reverts", token_for=lambda _base: None)


def commit_files(work: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    return git(work, "rev-parse", "HEAD").strip()


def merge_topic(work: Path, files: dict[str, str], *, squash: bool = False) -> str:
    """Commits ``files`` on a topic branch, lands it on main (merge commit or squash), pushes."""
    git(work, "checkout", "-q", "-B", "topic", "origin/main")
    commit_files(work, files, "topic change")
    git(work, "checkout", "-q", "main")
    git(work, "reset", "-q", "--hard", "origin/main")
    if squash:
        git(work, "merge", "-q", "--squash", "topic")
        git(work, "commit", "-q", "-m", "topic change (#5)")
    else:
        git(work, "merge", "-q", "--no-ff", "-m", "Merge pull request #5", "topic")
    git(work, "push", "-q", "origin", "main")
    return git(work, "rev-parse", "HEAD").strip()


def request(origin: Origin, merge_sha: str) -> RevertMergeInput:
    return RevertMergeInput(
        repo=RepoRef(forge_url="http://forge.invalid", owner="acme", name="demo"),
        clone_url=origin.url,
        base_branch="main",
        merge_commit_sha=merge_sha,
        branch=REVERT_BRANCH,
        key="autopilot-cross:pair:forge.invalid:acme:demo:1:revert:demo",
    )


async def test_a_merge_commit_is_reverted_on_a_new_branch(
    env: ActivityEnvironment, reverts: RevertActivities, origin: Origin, work: Path
) -> None:
    before = origin.rev("main^{tree}")
    merge_sha = merge_topic(work, {"src/app.py": APP + "X = 1\n", "src/new.py": "N = 1\n"})
    result = await env.run(reverts.revert_merge, request(origin, merge_sha))
    assert result == RevertResult(branch=REVERT_BRANCH, sha=origin.rev(REVERT_BRANCH))
    assert origin.rev("main") == merge_sha  # the base branch is left to the revert PR
    assert origin.rev(f"{REVERT_BRANCH}^") == merge_sha
    assert origin.rev(f"{REVERT_BRANCH}^{{tree}}") == before
    message = git(origin.bare, "log", "-1", "--format=%B", REVERT_BRANCH)
    assert f"{TRAILER}: {merge_sha}" in message.splitlines()


async def test_reverting_twice_pushes_one_revert_commit(
    env: ActivityEnvironment, reverts: RevertActivities, origin: Origin, work: Path
) -> None:
    merge_sha = merge_topic(work, {"src/new.py": "N = 1\n"})
    first = await env.run(reverts.revert_merge, request(origin, merge_sha))
    commit_files(work, {"README.md": "# demo, later\n"}, "unrelated change on main")
    git(work, "push", "-q", "origin", "main")
    again = await env.run(reverts.revert_merge, request(origin, merge_sha))
    assert again == first
    assert git(origin.bare, "rev-list", "--count", f"main..{REVERT_BRANCH}").strip() == "1"


async def test_a_retry_after_the_revert_landed_finds_it_on_the_base_branch(
    env: ActivityEnvironment, reverts: RevertActivities, origin: Origin, work: Path
) -> None:
    merge_sha = merge_topic(work, {"src/new.py": "N = 1\n"})
    first = await env.run(reverts.revert_merge, request(origin, merge_sha))
    # The revert PR was merged (fast-forward) and its branch deleted.
    git(origin.bare, "update-ref", "refs/heads/main", first.sha)
    git(origin.bare, "update-ref", "-d", f"refs/heads/{REVERT_BRANCH}")
    again = await env.run(reverts.revert_merge, request(origin, merge_sha))
    assert again.sha == first.sha
    assert origin.rev("main") == first.sha and not origin.has_branch(REVERT_BRANCH)


async def test_a_squash_merge_is_reverted_as_a_plain_commit(
    env: ActivityEnvironment, reverts: RevertActivities, origin: Origin, work: Path
) -> None:
    before = origin.rev("main^{tree}")
    squash_sha = merge_topic(work, {"src/app.py": APP + "Y = 2\n"}, squash=True)
    assert len(git(origin.bare, "rev-list", "--parents", "-n", "1", squash_sha).split()) == 2
    result = await env.run(reverts.revert_merge, request(origin, squash_sha))
    assert origin.rev(f"{result.sha}^{{tree}}") == before
    assert origin.rev(f"{result.sha}^") == squash_sha


async def test_a_conflicting_revert_fails_without_retry_and_pushes_nothing(
    env: ActivityEnvironment, reverts: RevertActivities, origin: Origin, work: Path
) -> None:
    merge_sha = merge_topic(work, {"src/app.py": APP + "X = 1\n"})
    commit_files(work, {"src/app.py": APP + "X = 2\n"}, "later change to the same line")
    git(work, "push", "-q", "origin", "main")
    with pytest.raises(ApplicationError, match="conflicts with later changes") as raised:
        await env.run(reverts.revert_merge, request(origin, merge_sha))
    assert raised.value.non_retryable and raised.value.type == names.ERR_INVALID_REQUEST
    assert not origin.has_branch(REVERT_BRANCH)


async def test_a_revert_already_undone_on_the_base_branch_fails_clearly(
    env: ActivityEnvironment, reverts: RevertActivities, origin: Origin, work: Path
) -> None:
    merge_sha = merge_topic(work, {"src/new.py": "N = 1\n"})
    git(work, "rm", "-q", "src/new.py")
    git(work, "commit", "-q", "-m", "undo by hand")
    git(work, "push", "-q", "origin", "main")
    with pytest.raises(ApplicationError, match="nothing left to revert") as raised:
        await env.run(reverts.revert_merge, request(origin, merge_sha))
    assert raised.value.non_retryable
    assert not origin.has_branch(REVERT_BRANCH)


async def test_a_commit_not_on_the_base_branch_is_refused(
    env: ActivityEnvironment, reverts: RevertActivities, origin: Origin, work: Path
) -> None:
    git(work, "checkout", "-q", "-b", "side")
    side_sha = commit_files(work, {"src/side.py": "S = 1\n"}, "side change")
    git(work, "push", "-q", "origin", "side")
    for sha in (side_sha, "0" * 40):
        with pytest.raises(ApplicationError, match="is not on main") as raised:
            await env.run(reverts.revert_merge, request(origin, sha))
        assert raised.value.non_retryable and raised.value.type == names.ERR_NOT_FOUND
    assert not origin.has_branch(REVERT_BRANCH)


async def test_revert_pr_on_the_forge_restores_the_base_branch(
    env: ActivityEnvironment, tmp_path: Path
) -> None:
    files = {"README.md": "# lib\n", "src/lib.py": "VALUE = 1\n"}
    with running_forge(tmp_path / "forge") as forge:
        owner, name = forge.admin, "lib"
        repo_path = f"/repos/{owner}/{name}"
        seed_repo(forge, owner, name, files)
        push_files(
            forge,
            owner,
            name,
            "feature",
            {"src/lib.py": "VALUE = 2\n", "src/extra.py": "E\n"},
            base="main",
        )
        pr = forge.api(
            "POST", f"{repo_path}/pulls", {"head": "feature", "base": "main", "title": "f"}
        )
        forge.api("POST", f"{repo_path}/pulls/{pr['number']}/merge", {"Do": "merge"})
        merge_sha = forge.api("GET", f"{repo_path}/pulls/{pr['number']}")["merge_commit_sha"]

        tokens: list[str] = []

        def token_for(base: str) -> str:
            tokens.append(base)
            return forge.token

        reverts = RevertActivities(tmp_path / "reverts", token_for=token_for)
        branch = f"autopilot/revert-{pr['number']}"
        revert_input = RevertMergeInput(
            repo=RepoRef(forge_url=forge.base_url, owner=owner, name=name),
            clone_url=forge.clone_url(owner, name),
            base_branch="main",
            merge_commit_sha=merge_sha,
            branch=branch,
            key=f"autopilot-cross:pair:{owner}:{name}:1:revert:lib",
        )
        result = await env.run(reverts.revert_merge, revert_input)
        assert tokens == [forge.base_url]

        revert_pr = forge.api(
            "POST", f"{repo_path}/pulls", {"head": branch, "base": "main", "title": "revert"}
        )
        assert revert_pr["head"]["sha"] == result.sha
        forge.api("POST", f"{repo_path}/pulls/{revert_pr['number']}/merge", {"Do": "merge"})

        clone = tmp_path / "after"
        run_git("clone", "-q", forge.clone_url(owner, name), str(clone), token=forge.token)
        tracked = run_git("ls-files", cwd=clone).split()
        assert sorted(tracked) == sorted(files)
        for rel, text in files.items():
            assert (clone / rel).read_text() == text
