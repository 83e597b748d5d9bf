"""The repository map the implementer starts from: tracked files plus an outline of Python
definitions, trimmed to a token budget with the most relevant files first.

Relevance is a guess that needs no model: the code a change most likely touches (the root's
files, ``src/`` and Python packages) before other code, before tests, docs and examples,
before vendored or generated trees; shallow before deep. Half the budget at most goes to the
file list first, so that the most relevant files' outlines always fit; what is left lists more
files. The map says what it left out, and how to find it.
"""

from __future__ import annotations

import ast
import os
import stat
from collections import Counter
from pathlib import Path, PurePosixPath

from activities.workspace import python_source
from activities.workspace.paths import UnsafePath, safe_relative_path
from domain.agent import RepoMap

CHARS_PER_TOKEN = 4
LIST_SHARE = 0.5  # of the budget, at most, for the first pass over the file list
OUTLINE_LINES = 40  # per file
SIGNATURE_CHARS = 160
DOC_CHARS = 100
MAX_PARSE_BYTES = 1_000_000
MAX_PARSED_FILES = 2_000  # bounds the work on huge repositories
NOTE_CHARS = 250
_SECONDARY = {
    "test", "tests", "testing", "doc", "docs", "example", "examples", "benchmark",
    "benchmarks", "bench", "sample", "samples", "fixtures", "scripts", "tools",
}  # fmt: skip
_VENDORED = {
    "vendor", "vendored", "third_party", "thirdparty", "external", "extern", "node_modules",
    "dist", "build", "generated", "migrations", "site-packages",
}  # fmt: skip


def rank(path: str, packages: set[str]) -> tuple[int, int, str]:
    """Sort key: (group, depth, path); lower comes first."""
    parts = PurePosixPath(path).parts
    dirs = [d.lower() for d in parts[:-1]]
    name = parts[-1].lower()
    if any(d in _VENDORED for d in dirs):
        group = 3
    elif any(d in _SECONDARY for d in dirs) or name.startswith("test_") or "_test." in name:
        group = 2
    elif not dirs or dirs[0] == "src" or "/".join(parts[:-1]) in packages:
        group = 0
    else:
        group = 1
    return group, len(dirs), path


def build_repo_map(checkout: Path, files: list[str], max_tokens: int) -> RepoMap:
    budget = max_tokens * CHARS_PER_TOKEN - NOTE_CHARS  # room for saying what was left out
    packages = {str(PurePosixPath(f).parent) for f in files if f.endswith("/__init__.py")}
    ranked = sorted(files, key=lambda f: rank(f, packages))
    header = (
        f"{len(files)} tracked files, most relevant first. Python files list their classes, "
        "methods and functions as 'line: signature'.\n"
    )
    used = len(header)
    listed: list[str] = []
    for path in ranked:
        if used + len(path) + 1 > budget * LIST_SHARE:
            break
        listed.append(path)
        used += len(path) + 1
    outlines, skipped = _outlines(checkout, listed, budget - used)
    used += sum(len(line) + 1 for lines in outlines.values() for line in lines)
    for path in ranked[len(listed) :]:  # what the outlines left, for more of the file list
        if used + len(path) + 1 > budget:
            break
        listed.append(path)
        used += len(path) + 1
    body = [header]
    for path in listed:
        body.append(path + "\n")
        body.extend(line + "\n" for line in outlines.get(path, []))
    left = ranked[len(listed) :]
    truncated = bool(left or skipped)
    if truncated:
        body.append(_left_out(left, skipped, max_tokens))
    return RepoMap(text="".join(body), files=len(files), truncated=truncated)


def _outlines(checkout: Path, listed: list[str], budget: int) -> tuple[dict[str, list[str]], int]:
    """Outlines of the listed Python files, in order, while they fit; and how many did not."""
    outlines: dict[str, list[str]] = {}
    skipped = parsed = 0
    for path in listed:
        if not path.endswith(".py"):
            continue
        if budget < 80 or parsed >= MAX_PARSED_FILES:
            skipped += 1
            continue
        parsed += 1
        lines = outline_file(checkout, path)
        cost = sum(len(line) + 1 for line in lines)
        if cost > budget:
            skipped += 1
            continue
        if lines:
            outlines[path] = lines
            budget -= cost
    return outlines, skipped


def outline_file(checkout: Path, path: str) -> list[str]:
    """The outline of one Python file, indented under its path; [] when there is nothing."""
    source = _read(checkout / path)
    if source is None:
        return []
    try:
        tree = python_source.parse(source)
    except SyntaxError as e:
        return [f"  (does not parse: line {e.lineno}: {e.msg})"]
    except (ValueError, RecursionError, MemoryError):
        return []
    lines: list[str] = []
    doc = ast.get_docstring(tree, clean=True)
    if doc and doc.strip():
        lines.append(f'  "{_cut(doc.strip().splitlines()[0], DOC_CHARS)}"')
    definitions: list[str] = []
    for node in tree.body:
        _describe(node, 1, definitions)
    if len(definitions) > OUTLINE_LINES:
        more = len(definitions) - OUTLINE_LINES
        definitions = [*definitions[:OUTLINE_LINES], f"  ... {more} more definitions"]
    return lines + definitions


def _describe(node: ast.stmt, depth: int, out: list[str]) -> None:
    indent = "  " * depth
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(_unparse(b) for b in [*node.bases, *node.keywords])
        out.append(f"{indent}{node.lineno}: class {node.name}{f'({bases})' if bases else ''}")
        for child in node.body:
            _describe(child, depth + 1, out)
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
        returns = f" -> {_unparse(node.returns)}" if node.returns is not None else ""
        signature = f"{prefix} {node.name}({_unparse(node.args)}){returns}"
        out.append(f"{indent}{node.lineno}: {_cut(signature, SIGNATURE_CHARS)}")


def _unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except (ValueError, RecursionError):
        return "..."


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read(path: Path) -> str | None:
    """A regular file's text (never through a symlink), or None."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_PARSE_BYTES:
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with open(fd, "rb") as f:
            data = f.read(MAX_PARSE_BYTES + 1)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _left_out(left: list[str], skipped: int, max_tokens: int) -> str:
    parts = []
    if left:
        where = Counter(_top(path) for path in left).most_common(5)
        places = ", ".join(f"{top} ({n})" for top, n in where)
        parts.append(f"{len(left)} files not listed (most under {places})")
    if skipped:
        parts.append(f"the outlines of {skipped} Python files")
    return (
        f"[map trimmed to about {max_tokens} tokens; left out: {'; '.join(parts)}. "
        "Use view on a directory and search to find them.]\n"
    )


def _top(path: str) -> str:
    parts = PurePosixPath(path).parts
    return f"{parts[0]}/" if len(parts) > 1 else "the root"


def file_sizes(checkout: Path, paths: list[str]) -> dict[str, int]:
    """Bytes of each regular file among ``paths``; unsafe paths and missing files left out."""
    sizes: dict[str, int] = {}
    for path in paths:
        try:
            relative = safe_relative_path(checkout, path)
        except UnsafePath:
            continue
        target = checkout / relative
        if target.is_file():
            sizes[path] = target.stat().st_size
    return sizes
