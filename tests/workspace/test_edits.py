"""prepare and apply_edits against a local bare "origin": safety, commits, pushes, idempotency."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from activities.workspace.paths import checkout_dir_name
from domain import names
from domain.change import CommitInfo, EditSet, FileEdit
from domain.workspace import ApplyEditsInput, PrepareWorkspaceInput, WorkspaceRef
from tests.workspace.conftest import MAX_EDIT_BYTES, Origin, git


def _edits(*edits: FileEdit, message: str = "Fix add") -> EditSet:
    return EditSet(summary="s", commit_message=message, edits=list(edits))


async def _apply(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, edits: EditSet, cid: str
) -> CommitInfo:
    return await env.run(
        acts.apply_edits, ApplyEditsInput(workspace=ws, edits=edits, change_id=cid)
    )


async def test_prepare_creates_branch_from_base(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    origin: Origin,
    root: Path,
) -> None:
    state = await env.run(acts.prepare, PrepareWorkspaceInput(workspace=ws))
    main = origin.rev("main")
    assert state.base_sha == main and state.head_sha == main
    assert set(state.files) == {
        "README.md",
        "src/app.py",
        "data.bin",
        "big.txt",
        "link_out",
        "dir_out",
    }
    checkout = root / checkout_dir_name(ws.key)
    assert git(checkout, "symbolic-ref", "--short", "HEAD").strip() == ws.branch
    again = await env.run(acts.prepare, PrepareWorkspaceInput(workspace=ws))
    assert again == state


HOSTILE = [
    FileEdit(path="/etc/passwd", content="x"),
    FileEdit(path="../x", content="x"),
    FileEdit(path="a/../../x", content="x"),
    FileEdit(path=".git/config", content="x"),
    FileEdit(path="sub/.GIT/hooks/x", content="x"),
    FileEdit(path="link_out", content="overwritten"),
    FileEdit(path="dir_out/new.txt", content="planted"),
    FileEdit(path="dir_out/secret.txt", action="delete"),
    FileEdit(path="big_edit.txt", content="y" * (MAX_EDIT_BYTES + 1)),
    FileEdit(path="nul\x00name", content="x"),
]


@pytest.mark.parametrize("bad", HOSTILE, ids=lambda e: repr(e.path)[:30])
async def test_hostile_edit_with_good_ones_writes_nothing(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    origin: Origin,
    root: Path,
    bad: FileEdit,
) -> None:
    good = [
        FileEdit(path="src/new.py", content="ok\n"),
        FileEdit(path="README.md", action="delete"),
    ]
    with pytest.raises(ApplicationError) as caught:
        await _apply(env, acts, ws, _edits(good[0], bad, good[1]), "c1")
    assert caught.value.type == names.ERR_UNSAFE_EDIT and caught.value.non_retryable
    assert repr(bad.path)[1:-1][:20] in str(caught.value)
    checkout = root / checkout_dir_name(ws.key)
    assert git(checkout, "status", "--porcelain") == ""
    assert (checkout / "README.md").exists() and not (checkout / "src" / "new.py").exists()
    assert (origin.outside / "secret.txt").read_text() == "outside secret\n"
    assert sorted(p.name for p in origin.outside.iterdir()) == ["secret.txt"]
    assert not origin.has_branch(ws.branch)


async def test_apply_commits_with_trailer_and_pushes_once(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    edits = _edits(
        FileEdit(path="src/app.py", content="def add(a, b):\n    return a + b + 0\n"),
        FileEdit(path="docs/new.md", content="new\n"),
        FileEdit(path="README.md", action="delete"),
        FileEdit(path="never/was.txt", action="delete"),
        message="Fix add\n\n#12 reported it\nAutopilot-Change: spoofed",
    )
    first = await _apply(env, acts, ws, edits, "change-1")
    assert first.changed
    assert sorted(first.files) == ["README.md", "docs/new.md", "src/app.py"]
    assert origin.rev(ws.branch) == first.sha
    message = git(origin.bare, "log", "-1", "--format=%B", ws.branch)
    assert message.startswith("Fix add\n\n#12 reported it\n")
    assert message.rstrip().endswith("\n\nAutopilot-Change: change-1")
    assert origin.show(ws.branch, "docs/new.md") == "new\n"

    second = await _apply(env, acts, ws, edits, "change-1")
    assert second == first
    spoofed = await _apply(env, acts, ws, edits, "spoofed")  # only the real trailer counts
    assert not spoofed.changed and spoofed.sha == first.sha
    assert git(origin.bare, "rev-list", "--count", f"main..{ws.branch}").strip() == "1"


async def test_blank_commit_message_still_carries_the_trailer(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    edits = _edits(FileEdit(path="a.txt", content="a\n"), message="  \n ")
    first = await _apply(env, acts, ws, edits, "blank")
    assert await _apply(env, acts, ws, edits, "blank") == first
    assert git(origin.bare, "rev-list", "--count", f"main..{ws.branch}").strip() == "1"


async def test_apply_that_changes_nothing_makes_no_commit(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    same = _edits(FileEdit(path="README.md", content="# demo\n"))
    result = await _apply(env, acts, ws, same, "noop")
    assert not result.changed and result.sha == origin.rev("main")
    assert not origin.has_branch(ws.branch)


async def test_a_commit_that_was_not_pushed_is_pushed_by_the_retry(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    edits = _edits(FileEdit(path="a.txt", content="a\n"))
    first = await _apply(env, acts, ws, edits, "c-push")
    # As if the push had failed: the forge lacks the branch, the local checkout has the commit.
    git(origin.bare, "update-ref", "-d", f"refs/heads/{ws.branch}")
    again = await _apply(env, acts, ws, edits, "c-push")
    assert again.sha == first.sha and again.changed
    assert origin.rev(ws.branch) == first.sha


async def test_later_changes_stack_and_a_lost_checkout_resumes_from_the_forge(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    origin: Origin,
    root: Path,
) -> None:
    one = await _apply(env, acts, ws, _edits(FileEdit(path="a.txt", content="1\n")), "c-1")
    two = await _apply(env, acts, ws, _edits(FileEdit(path="b.txt", content="2\n")), "c-2")
    assert git(origin.bare, "rev-parse", f"{two.sha}~1").strip() == one.sha

    shutil.rmtree(root / checkout_dir_name(ws.key))
    state = await env.run(acts.prepare, PrepareWorkspaceInput(workspace=ws))
    assert state.head_sha == two.sha == origin.rev(ws.branch)
    assert state.base_sha == origin.rev("main")
    assert {"a.txt", "b.txt"} <= set(state.files)
    # The first change is found on the rebuilt branch, so retrying it commits nothing new.
    retry = await _apply(env, acts, ws, _edits(FileEdit(path="a.txt", content="1\n")), "c-1")
    assert retry.sha == one.sha and origin.rev(ws.branch) == two.sha


async def test_a_broken_local_checkout_is_rebuilt(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    origin: Origin,
    root: Path,
) -> None:
    await env.run(acts.prepare, PrepareWorkspaceInput(workspace=ws))
    checkout = root / checkout_dir_name(ws.key)
    (checkout / ".git" / "HEAD").write_text("garbage\n")
    (checkout / "stray.txt").write_text("left by a crash\n")
    state = await env.run(acts.prepare, PrepareWorkspaceInput(workspace=ws))
    assert state.head_sha == origin.rev("main")
    assert not (checkout / "stray.txt").exists()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("clone_url", "ext::sh -c touch% pwned", names.ERR_INVALID_REQUEST),
        ("clone_url", "https://user:pw@forge.invalid/a/b.git", names.ERR_INVALID_REQUEST),
        ("branch", "--upload-pack=x", names.ERR_INVALID_REQUEST),
        ("branch", "bad..name", names.ERR_INVALID_REQUEST),
        ("branch", "main", names.ERR_INVALID_REQUEST),
        ("base_branch", "no-such-branch", names.ERR_NOT_FOUND),
    ],
)
async def test_bad_workspace_refs_are_refused(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    field: str,
    value: str,
    error: str,
) -> None:
    bad = ws.model_copy(update={field: value})
    with pytest.raises(ApplicationError) as caught:
        await env.run(acts.prepare, PrepareWorkspaceInput(workspace=bad))
    assert caught.value.type == error and caught.value.non_retryable


async def test_missing_origin_is_not_found(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, tmp_path: Path
) -> None:
    gone = ws.model_copy(update={"clone_url": (tmp_path / "nope.git").as_uri()})
    with pytest.raises(ApplicationError) as caught:
        await env.run(acts.prepare, PrepareWorkspaceInput(workspace=gone))
    assert caught.value.type == names.ERR_NOT_FOUND
