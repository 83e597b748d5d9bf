"""Gold-patch play: a real fix commit carried out through the tools on a real checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.model_server.edits import numbered_lines, replace_call
from devstack.model_server.patches import PatchError, load_cases, load_gold_patches, parse_diff
from devstack.model_server.testing import running_model_server
from devstack.model_server.toolbox import Transcript, Workbench, converse, tool_definitions
from domain.agent import ToolName
from domain.plan import Plan
from domain.review import ReviewVerdict

CASE_TITLE = "clamp() returns the lower bound for values above the range"
FILE_TITLE = "total() ignores the start value"  # the same fix, from a --gold-patches file
SOURCES = ["calc/core.py", "calc/extra.py"]
TEST_COMMAND = f"{sys.executable} -m pytest -q -p no:cacheprovider tests"
FILLERS = "".join(f"\n\ndef unit_{i}(x):\n    return x\n" for i in range(40))
BASE = f'''"""Small helpers."""


def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return low
    return value
{FILLERS}

def total(values):
    return sum(values)
'''
LONG_TOTAL = "".join(f"    # step {i}: keep adding, one value at a time\n" for i in range(30))
FIX = BASE.replace("        return low\n    return value", "        return high\n    return value")
FIX = FIX.replace(
    "def total(values):\n    return sum(values)\n",
    f"def total(values, start=0):\n{LONG_TOTAL}    result = start\n"
    "    for value in values:\n        result += value\n    return result\n",
)
EXTRA = '"""More helpers."""\n\nHALF = 0.5\n'
TESTS = (
    "from calc.core import clamp\n\n\ndef test_clamp_inside():\n    assert clamp(2, 1, 3) == 2\n"
)


def git(cwd: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True).stdout


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    repo = tmp_path_factory.mktemp("upstream")
    git(repo, "init", "-q", "-b", "main")
    base = commit(
        repo, {"calc/__init__.py": "", "calc/core.py": BASE, "tests/test_core.py": TESTS}, "base"
    )
    tests = TESTS + "\n\ndef test_clamp_above():\n    assert clamp(5, 1, 3) == 3\n"
    fix = commit(
        repo, {"calc/core.py": FIX, "calc/extra.py": EXTRA, "tests/test_core.py": tests}, "fix"
    )
    return repo, base, fix


@pytest.fixture(scope="module")
def model_url(
    upstream: tuple[Path, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    repo, base, fix = upstream
    data = tmp_path_factory.mktemp("gold")
    case = {
        "repo": "example/calc",
        "base_commit": base,
        "fix_commit": fix,
        "title": CASE_TITLE,
        "issue_body": "clamp(5, 1, 3) gives 1.",
        "source_files_changed": SOURCES,
        "test_files_changed": ["tests/test_core.py"],
        "test_command": "pytest tests/test_core.py",
    }
    (data / "cases").mkdir()
    (data / "cases" / "clamp.json").write_text(json.dumps(case))
    diff = git(repo, "diff", base, fix, "--", *SOURCES)
    (data / "gold.yaml").write_text(json.dumps({FILE_TITLE: diff}))
    with running_model_server(
        gold_patches=data / "gold.yaml", cases=data / "cases", repo=repo
    ) as url:
        yield url


def checkout(upstream: tuple[Path, str, str], where: Path, at: str = "base") -> Path:
    repo, base, fix = upstream
    git(where.parent, "clone", "-q", str(repo), str(where))
    git(where, "checkout", "-q", base if at == "base" else fix)
    return where


def brief(title: str, purpose: str = "task") -> str:
    return (
        f"Stage: implement\nPurpose: {purpose}\nTask: fix-issue\n\n## Issue #7: {title}\n"
        f"clamp(5, 1, 3) gives 1.\n\nTest command: `{TEST_COMMAND}`"
    )


def calls(transcript: Transcript, name: str) -> list[dict[str, Any]]:
    return [a for t in transcript.turns for n, a in t.calls if n == name and isinstance(a, dict)]


def assert_fixed(work: Path, transcript: Transcript, limit: int) -> None:
    assert (work / "calc/core.py").read_text() == FIX
    assert (work / "calc/extra.py").read_text() == EXTRA
    assert (work / "tests/test_core.py").read_text() == TESTS  # hidden tests stay hidden
    for turn in transcript.turns:
        assert turn.stop in ("tool_calls", "tool_use"), turn
        assert (
            max(turn.usage.get("completion_tokens", 0), turn.usage.get("output_tokens", 0)) <= limit
        )
        assert not any(is_error for _, is_error in turn.results), turn.results
    assert transcript.finished is not None and transcript.finished.startswith("Fixed: ")
    assert calls(transcript, "run") == [{"command": TEST_COMMAND}]
    assert "1 passed" in transcript.turns[-2].results[0][0]


def test_a_case_is_played_through_the_tools(model_url: str, upstream: Any, tmp_path: Path) -> None:
    work = checkout(upstream, tmp_path / "work")

    transcript = converse(model_url, brief(CASE_TITLE), Workbench(work), max_tokens=4096)

    assert_fixed(work, transcript, 4096)
    names = [[n for n, _ in t.calls] for t in transcript.turns]
    assert names == [["view"], ["str_replace", "str_replace", "create"], ["run"], ["finish"]]
    first = calls(transcript, "str_replace")[0]
    # "        return low" occurs twice: the old_str is widened until it is unique.
    assert BASE.count(first["old_str"]) == 1 and "if value > high:" in first["old_str"]


def test_a_small_limit_splits_hunks_into_answers_that_fit(
    model_url: str, upstream: Any, tmp_path: Path
) -> None:
    work = checkout(upstream, tmp_path / "work")

    transcript = converse(
        model_url,
        brief(FILE_TITLE),
        Workbench(work),
        wire="anthropic",
        max_tokens=120,
        max_turns=60,
    )

    assert_fixed(work, transcript, 120)
    assert len(calls(transcript, "str_replace")) > 4  # two hunks and the tail of a new file


def test_a_capped_view_is_completed_with_a_view_range(
    model_url: str, upstream: Any, tmp_path: Path
) -> None:
    class Capped(Workbench):
        """Shows at most 600 characters of a file, cut mid-line, like a tool's output cap."""

        def _view(self, path: str, view_range: list[int] | None = None) -> str:
            return super()._view(path, view_range)[:600] + "\n[cut at 600 characters]"

    work = checkout(upstream, tmp_path / "work")
    transcript = converse(model_url, brief(CASE_TITLE), Capped(work))

    assert_fixed(work, transcript, 4096)
    ranged = [v for v in calls(transcript, "view") if "view_range" in v]
    assert ranged and ranged[0]["path"] == "calc/core.py"


def test_a_failed_edit_ends_with_a_summary_saying_so(
    model_url: str, upstream: Any, tmp_path: Path
) -> None:
    class Refusing(Workbench):
        def _str_replace(self, path: str, old_str: str, new_str: str = "") -> str:
            raise ValueError("the file is locked")

    work = checkout(upstream, tmp_path / "work")
    transcript = converse(model_url, brief(CASE_TITLE), Refusing(work))

    assert transcript.finished is not None
    assert transcript.finished.startswith("Stopped without finishing the fix: str_replace")
    assert "the file is locked" in transcript.finished
    assert len(transcript.turns) == 3  # view, the edits, finish: no retrying in circles


def test_without_run_and_finish_tools_the_summary_is_the_last_words(
    model_url: str, upstream: Any, tmp_path: Path
) -> None:
    work = checkout(upstream, tmp_path / "work")
    tools: tuple[ToolName, ...] = ("view", "str_replace", "create")

    transcript = converse(model_url, brief(CASE_TITLE), Workbench(work), tools=tools)

    assert [t.stop for t in transcript.turns] == ["tool_calls", "tool_calls", "stop"]
    assert transcript.turns[-1].text.startswith("Fixed: ")
    assert "Ran" not in transcript.turns[-1].text
    assert (work / "calc/core.py").read_text() == FIX


def test_an_applied_fix_is_not_applied_again(model_url: str, upstream: Any, tmp_path: Path) -> None:
    work = checkout(upstream, tmp_path / "work", at="fix")

    transcript = converse(model_url, brief(CASE_TITLE, purpose="fix"), Workbench(work))

    names = [[n for n, _ in t.calls] for t in transcript.turns]
    assert names == [["view"], ["create"], ["run"], ["finish"]]  # a new file is written again
    assert transcript.finished is not None
    assert "Already in place: calc/core.py. Created calc/extra.py." in transcript.finished
    assert (work / "calc/core.py").read_text() == FIX


def test_plan_review_and_plan_purpose_answers(model_url: str) -> None:
    prompt = f"Stage: plan\n\n## Issue #7: {CASE_TITLE}\nclamp(5, 1, 3) gives 1."

    def structured(schema: str) -> Any:
        body = {
            "model": "m",
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": prompt}],
            "response_format": {"type": "json_schema", "json_schema": {"name": schema}},
        }
        response = httpx.post(f"{model_url}/chat/completions", json=body)
        return json.loads(response.json()["choices"][0]["message"]["content"])

    plan = Plan.model_validate(structured("plan"))
    assert len(plan.tasks) == 1 and plan.tasks[0].files == SOURCES
    assert ReviewVerdict.model_validate(structured("review_verdict")).verdict == "approve"
    assert (
        httpx.post(
            f"{model_url}/chat/completions",
            json={
                "messages": [{"role": "user", "content": prompt}],
                "response_format": {"type": "json_schema", "json_schema": {"name": "edit_set"}},
            },
        ).status_code
        == 400
    )


@pytest.mark.parametrize("takes_plan", [False, True])
def test_the_planner_looks_then_finishes_with_findings(
    model_url: str, upstream: Any, tmp_path: Path, takes_plan: bool
) -> None:
    class Planner(Workbench):
        def _finish(self, summary: str = "", plan: Any = None, **_: Any) -> str:
            self.plan = plan
            return "Finished."

    tools = tool_definitions("openai", ("view", "search", "finish"))
    if takes_plan:
        tools[-1]["function"]["parameters"]["properties"]["plan"] = {"type": "object"}
    work = checkout(upstream, tmp_path / "work")
    bench = Planner(work)

    transcript = converse(model_url, brief(CASE_TITLE, purpose="plan"), bench, tools=tools)

    assert [[n for n, _ in t.calls] for t in transcript.turns] == [["view"], ["finish"]]
    assert transcript.finished is not None
    assert transcript.finished.startswith("Relevant files: calc/core.py, calc/extra.py.")
    if takes_plan:
        assert Plan.model_validate(bench.plan).tasks[0].files == SOURCES
    assert git(work, "status", "--short") == ""


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (
            "     7\tdef f():\n     8\t    return 1\n     9\t",
            {7: "def f():", 8: "    return 1", 9: ""},
        ),
        ("a.py (3 lines)\n1: x = 1\n2:\n3:     y = 2\n", {1: "x = 1", 2: "", 3: "    y = 2"}),
        ("  10 | a\n  11 |\n  12 |  b", {10: "a", 11: "", 12: " b"}),
        ("plain\ntext\n", {1: "plain", 2: "text"}),
    ],
)
def test_view_results_are_read_with_their_line_numbers(view: str, expected: dict[int, str]) -> None:
    assert numbered_lines(view) == expected


def test_old_str_is_widened_until_unique_and_never_leaves_a_blank() -> None:
    lines: list[str | None] = ["a = 1", "x", "b = 2", "x", "c = 3"]

    replaced = replace_call(lines, 3, 4, ["y"], "f.py").arguments
    deleted = replace_call(lines, 1, 2, [], "f.py").arguments

    assert replaced == {"path": "f.py", "old_str": "b = 2\nx", "new_str": "b = 2\ny"}
    assert deleted == {"path": "f.py", "old_str": "a = 1\nx", "new_str": "a = 1"}


def test_diffs_of_new_deleted_and_unterminated_files_are_read() -> None:
    diff = (
        "diff --git a/n.py b/n.py\nnew file mode 100644\n--- /dev/null\n+++ b/n.py\n"
        "@@ -0,0 +1,2 @@\n+a\n+b\n\\ No newline at end of file\n"
        "diff --git a/d.py b/d.py\ndeleted file mode 100644\n--- a/d.py\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-x\n"
        "--- m.py\n+++ m.py\n@@ -1,2 +1,2 @@\n keep\n-old\n+new\n"
    )

    new, deleted, modified = parse_diff(diff)
    assert (new.path, new.new, new.new_lines()) == ("n.py", True, ["a", "b"])
    assert (deleted.path, deleted.deleted) == ("d.py", True)
    assert modified.hunks[0].old_block == ["keep", "old"]
    assert modified.hunks[0].new_block == ["keep", "new"]


def test_cases_find_their_clone_and_skip_other_projects(
    tmp_path: Path, upstream: tuple[Path, str, str]
) -> None:
    repo, base, fix = upstream
    clones = tmp_path / "clones"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(clones / "example+calc"))
    cases = tmp_path / "cases"
    cases.mkdir()
    case = {"title": CASE_TITLE, "base_commit": base, "fix_commit": fix}
    for name, project in (("calc.json", "example/calc"), ("other.json", "other/lib")):
        text = json.dumps({**case, "repo": project, "source_files_changed": SOURCES})
        (cases / name).write_text(text)

    patches, skipped = load_cases(cases, clones)

    assert [p.title for p in patches] == [CASE_TITLE]
    assert [f.path for f in patches[0].files] == SOURCES
    assert len(skipped) == 1 and skipped[0].startswith("other.json: commits")


def test_unusable_gold_inputs_are_explained(tmp_path: Path, upstream: Any) -> None:
    (tmp_path / "list.yaml").write_text("- a\n")
    (tmp_path / "empty.yaml").write_text("title: ''\n")
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "bad.json").write_text('{"title": "t"}')

    with pytest.raises(PatchError, match="expected a mapping of issue title to diff"):
        load_gold_patches(tmp_path / "list.yaml")
    with pytest.raises(PatchError, match="a diff without file changes"):
        load_gold_patches(tmp_path / "empty.yaml")
    with pytest.raises(PatchError, match="not a case file"):
        load_cases(tmp_path / "cases", upstream[0])
    nothing = tmp_path / "nothing"
    with (
        pytest.raises(RuntimeError, match=r"no \*\.json case files"),
        running_model_server(cases=nothing, repo=upstream[0]),
    ):
        pass
