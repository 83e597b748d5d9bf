"""Path rules, without git: checkout directory names and untrusted repository paths."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from activities.workspace.paths import (
    UnsafePath,
    checkout_dir_name,
    content_problem,
    safe_edit_path,
    safe_relative_path,
    validate_edits,
)
from domain.change import FileEdit


@pytest.mark.parametrize("key", ["../../etc", "/abs/key", "..", ".git", "a/b\\c", "", "ü:x"])
def test_checkout_dir_name_is_one_plain_component(key: str, tmp_path: Path) -> None:
    name = checkout_dir_name(key)
    assert "/" not in name and not name.startswith(".")
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()


def test_checkout_dir_names_differ_for_keys_that_sanitize_alike() -> None:
    assert checkout_dir_name("a:b") != checkout_dir_name("a/b")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/etc/passwd", "absolute"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("a/../b", "'..'"),
        (".git/config", ".git"),
        ("sub/.GIT/hooks/x", ".git"),
        ("sub/.Git./x", ".git"),
        ("a\x00b", "NUL"),
        ("", "empty"),
        ("./", "empty"),
        ("a/" + "n" * 300, "too long"),
    ],
)
def test_hostile_paths_are_refused(tmp_path: Path, path: str, reason: str) -> None:
    with pytest.raises(UnsafePath, match=reason):
        safe_relative_path(tmp_path, path)


def test_symlinks_on_the_way_are_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "dirlink").symlink_to(tmp_path / "real")
    (tmp_path / "filelink").symlink_to(tmp_path / "real" / "f")
    for path in ("dirlink/f", "filelink", "dirlink"):
        with pytest.raises(UnsafePath, match="symlink"):
            safe_relative_path(tmp_path, path)


def test_ordinary_paths_are_normalised(tmp_path: Path) -> None:
    assert safe_relative_path(tmp_path, "./src//app.py") == PurePosixPath("src/app.py")
    assert safe_relative_path(tmp_path, ".github/workflows/ci.yml") == PurePosixPath(
        ".github/workflows/ci.yml"
    )
    assert safe_relative_path(tmp_path, ".gitignore") == PurePosixPath(".gitignore")


def test_validate_edits_refuses_ambiguous_and_oversized_sets(tmp_path: Path) -> None:
    edits = [
        FileEdit(path="a.txt", content="1"),
        FileEdit(path="./a.txt", content="2"),
        FileEdit(path="d", content="file"),
        FileEdit(path="d/inner.txt", content="in d"),
        FileEdit(path="big.txt", content="x" * 11),
        FileEdit(path="none.txt", content=None),
        FileEdit(path="fine.txt", content="ok"),
        FileEdit(path="gone.txt", action="delete"),
        FileEdit(path="nul.txt", content="a\x00b"),
        FileEdit(path="sub/.gitmodules", content="x"),
    ]
    _, refusals = validate_edits(tmp_path, edits, max_edit_bytes=10)
    refused = {r.path: r.reason for r in refusals}
    assert refused == {
        "./a.txt": "edited more than once",
        "d/inner.txt": "a parent directory is also edited as a file",
        "big.txt": "content is larger than 10 bytes",
        "none.txt": "a write needs content",
        "nul.txt": "content contains a NUL byte (binary files cannot be written)",
        "sub/.gitmodules": ".gitmodules cannot be edited (submodules are not allowed)",
    }


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (".gitmodules", ".gitmodules"),
        ("a/.GitModules.", ".gitmodules"),
        ("~/.bashrc", "'~' is not expanded"),
        ("~root/x", "'~' is not expanded"),
        ("src/~/x", "'~' is not expanded"),
    ],
)
def test_edit_paths_have_more_rules(tmp_path: Path, path: str, reason: str) -> None:
    assert safe_relative_path(tmp_path, path)  # reading them is fine
    with pytest.raises(UnsafePath, match=reason):
        safe_edit_path(tmp_path, path)


def test_edit_paths_allow_tildes_inside_names(tmp_path: Path) -> None:
    assert safe_edit_path(tmp_path, "src/backup~") == PurePosixPath("src/backup~")
    assert safe_edit_path(tmp_path, "docs/~draft.md") == PurePosixPath("docs/~draft.md")


def test_content_problem_names_binary_and_oversized_content() -> None:
    assert content_problem(b"text\n", 10) is None
    assert "NUL byte" in (content_problem(b"a\x00", 10) or "")
    assert content_problem(b"x" * 11, 10) == "content is larger than 10 bytes"
