"""Gold patches: unified diffs per issue title, from a mapping file or from real-repository cases.

``load_gold_patches(FILE)``: a YAML or JSON mapping of issue title to the diff text (``git diff``
output), or to ``{diff: ..., test_command: ...}``.

``load_cases(DIR, REPO)``: every ``*.json`` case file in DIR, in the format of
``shared/reference/real-repo-cases.md``; the gold patch of a case is
``git diff base_commit fix_commit -- <source_files_changed>`` in the local git repository REPO
(or, when REPO is a directory of clones, in the clone named after the case's ``repo``).

Renames, mode changes and binary files are not carried over (the agent's tools cannot do them).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(Exception):
    """Gold patches that cannot be used; the message is one line for people."""


@dataclass(frozen=True)
class Hunk:
    old_start: int
    new_start: int
    lines: tuple[tuple[str, str], ...]  # (' ' | '-' | '+', the line without its newline)

    @property
    def old_block(self) -> list[str]:
        return [text for tag, text in self.lines if tag != "+"]

    @property
    def new_block(self) -> list[str]:
        return [text for tag, text in self.lines if tag != "-"]


@dataclass
class FilePatch:
    path: str
    hunks: list[Hunk] = field(default_factory=list)
    new: bool = False
    deleted: bool = False

    def new_lines(self) -> list[str]:
        """A new file's lines."""
        return [line for hunk in self.hunks for line in hunk.new_block]


@dataclass(frozen=True)
class GoldPatch:
    title: str
    files: tuple[FilePatch, ...]
    test_command: str = ""


def parse_diff(text: str) -> list[FilePatch]:
    """The files of a unified diff (``git diff`` or plain ``---``/``+++`` headers) and hunks."""
    files: list[FilePatch] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git ") or (
            line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")
        ):
            current, i = _file_header(lines, i)
            if current is not None:
                files.append(current)
            continue
        match = _HUNK.match(line)
        if match and files:
            hunk, i = _hunk(lines, i + 1, match)
            files[-1].hunks.append(hunk)
            continue
        i += 1
    return [f for f in files if f.hunks or f.new]


def _file_header(lines: list[str], i: int) -> tuple[FilePatch | None, int]:
    """The file a header names; ``i`` moves past the header (to its first ``@@``)."""
    old = new = ""
    flags = {"new": False, "deleted": False, "binary": False}
    if lines[i].startswith("diff --git "):
        parts = lines[i].split(" ")
        new = _strip_prefix(parts[-1]) if len(parts) >= 4 else ""
        i += 1
    while i < len(lines) and not lines[i].startswith(("@@", "diff --git ")):
        line = lines[i]
        if line.startswith("new file mode"):
            flags["new"] = True
        elif line.startswith("deleted file mode"):
            flags["deleted"] = True
        elif line.startswith("Binary files") or line.startswith("GIT binary patch"):
            flags["binary"] = True
        elif line.startswith("--- "):
            old = line[4:].split("\t")[0]
        elif line.startswith("+++ "):
            plus = line[4:].split("\t")[0]
            if plus != "/dev/null":
                new = _strip_prefix(plus)
            i += 1
            break
        i += 1
    if flags["binary"] or not new:
        return None, i
    return FilePatch(new, new=flags["new"] or old == "/dev/null", deleted=flags["deleted"]), i


def _strip_prefix(path: str) -> str:
    return path[2:] if path[:2] in ("a/", "b/") else path


def _hunk(lines: list[str], i: int, match: re.Match[str]) -> tuple[Hunk, int]:
    old_left = int(match.group(2)) if match.group(2) is not None else 1
    new_left = int(match.group(4)) if match.group(4) is not None else 1
    body: list[tuple[str, str]] = []
    while i < len(lines) and (old_left > 0 or new_left > 0):
        line = lines[i]
        tag, text = (line[:1] or " "), line[1:]
        if tag == "\\":  # "\ No newline at end of file"
            i += 1
            continue
        if tag not in " -+":
            break
        body.append((tag, text))
        old_left -= tag != "+"
        new_left -= tag != "-"
        i += 1
    return Hunk(int(match.group(1)), int(match.group(3)), tuple(body)), i


def load_gold_patches(path: Path) -> list[GoldPatch]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except OSError as err:
        raise PatchError(f"{path}: cannot read: {err.strerror or err}") from None
    except (UnicodeDecodeError, yaml.YAMLError):
        raise PatchError(f"{path}: not a YAML or JSON mapping") from None
    if not isinstance(raw, dict) or not raw:
        raise PatchError(f"{path}: expected a mapping of issue title to diff")
    patches: list[GoldPatch] = []
    for title, value in raw.items():
        entry: dict[str, Any] = value if isinstance(value, dict) else {"diff": value}
        if not isinstance(entry.get("diff"), str):
            raise PatchError(f"{path}: {title!r}: the diff must be text")
        patches.append(_gold(path, str(title), entry["diff"], str(entry.get("test_command") or "")))
    return patches


def load_cases(directory: Path, repo: Path) -> tuple[list[GoldPatch], list[str]]:
    """The cases' gold patches, and why the cases that were skipped were skipped.

    ``repo`` is one git repository, or a directory of clones (``NAME``, ``OWNER/NAME`` or
    ``OWNER+NAME`` after the case's ``repo``). A case whose commits are not there is skipped
    (one directory can hold cases of several projects); none left is an error.
    """
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not files:
        raise PatchError(f"{directory}: no *.json case files")
    patches: list[GoldPatch] = []
    skipped: list[str] = []
    for case_file in files:
        try:
            case = json.loads(case_file.read_text(encoding="utf-8"))
            title, base, fix = str(case["title"]), str(case["base_commit"]), str(case["fix_commit"])
            sources = [str(p) for p in case["source_files_changed"]]
            project = str(case.get("repo") or "")
        except (OSError, ValueError, KeyError, TypeError) as err:
            why = f"{type(err).__name__}: {err}"
            raise PatchError(f"{case_file}: not a case file ({why})") from None
        clone = _clone_for(repo, project)
        if clone is None or not all(_has_commit(clone, c) for c in (base, fix)):
            skipped.append(f"{case_file.name}: commits {base[:12]}..{fix[:12]} not in {repo}")
            continue
        diff = _git_diff(clone, base, fix, sources, case_file)
        patches.append(_gold(case_file, title, diff, ""))
    if not patches:
        raise PatchError(f"{directory}: no case has its commits in {repo} ({skipped[0]})")
    return patches, skipped


def _clone_for(repo: Path, project: str) -> Path | None:
    owner, _, name = project.rpartition("/")
    candidates = [repo]
    if name:
        candidates += [repo / name, repo / owner / name, repo / f"{owner}+{name}"]
    for candidate in candidates:
        bare = (candidate / "HEAD").is_file() and (candidate / "objects").is_dir()
        if (candidate / ".git").exists() or bare:
            return candidate
    return None


def _has_commit(repo: Path, sha: str) -> bool:
    return _git(repo, "cat-file", "-e", f"{sha}^{{commit}}").returncode == 0


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return subprocess.CompletedProcess(args, 1, "", str(err))


def _gold(source: Path, title: str, diff: str, test_command: str) -> GoldPatch:
    files = parse_diff(diff)
    if not title.strip() or not files:
        raise PatchError(f"{source}: {title!r}: no title, or a diff without file changes")
    return GoldPatch(title.strip(), tuple(files), test_command)


def _git_diff(repo: Path, base: str, fix: str, paths: list[str], case_file: Path) -> str:
    options = ("diff", "--no-color", "--no-ext-diff", "--no-renames")
    done = _git(repo, *options, base, fix, "--", *paths)
    if done.returncode != 0:
        why = " ".join(done.stderr.split())[:200]
        raise PatchError(f"{case_file}: git diff {base[:12]} {fix[:12]} failed: {why}")
    return done.stdout
