"""read_files and diff_summary against a local bare "origin"."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from domain import names
from domain.change import EditSet, FileEdit
from domain.workspace import ApplyEditsInput, DiffSummaryInput, ReadFilesInput, WorkspaceRef
from tests.workspace.conftest import Origin, git


async def test_read_files_reports_text_missing_and_skipped(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    paths = ["README.md", "src/app.py", "nope.txt", "data.bin", "big.txt", "src"]
    got = await env.run(
        acts.read_files, ReadFilesInput(workspace=ws, paths=paths, max_bytes_per_file=1_000)
    )
    assert got.files["README.md"] == "# demo\n"
    assert got.files["src/app.py"].startswith("def add")
    assert got.missing == ["nope.txt"]
    assert "binary" in got.files["data.bin"]
    assert "5000 bytes" in got.files["big.txt"]
    assert "directory" in got.files["src"]


@pytest.mark.parametrize(
    "path", ["../origin.git/config", ".git/config", "link_out", "dir_out/secret.txt"]
)
async def test_read_files_refuses_unsafe_paths(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, path: str
) -> None:
    with pytest.raises(ApplicationError) as caught:
        await env.run(acts.read_files, ReadFilesInput(workspace=ws, paths=["README.md", path]))
    assert caught.value.type == names.ERR_UNSAFE_EDIT and path in str(caught.value)
    assert "outside secret" not in str(caught.value)


async def test_diff_summary_matches_git(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    edits = EditSet(
        summary="s",
        commit_message="Change things",
        edits=[
            FileEdit(path="src/app.py", content="def add(a, b):\n    return b + a\n\n\nX = 1\n"),
            FileEdit(path="README.md", action="delete"),
            FileEdit(path="notes/new.txt", content="one\ntwo\nthree\n"),
        ],
    )
    await env.run(acts.apply_edits, ApplyEditsInput(workspace=ws, edits=edits, change_id="d1"))
    summary = await env.run(acts.diff_summary, DiffSummaryInput(workspace=ws))

    base = origin.rev("main")
    numstat = git(origin.bare, "diff", "--numstat", base, ws.branch).splitlines()
    rows = [line.split("\t") for line in numstat]
    assert summary.base_sha == base and summary.head_sha == origin.rev(ws.branch)
    assert (
        sorted(summary.files)
        == sorted(r[2] for r in rows)
        == [
            "README.md",
            "notes/new.txt",
            "src/app.py",
        ]
    )
    assert summary.additions == sum(int(r[0]) for r in rows) == 7
    assert summary.deletions == sum(int(r[1]) for r in rows) == 2
    assert summary.diff == git(origin.bare, "diff", base, ws.branch) and not summary.truncated

    short = await env.run(acts.diff_summary, DiffSummaryInput(workspace=ws, max_diff_bytes=50))
    assert short.truncated and len(short.diff.encode()) <= 50
    assert summary.diff.startswith(short.diff)
