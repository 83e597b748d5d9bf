"""A local Gitea-compatible forge shared by this folder's integration tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from activities.forge.client import GiteaClient
from devstack.forge.testing import RunningForge, run_git, running_forge, seed_repo


@pytest.fixture(scope="session")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningForge]:
    with running_forge(tmp_path_factory.mktemp("forge")) as running:
        yield running


@pytest.fixture
def repo_name(forge: RunningForge) -> str:
    """A fresh repository (owned by the admin) per test, so tests never see each other."""
    name = f"app-{uuid.uuid4().hex[:8]}"
    seed_repo(forge, forge.admin, name, {"README.md": "hello\n", "src/app.py": "print(1)\n"})
    return name


@pytest.fixture
async def gitea(forge: RunningForge) -> AsyncIterator[GiteaClient]:
    async with GiteaClient(forge.base_url, forge.token) as client:
        yield client


def push_change(forge: RunningForge, name: str, branch: str, work: Path) -> None:
    """Commit one change on ``branch`` and push it, as a user with git would."""
    run_git("clone", "--quiet", forge.clone_url(forge.admin, name), str(work), token=forge.token)
    run_git("checkout", "--quiet", "-b", branch, cwd=work)
    (work / "CHANGE.md").write_text(f"change on {branch}\n")
    run_git("add", "--all", cwd=work)
    run_git("commit", "--quiet", "-m", f"Change on {branch}", cwd=work)
    run_git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work, token=forge.token)
