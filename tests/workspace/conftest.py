"""Fixtures: a bare "origin" repository on local disk and activities that check it out."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from domain.issue import RepoRef
from domain.workspace import WorkspaceRef

MAX_EDIT_BYTES = 1_000


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    """Plain git for test setup and checks, isolated from the machine's git config."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Tester",
        "GIT_AUTHOR_EMAIL": "tester@localhost",
        "GIT_COMMITTER_NAME": "Tester",
        "GIT_COMMITTER_EMAIL": "tester@localhost",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, input=input, capture_output=True, check=True
    )
    return done.stdout.decode()


@dataclass
class Origin:
    bare: Path
    outside: Path  # a directory outside every checkout, that hostile symlinks point to

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def rev(self, ref: str) -> str:
        return git(self.bare, "rev-parse", "--verify", "-q", ref).strip()

    def has_branch(self, branch: str) -> bool:
        return bool(git(self.bare, "branch", "--list", branch).strip())

    def show(self, ref: str, path: str) -> str:
        return git(self.bare, "show", f"{ref}:{path}")


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside secret\n")
    seed = tmp_path / "seed"
    (seed / "src").mkdir(parents=True)
    (seed / "README.md").write_text("# demo\n")
    (seed / "src" / "app.py").write_text("def add(a, b):\n    return a + b\n")
    (seed / "data.bin").write_bytes(b"\x00\x01\x02binary")
    (seed / "big.txt").write_text("x" * 5_000)
    (seed / "link_out").symlink_to(outside / "secret.txt")
    (seed / "dir_out").symlink_to(outside)
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "seed")
    git(seed, "push", "-q", str(bare), "main")
    return Origin(bare=bare, outside=outside)


@pytest.fixture
def ws(origin: Origin) -> WorkspaceRef:
    return WorkspaceRef(
        repo=RepoRef(forge_url="http://forge.invalid", owner="acme", name="demo"),
        clone_url=origin.url,
        base_branch="main",
        branch="autopilot/issue-7",
        key="autopilot:forge.invalid:acme:demo:7",
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "checkouts"


@pytest.fixture
def acts(root: Path) -> WorkspaceActivities:
    return WorkspaceActivities(root, token_for=lambda _base: None, max_edit_bytes=MAX_EDIT_BYTES)


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


@pytest.fixture(scope="session")
def environments_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment cache for the whole session: identical dependency files build once."""
    return tmp_path_factory.mktemp("environments")


def make_origin(tmp_path: Path, files: dict[str, str], tag: str | None = None) -> Origin:
    """A bare origin whose main branch holds ``files`` (and ``tag`` on its commit)."""
    seed = tmp_path / "seed-src"
    for rel, text in files.items():
        (seed / rel).parent.mkdir(parents=True, exist_ok=True)
        (seed / rel).write_text(text)
    bare = tmp_path / "origin-src.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "seed")
    if tag:
        git(seed, "tag", tag)
    git(seed, "push", "-q", "--tags", str(bare), "main")
    outside = tmp_path / "outside-src"
    outside.mkdir()
    return Origin(bare=bare, outside=outside)
