"""The real-repository case set: static checks of every case file, and the verifier's helpers.

The end-to-end check (clone, venv, three suite runs per case) runs one tomli case from the git
bundle vendored in benchmarks/real_repos/bundles (no mirror needed; pip needs the package
index), and is marked slow.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2] / "benchmarks" / "real_repos"
CASES = sorted((ROOT / "cases").glob("*.json"))
PROJECTS: dict[str, str] = json.loads((ROOT / "projects.json").read_text(encoding="utf-8"))
REFERENCE_KEYS = [
    "repo",
    "base_commit",
    "fix_commit",
    "title",
    "issue_body",
    "source_files_changed",
    "test_files_changed",
    "test_command",
    "fail_to_pass",
    "install",
    "setup_commands",
    "full_test_command",
    "notes",
]


def _verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rr_verify_cases", ROOT / "verify_cases.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_set_is_big_and_varied_enough() -> None:
    assert len(CASES) >= 8
    projects = {_load(p)["repo"] for p in CASES}
    assert len(projects) >= 4
    assert projects <= set(PROJECTS.values())


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case_file_follows_the_reference(path: Path) -> None:
    case = _load(path)
    assert list(case) == REFERENCE_KEYS
    project = path.stem.split("-", 1)[0]
    assert PROJECTS[project] == case["repo"]
    for key in ("base_commit", "fix_commit"):
        assert re.fullmatch(r"[0-9a-f]{40}", case[key]), key
    assert case["base_commit"] != case["fix_commit"]
    assert case["title"].strip() and case["issue_body"].strip()
    assert case["fix_commit"][:7] not in case["issue_body"]
    src, tests = case["source_files_changed"], case["test_files_changed"]
    assert src and tests and not set(src) & set(tests)
    assert any(f.endswith(".py") for f in src)
    assert case["fail_to_pass"] and len(set(case["fail_to_pass"])) == len(case["fail_to_pass"])
    for node in case["fail_to_pass"]:
        assert node.split("::", 1)[0] in tests, node
    for requirement in case["install"]:
        assert "==" in requirement, f"unpinned requirement {requirement}"
    assert case["setup_commands"]
    assert case["test_command"].startswith("python -m pytest")
    assert case["full_test_command"].startswith("python -m pytest")
    assert case["notes"].strip()


def test_verifier_keys_match_the_reference() -> None:
    assert list(_verifier().KEYS) == REFERENCE_KEYS


def test_outcomes_fold_phases(tmp_path: Path) -> None:
    records = [
        ("t::ok", "setup", "passed", False),
        ("t::ok", "call", "passed", False),
        ("t::ok", "teardown", "passed", False),
        ("t::bad", "setup", "passed", False),
        ("t::bad", "call", "failed", False),
        ("t::bad", "teardown", "passed", False),
        ("t::fixture", "setup", "failed", False),
        ("t::fixture", "teardown", "passed", False),
        ("t::down", "setup", "passed", False),
        ("t::down", "call", "passed", False),
        ("t::down", "teardown", "failed", False),
        ("t::skip", "setup", "skipped", False),
        ("t::skip", "teardown", "passed", False),
        ("t::xf", "setup", "passed", False),
        ("t::xf", "call", "skipped", True),
        ("t::xp", "setup", "passed", False),
        ("t::xp", "call", "passed", True),
        ("t_mod.py", "collect", "failed", False),
    ]
    out = tmp_path / "o.jsonl"
    out.write_text(
        "".join(
            json.dumps({"nodeid": n, "when": w, "outcome": o, "xfail": x}) + "\n"
            for n, w, o, x in records
        )
    )
    assert _verifier().outcomes_of(out) == {
        "t::ok": "passed",
        "t::bad": "failed",
        "t::fixture": "error",
        "t::down": "error",
        "t::skip": "skipped",
        "t::xf": "xfailed",
        "t::xp": "xpassed",
        "t_mod.py": "error",
    }


def test_mirror_lookup(tmp_path: Path) -> None:
    verifier = _verifier()
    bare = tmp_path / "pallets+click" / "repo"
    bare.mkdir(parents=True)
    (bare / "HEAD").write_text("ref: refs/heads/main\n")
    clone = tmp_path / "elsewhere" / "tomli"
    (clone / ".git").mkdir(parents=True)
    assert verifier.find_mirror("pallets/click", {}, [str(tmp_path)]) == str(bare)
    explicit = {"hukkin/tomli": str(clone)}
    assert verifier.find_mirror("hukkin/tomli", explicit, []) == str(clone)
    with pytest.raises(verifier.CaseError):
        verifier.find_mirror("pytoolz/toolz", {}, [str(tmp_path)])


@pytest.mark.slow
def test_one_case_verifies_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    bundle = ROOT / "bundles" / "tomli.bundle"
    code = _verifier().main(["--mirror", f"hukkin/tomli={bundle}", "tomli-load-text-mode"])
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0, reports
    assert reports[0]["ok"] and reports[0]["derived_fail_to_pass"]
