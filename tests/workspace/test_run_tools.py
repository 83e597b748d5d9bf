"""run_tools against a local bare origin: reading, editing, one commit per turn, retries."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from activities.workspace.paths import checkout_dir_name
from domain.agent import READ_ONLY_TOOLS
from domain.model import RAW_ARGUMENTS_KEY
from domain.workspace import WorkspaceRef
from tests.workspace.conftest import MAX_EDIT_BYTES, Origin, git
from tests.workspace.tooling import call, commits_on, one, turn

APP = "def add(a, b):\n    return a + b\n"


async def test_view_shows_numbered_lines_ranges_and_listings(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    out = await turn(
        env,
        acts,
        ws,
        call("view", path="src/app.py"),
        call("view", path="src/app.py", view_range=[2, -1]),
        call("view", path="."),
        call("view", path="/autopilot/src/src"),  # as the run tool shows paths
        call("finish", summary="looked"),
    )
    file, tail, root, src, finish = (r.output for r in out.results)
    assert file == "     1\tdef add(a, b):\n     2\t    return a + b\n"
    assert tail == "     2\t    return a + b\n"
    assert "src/\n  app.py\n" in root and "README.md\n" in root and "link_out@" in root
    assert ".git" not in root
    assert src.endswith("app.py\n")
    assert finish == "ok" and not any(r.is_error for r in out.results)
    assert out.commit is None


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"path": "src/app.py", "view_range": [5, 9]}, "only 2 lines"),
        ({"path": "src/app.py", "view_range": [0, 1]}, "numbered from 1"),
        ({"path": "src/app.py", "view_range": [2, 1]}, "end must be >= start"),
        ({"path": "src/app.py", "view_range": "1-2"}, "view_range must be [start, end]"),
        ({"path": "src", "view_range": [1, 2]}, "is a directory"),
        ({"path": "src/ap.py"}, "did you mean src/app.py?"),
        ({"path": "data.bin"}, "binary file"),
        ({"path": "link_out"}, "symlink"),
        ({"path": "../outside/secret.txt"}, "'..' is not allowed"),
        ({"path": ".git/config"}, ".git"),
        ({"file": "src/app.py"}, "missing path; unknown file"),
    ],
)
async def test_view_mistakes_are_answered(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    arguments: dict[str, object],
    expected: str,
) -> None:
    output, is_error = await one(env, acts, ws, call("view", **arguments))
    assert is_error and expected in output
    assert "outside secret" not in output


async def test_edits_of_a_turn_become_one_pushed_commit_with_the_trailer(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    out = await turn(
        env,
        acts,
        ws,
        call("str_replace", path="src/app.py", old_str="a + b", new_str="a + b + 0"),
        call("insert", path="src/app.py", insert_line=0, new_str='"""Adding."""'),
        call("create", path="docs/notes/new.md", content="# notes\n"),
        call("view", path="src/app.py"),
    )
    replaced, inserted, created, viewed = out.results
    assert not any(r.is_error for r in out.results)
    assert "edited src/app.py: replaced lines 2-2 with 1 line" in replaced.output
    assert "     2\t    return a + b + 0" in replaced.output
    assert inserted.output.startswith("inserted 1 line after line 0 of src/app.py")
    assert created.output == "created docs/notes/new.md (1 lines)"
    assert viewed.output.startswith('     1\t"""Adding."""\n     2\tdef add')
    assert out.commit is not None and out.commit.changed
    assert sorted(out.commit.files) == ["docs/notes/new.md", "src/app.py"]
    assert origin.rev(ws.branch) == out.commit.sha and commits_on(origin, ws) == 1
    assert origin.show(ws.branch, "src/app.py") == '"""Adding."""\n' + APP.replace(
        "a + b", "a + b + 0"
    )
    message = git(origin.bare, "log", "-1", "--format=%B", ws.branch)
    assert message.rstrip().endswith("\n\nAutopilot-Change: turn-1")


async def test_a_retried_turn_applies_its_edits_once(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    calls = [
        call("str_replace", path="src/app.py", old_str="a + b", new_str="a - b"),
        call("create", path="README.md", content="# demo\n\nMore.\n"),
        call("view", path="src/app.py", view_range=[2, 2]),
    ]
    first = await turn(env, acts, ws, *calls, change_id="turn-7")
    again = await turn(env, acts, ws, *calls, change_id="turn-7")
    assert again.commit == first.commit and commits_on(origin, ws) == 1
    edit, create, view = again.results
    assert edit.output.startswith("already applied") and not edit.is_error
    assert create.output.startswith("already applied") and not create.is_error
    assert view.output == "     2\t    return a - b\n"  # read-only calls are carried out again
    assert origin.show(ws.branch, "src/app.py") == APP.replace("a + b", "a - b")


async def test_a_retry_pushes_the_commit_an_earlier_attempt_could_not(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    origin: Origin,
    root: Path,
) -> None:
    edit = call("str_replace", path="src/app.py", old_str="a + b", new_str="b + a")
    first = await turn(env, acts, ws, edit, change_id="turn-2")
    assert first.commit is not None
    git(origin.bare, "update-ref", "-d", f"refs/heads/{ws.branch}")  # as if the push was lost
    missed = call("str_replace", path="README.md", old_str="# demo", new_str="# Demo")
    again = await turn(env, acts, ws, edit, missed, change_id="turn-2")
    assert again.commit == first.commit and origin.rev(ws.branch) == first.commit.sha
    assert again.results[0].output.startswith("already applied")
    assert again.results[1].is_error and "not applied" in again.results[1].output
    checkout = root / checkout_dir_name(ws.key)
    assert git(checkout, "status", "--porcelain") == ""


async def test_str_replace_misses_show_the_nearest_lines(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    source = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
    out = await turn(
        env,
        acts,
        ws,
        call("create", path="src/ops.py", content=source),
        call("str_replace", path="src/ops.py", old_str="    return a * b", new_str="x"),
        call("str_replace", path="src/ops.py", old_str="(a, b):", new_str="(a, b, c):"),
        call("str_replace", path="src/ops.py", old_str="def sub(a, b):\nreturn a - b", new_str=""),
        call("str_replace", path="src/ops.py", old_str="zzzz qqqq", new_str="x"),
        call("str_replace", path="src/ops.py", old_str="", new_str="x"),
        call("str_replace", path="src/ops.py", old_str="a", new_str="a"),
        call("str_replace", path="src/nope.py", old_str="a", new_str="b"),
    )
    missing, several, loose, unlike, empty, same, absent = (r.output for r in out.results[1:])
    assert all(r.is_error for r in out.results[1:])
    assert missing.startswith("old_str was not found in src/ops.py")
    assert "     2\t    return a + b" in missing and "     6\t    return a - b" in missing
    assert "occurs 2 times in src/ops.py, at lines 1, 5" in several
    assert "     5\tdef sub(a, b):" in several
    assert "matches lines 5-6 if whitespace at the ends of lines is ignored" in loose
    assert "No line of src/ops.py resembles" in unlike
    assert "old_str is empty" in empty and "the same" in same
    assert "src/nope.py does not exist" in absent and "use create" in absent
    assert origin.show(ws.branch, "src/ops.py") == source


async def test_insert_at_the_top_the_end_and_past_it(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    out = await turn(
        env,
        acts,
        ws,
        call("create", path="notes.txt", content="one\ntwo"),  # no final newline
        call("insert", path="notes.txt", insert_line=2, new_str="three"),
        call("insert", path="notes.txt", insert_line=0, new_str="zero\n"),
        call("insert", path="notes.txt", insert_line=1, new_str="half\n"),
        call("insert", path="notes.txt", insert_line=9, new_str="x"),
        call("insert", path="notes.txt", insert_line="two", new_str="x"),
    )
    assert [r.is_error for r in out.results] == [False, False, False, False, True, True]
    assert "past the end: notes.txt has 5 lines (insert_line 5 appends" in out.results[4].output
    assert "insert_line must be an integer" in out.results[5].output
    assert origin.show(ws.branch, "notes.txt") == "zero\nhalf\none\ntwo\nthree\n"


async def test_crlf_files_keep_their_line_endings(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    await turn(env, acts, ws, call("create", path="win.txt", content="a\r\nb\r\n"), change_id="1")
    out = await turn(
        env,
        acts,
        ws,
        call("str_replace", path="win.txt", old_str="a\nb", new_str="a\nB"),
        call("insert", path="win.txt", insert_line=2, new_str="c\nd"),
        change_id="2",
    )
    assert not any(r.is_error for r in out.results)
    assert origin.show(ws.branch, "win.txt") == "a\r\nB\r\nc\r\nd\r\n"


async def test_a_python_edit_that_breaks_the_syntax_is_flagged(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    output, is_error = await one(
        env, acts, ws, call("str_replace", path="src/app.py", old_str="a + b", new_str="a +")
    )
    assert not is_error and "warning: src/app.py does not parse as Python now: line 2" in output


HOSTILE_CREATES = [
    ("/etc/passwd", "absolute paths are not allowed; paths are relative"),
    ("../escape.txt", "'..' is not allowed"),
    (".git/hooks/pre-commit", "inside .git"),
    ("sub/.GIT/config", "inside .git"),
    ("link_out", "symlink"),
    ("dir_out/planted.txt", "symlink"),
    (".gitmodules", ".gitmodules"),
    ("~/.ssh/authorized_keys", "'~' is not expanded"),
    ("src/~/x.py", "'~' is not expanded"),
    ("src", "is a directory"),
]


@pytest.mark.parametrize(("path", "reason"), HOSTILE_CREATES, ids=[p for p, _ in HOSTILE_CREATES])
async def test_refused_edits_are_errors_and_write_nothing(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    origin: Origin,
    root: Path,
    path: str,
    reason: str,
) -> None:
    out = await turn(
        env,
        acts,
        ws,
        call("create", path=path, content="planted\n"),
        call("str_replace", path=path, old_str="outside secret", new_str="planted"),
        call("insert", path=path, insert_line=0, new_str="planted"),
    )
    assert all(r.is_error for r in out.results)
    assert reason in out.results[0].output
    assert out.commit is None and commits_on(origin, ws) == 0
    assert (origin.outside / "secret.txt").read_text() == "outside secret\n"
    assert sorted(p.name for p in origin.outside.iterdir()) == ["secret.txt"]
    checkout = root / checkout_dir_name(ws.key)
    assert git(checkout, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("create", {"path": "x.bin", "content": "a\x00b"}, "NUL byte"),
        ("create", {"path": "x.txt", "content": "y" * (MAX_EDIT_BYTES + 1)}, "larger than"),
        ("str_replace", {"path": "src/app.py", "old_str": "a", "new_str": "y" * 2_000}, "larger"),
        ("str_replace", {"path": "data.bin", "old_str": "binary", "new_str": "x"}, "binary file"),
        ("insert", {"path": "data.bin", "insert_line": 0, "new_str": "x"}, "binary file"),
        ("create", {"path": "x.txt", "content": 12}, "content must be a string, not int"),
        ("create", {"path": "x.txt"}, "create: missing content; it takes: path, content"),
        ("create", {RAW_ARGUMENTS_KEY: "{path: x"}, "were not a JSON object"),
        ("delete", {"path": "src/app.py"}, "there is no tool 'delete'"),
    ],
)
async def test_bad_content_and_bad_calls_are_errors(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    origin: Origin,
    tool: str,
    arguments: dict[str, object],
    expected: str,
) -> None:
    output, is_error = await one(env, acts, ws, call(tool, **arguments))
    assert is_error and expected in output
    assert commits_on(origin, ws) == 0


async def test_tools_outside_the_allowed_set_are_refused(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    out = await turn(
        env,
        acts,
        ws,
        call("create", path="x.txt", content="x\n"),
        call("run", command="true"),
        call("search", pattern="add"),
        allowed=READ_ONLY_TOOLS,
    )
    create, run, search = out.results
    assert create.is_error and create.output.startswith("tool create is not available here")
    assert "view, search, finish" in create.output
    assert run.is_error and not search.is_error
    assert out.commit is None and commits_on(origin, ws) == 0


async def test_edits_to_ignored_paths_are_refused(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    await turn(env, acts, ws, call("create", path=".gitignore", content="*.log\n"), change_id="a")
    output, is_error = await one(
        env, acts, ws, call("create", path="debug.log", content="x\n"), change_id="b"
    )
    assert is_error and "ignored by .gitignore" in output
    assert commits_on(origin, ws) == 1


async def test_edits_that_change_nothing_make_no_commit(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    out = await turn(env, acts, ws, call("create", path="README.md", content="# demo\n"))
    assert out.results[0].output == "overwrote README.md (1 lines)"
    assert out.commit is None and commits_on(origin, ws) == 0
