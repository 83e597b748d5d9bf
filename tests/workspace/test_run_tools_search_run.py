"""run_tools' search (git grep, paged) and run (the real sandbox, timeouts, the turn's budget),
and a file over 1 MB viewed by range and edited."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from activities.workspace.tools.text import OUTPUT_CHARS
from domain.workspace import WorkspaceRef
from tests.workspace.conftest import Origin, make_origin
from tests.workspace.tooling import call, commits_on, one, turn

BIG_LINES = 40_000
ADD_2_5 = "import sys; sys.path[:0] = ['src']; import app; print(app.add(2, 5))"


def _line(i: int) -> str:
    return f"VALUE_{i} = {i}  # padding to make the file large enough\n"


@pytest.fixture
def grep_origin(tmp_path: Path) -> Origin:
    return make_origin(
        tmp_path,
        {
            ".gitignore": "*.log\n",
            "docs/x.md": "a needle\n",
            "src/a.py": "".join(f"needle_{i} = {i}\n" for i in range(120)),
            "src/b.py": "x = 'needle'\n" * 5,
            "big/data.py": "".join(_line(i) for i in range(1, BIG_LINES + 1)),
        },
    )


@pytest.fixture
def gws(ws: WorkspaceRef, grep_origin: Origin) -> WorkspaceRef:
    return ws.model_copy(update={"clone_url": grep_origin.url, "key": "grep-workspace"})


async def test_search_pages_through_matches(
    env: ActivityEnvironment, acts: WorkspaceActivities, gws: WorkspaceRef
) -> None:
    out = await turn(
        env,
        acts,
        gws,
        call("search", pattern="needle", max_results=50),
        call("search", pattern="needle", max_results=50, offset=50),
        call("search", pattern="needle", offset=124),
        call("search", pattern="needle", path="src/b.py"),
        call("search", pattern=r"needle_1[0-9]{2} ="),
    )
    first, second, last, scoped, regex = (r.output for r in out.results)
    assert first.startswith("docs/x.md:1: a needle\nsrc/a.py:1: needle_0 = 0\n")
    assert first.endswith(
        "[matches 1-50 of 126 in 3 files; 76 more: search again with offset 50, "
        "or narrow it with path or a more specific pattern]"
    )
    assert second.startswith("src/a.py:50: needle_49 = 49\n") and "matches 51-100 of 126" in second
    assert (
        last
        == "src/b.py:4: x = 'needle'\nsrc/b.py:5: x = 'needle'\n[matches 125-126 of 126 in 3 files]"
    )
    assert scoped.count("src/b.py:") == 5 and scoped.endswith("[matches 1-5 of 5 in 1 files]")
    assert regex.count("\n") == 20 and "src/a.py:101: needle_100 = 100" in regex


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"pattern": "("}, "search failed:"),
        ({"pattern": "no such thing"}, "no matches for 'no such thing'"),
        ({"pattern": r"[0-9]\d"}, "use [0-9]"),
        ({"pattern": "needle", "offset": 500}, "offset 500 is past the last match"),
        ({"pattern": "needle", "path": "src/c.py"}, "src/c.py does not exist; did you mean"),
        ({"pattern": "needle", "path": "../"}, "refused"),
        ({"pattern": "needle", "max_results": 0}, "max_results must be at least 1"),
        ({"pattern": ""}, "pattern is empty"),
    ],
)
async def test_search_mistakes_are_answered(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    gws: WorkspaceRef,
    arguments: dict[str, object],
    expected: str,
) -> None:
    output, is_error = await one(env, acts, gws, call("search", **arguments))
    assert expected in output
    assert is_error == ("no matches" not in expected and "[0-9]" not in expected)


async def test_search_sees_untracked_files_but_not_ignored_ones(
    env: ActivityEnvironment, acts: WorkspaceActivities, gws: WorkspaceRef, grep_origin: Origin
) -> None:
    out = await turn(
        env,
        acts,
        gws,
        call("run", command="echo haystack > trace.log; echo haystack > scratch.txt"),
        call("search", pattern="haystack"),
    )
    assert out.results[1].output == "scratch.txt:1: haystack\n[matches 1-1 of 1 in 1 files]"
    assert out.commit is None and commits_on(grep_origin, gws) == 0  # never committed


async def test_a_large_file_is_viewed_by_range_and_edited(
    env: ActivityEnvironment, acts: WorkspaceActivities, gws: WorkspaceRef, grep_origin: Origin
) -> None:
    started = time.monotonic()
    out = await turn(
        env,
        acts,
        gws,
        call("view", path="big/data.py"),
        call("view", path="big/data.py", view_range=[20_000, 20_001]),
        call("str_replace", path="big/data.py", old_str=_line(20_000), new_str="VALUE = -1\n"),
        call("str_replace", path="big/data.py", old_str=_line(20_000), new_str="x"),
        call("search", pattern="^VALUE = ", path="big"),
    )
    assert time.monotonic() - started < 30
    head, window, edit, miss, found = out.results
    assert len(head.output) <= OUTPUT_CHARS and head.output.startswith("     1\tVALUE_1 = 1")
    assert f"of {BIG_LINES} shown; view_range [" in head.output
    assert window.output == "".join(f"{i:6}\t{_line(i)}" for i in (20_000, 20_001))
    assert not edit.is_error and "replaced lines 20000-20000 with 1 line" in edit.output
    assert miss.is_error and miss.output.startswith("old_str was not found in big/data.py")
    assert miss.output.count("\tVALUE_") == 3  # the nearest lines, numbered
    assert found.output.startswith("big/data.py:20000: VALUE = -1")
    assert out.commit is not None and out.commit.files == ["big/data.py"]
    shown = grep_origin.show(gws.branch, "big/data.py")
    assert shown.count("\n") == BIG_LINES and "VALUE = -1\nVALUE_20001 = 20001" in shown


async def test_run_answers_exit_code_first_then_the_output(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    out = await turn(
        env,
        acts,
        ws,
        call("str_replace", path="src/app.py", old_str="a + b", new_str="a * b"),
        call("run", command="pwd; ls; echo oops >&2; exit 3"),
        call(
            "run",
            command=f"python3 -c {shlex.quote(ADD_2_5)}",
        ),
    )
    listing, result = out.results[1], out.results[2]
    assert not listing.is_error and listing.output.startswith("exit code 3 (")
    assert "/autopilot/src" in listing.output and "README.md" in listing.output
    assert "oops" in listing.output
    assert result.output.startswith("exit code 0") and result.output.endswith("\n10")


async def test_run_times_out_within_the_turns_budget(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    acts.heartbeat_interval = 0.2
    started = time.monotonic()
    out = await turn(
        env,
        acts,
        ws,
        call("run", command="sleep 30", timeout_seconds=1),
        call("run", command="sleep 30", timeout_seconds=60),
        call("run", command="true"),
        run_timeout_seconds=3,
    )
    assert time.monotonic() - started < 15
    short, capped, late = out.results
    assert short.output.startswith("timed out after 1s; every process it started was killed")
    assert capped.output.startswith("timed out after 1s") or capped.output.startswith(
        "timed out after 2s"
    )
    assert "(asked for 60s; this turn had" in capped.output
    assert late.is_error and "no time is left for commands in this turn" in late.output
    assert len(beats) >= 5


async def test_what_a_command_changes_is_not_committed(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    out = await turn(
        env,
        acts,
        ws,
        call("create", path="notes.md", content="kept\n"),
        call("run", command="echo lost >> README.md; echo lost >> notes.md"),
        call("view", path="README.md"),
    )
    assert "the command changed tracked files (README.md, notes.md)" in out.results[1].output
    assert "lost" in out.results[2].output  # the rest of the turn sees it
    assert out.commit is not None and out.commit.files == ["notes.md"]
    assert origin.show(ws.branch, "notes.md") == "kept\n"
    assert origin.show(ws.branch, "README.md") == "# demo\n"
    output, _ = await one(env, acts, ws, call("view", path="README.md"), change_id="next")
    assert output == "     1\t# demo\n"  # the next turn starts from the forge's branch


async def test_a_long_listing_is_cut_and_says_so(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    out = await turn(
        env,
        acts,
        ws,
        call(
            "run",
            command="mkdir many && cd many && seq -f 'a_long_file_name_%04g' 3000 | xargs touch",
        ),
        call("view", path="many"),
    )
    listing = out.results[1].output
    assert out.results[0].output.startswith("exit code 0")
    assert listing.startswith("many/ (2 levels;") and len(listing) <= OUTPUT_CHARS + 300
    assert listing.endswith("more entries not shown; view a subdirectory to see them]")
