"""repo_map: the file list and Python outlines, most relevant first, trimmed to a budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from activities.workspace.repo_map import rank
from domain.agent import FileSizesInput, RepoMapInput
from domain.workspace import WorkspaceRef
from tests.workspace.conftest import git, make_origin

CORE = '''"""Core engine: runs jobs.

More text that the map leaves out.
"""

import asyncio


class Base:
    pass


class Engine(Base, metaclass=type):
    """An engine."""

    def run(self, job: str, *, retries: int = 3) -> bool:
        return True

    async def stop(self) -> None:
        def inner() -> None:
            pass

    class Config:
        def load(self): ...


async def main(argv: list[str] | None = None) -> int:
    return 0


VALUE = 1
'''

FILES = {
    "README.md": "# demo\n",
    "pyproject.toml": "[project]\nname = 'demo'\n",
    "src/demo/__init__.py": "",
    "src/demo/core.py": CORE,
    "src/demo/broken.py": "def broken(:\n",
    "tools/gen.py": "def gen(): ...\n",
    "tests/test_core.py": "def test_run():\n    assert True\n",
    "docs/index.md": "# docs\n",
    "web/app.js": "export const x = 1;\n",
    "vendor/lib/thing.py": "def vendored(): ...\n",
}


@pytest.fixture
def map_ws(tmp_path: Path, ws: WorkspaceRef) -> WorkspaceRef:
    origin = make_origin(tmp_path, FILES)
    return ws.model_copy(update={"clone_url": origin.url, "key": "map-workspace"})


async def test_the_map_lists_files_and_outlines_definitions(
    env: ActivityEnvironment, acts: WorkspaceActivities, map_ws: WorkspaceRef
) -> None:
    repo_map = await env.run(acts.repo_map, RepoMapInput(workspace=map_ws))
    assert repo_map.files == len(FILES) and not repo_map.truncated
    text = repo_map.text
    assert text.startswith(f"{len(FILES)} tracked files, most relevant first.")
    outline = text.split("src/demo/core.py\n", 1)[1].split("\nweb/", 1)[0]
    assert outline.splitlines() == [
        '  "Core engine: runs jobs."',
        "  9: class Base",
        "  13: class Engine(Base, metaclass=type)",
        "    16: def run(self, job: str, *, retries: int=3) -> bool",
        "    19: async def stop(self) -> None",
        "    23: class Config",
        "      24: def load(self)",
        "  27: async def main(argv: list[str] | None=None) -> int",
    ]
    assert "src/demo/broken.py\n  (does not parse: line 1:" in text
    assert "web/app.js\n" in text and "tools/gen.py\n  1: def gen()" in text
    order = [text.index(p + "\n") for p in ("README.md", "src/demo/core.py", "web/app.js")]
    assert order == sorted(order)
    assert text.index("tools/gen.py") < text.index("vendor/lib/thing.py")


async def test_a_small_budget_keeps_the_most_relevant_and_says_what_was_left_out(
    env: ActivityEnvironment, acts: WorkspaceActivities, tmp_path: Path, ws: WorkspaceRef
) -> None:
    files = dict(FILES)
    files |= {f"tests/unit/test_{i:03}.py": f"def test_{i}(): ...\n" for i in range(300)}
    files |= {f"src/demo/mod_{i:02}.py": f"def f_{i}(x: int) -> int: ...\n" for i in range(40)}
    origin = make_origin(tmp_path, files)
    small = ws.model_copy(update={"clone_url": origin.url, "key": "map-small"})
    repo_map = await env.run(acts.repo_map, RepoMapInput(workspace=small, max_tokens=400))
    assert repo_map.truncated and repo_map.files == len(files)
    text = repo_map.text
    assert len(text) <= 400 * 4 + 50
    assert "src/demo/core.py\n" in text and "class Engine" in text
    assert "tests/unit/test_000.py" not in text
    note = text.strip().splitlines()[-1]
    assert note.startswith("[map trimmed to about 400 tokens; left out:")
    assert "tests/ (30" in note and "Use view on a directory and search" in note


async def test_outlines_never_read_through_symlinks(
    env: ActivityEnvironment, acts: WorkspaceActivities, tmp_path: Path, ws: WorkspaceRef
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("def leaked_secret(): ...\n")
    origin = make_origin(tmp_path, {"src/ok.py": "def fine(): ...\n"})
    seed = tmp_path / "seed-src"
    (seed / "src" / "evil.py").symlink_to(outside)
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "link")
    git(seed, "push", "-q", str(origin.bare), "main")
    linked = ws.model_copy(update={"clone_url": origin.url, "key": "map-links"})
    repo_map = await env.run(acts.repo_map, RepoMapInput(workspace=linked))
    assert "src/evil.py\n" in repo_map.text and "fine()" in repo_map.text
    assert "leaked_secret" not in repo_map.text


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("README.md", "src/demo/core.py"),
        ("src/demo/core.py", "web/app.js"),
        ("lib/pkg/a.py", "web/app.js"),  # a package (has __init__.py) before other code
        ("web/app.js", "web/deep/er/x.js"),
        ("web/deep/er/x.js", "tests/test_a.py"),
        ("pkg/test_core.py", "vendor/x.py"),
    ],
)
def test_relevance_order(first: str, second: str) -> None:
    packages = {"lib/pkg"}
    assert rank(first, packages) < rank(second, packages)


async def test_file_sizes_of_the_plans_files_on_the_branch(
    env: ActivityEnvironment, acts: WorkspaceActivities, map_ws: WorkspaceRef
) -> None:
    paths = ["src/demo/core.py", "README.md", "src/demo/new.py", "../etc/passwd", ".git/config"]
    found = await env.run(acts.file_sizes, FileSizesInput(workspace=map_ws, paths=paths))
    assert found.sizes == {"src/demo/core.py": len(CORE.encode()), "README.md": len("# demo\n")}
