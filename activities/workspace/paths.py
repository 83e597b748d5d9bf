"""Rules for untrusted paths: where a checkout lives, which repository paths may be touched."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from domain.change import FileEdit

_MAX_COMPONENT_BYTES = 255
_MAX_PATH_BYTES = 4096


def checkout_dir_name(key: str) -> str:
    """A directory name for ``key`` that is always one plain component (no '/', no leading '.').

    The readable prefix helps people find a checkout; the hash keeps distinct keys distinct.
    """
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-")[:60] or "workspace"
    digest = hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()[:16]
    return f"{readable}-{digest}"


class UnsafePath(ValueError):
    """A path that must not be read or written; the message says why."""


def safe_relative_path(checkout: Path, path: str) -> PurePosixPath:
    """Checks ``path`` against the rules for untrusted paths and returns it normalised.

    Refused: empty, NUL, absolute, any '..', any '.git' component (any case), over-long
    names, and any symlink on the way (the target itself or a parent directory).
    """
    if "\x00" in path:
        raise UnsafePath("contains a NUL byte")
    if path.startswith("/"):
        raise UnsafePath("absolute paths are not allowed")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePath("empty path")
    if len(path.encode("utf-8", errors="surrogatepass")) > _MAX_PATH_BYTES:
        raise UnsafePath("path is too long")
    for part in parts:
        if part == "..":
            raise UnsafePath("'..' is not allowed")
        # Trailing dots and spaces are dropped by some filesystems, making '.git.' equal '.git'.
        if part.casefold().rstrip(". ") == ".git":
            raise UnsafePath("paths inside .git are not allowed")
        if len(part.encode("utf-8", errors="surrogatepass")) > _MAX_COMPONENT_BYTES:
            raise UnsafePath("a path component is too long")
    current = checkout
    for i, part in enumerate(parts):
        current = current / part
        if current.is_symlink():
            raise UnsafePath("path goes through a symlink")
        is_last = i == len(parts) - 1
        if not is_last and current.exists() and not current.is_dir():
            raise UnsafePath(f"parent {'/'.join(parts[: i + 1])!r} is not a directory")
    resolved = (checkout / "/".join(parts)).resolve()
    if not resolved.is_relative_to(checkout.resolve()):  # belt and braces
        raise UnsafePath("path leaves the checkout")
    return PurePosixPath(*parts)


def safe_edit_path(checkout: Path, path: str) -> PurePosixPath:
    """:func:`safe_relative_path` plus the rules only writes need.

    Also refused: ``.gitmodules`` (a submodule would make git fetch other repositories) and a
    ``~`` component (no shell expands it here: ``~/x`` would create a directory named ``~``).
    """
    rel = safe_relative_path(checkout, path)
    for i, part in enumerate(rel.parts):
        if part.casefold().rstrip(". ") == ".gitmodules":
            raise UnsafePath(".gitmodules cannot be edited (submodules are not allowed)")
        if part == "~" or (i == 0 and part.startswith("~")):
            raise UnsafePath("'~' is not expanded: paths are relative to the repository root")
    return rel


def content_problem(data: bytes, max_bytes: int) -> str | None:
    """Why ``data`` may not be written by an edit, or None: binary or oversized content."""
    if b"\0" in data:
        return "content contains a NUL byte (binary files cannot be written)"
    if len(data) > max_bytes:
        return f"content is larger than {max_bytes} bytes"
    return None


@dataclass(frozen=True)
class Refusal:
    path: str
    reason: str

    def __str__(self) -> str:
        shown = self.path if len(self.path) <= 200 else self.path[:200] + "..."
        return f"{shown!r}: {self.reason}"


def validate_edits(
    checkout: Path, edits: list[FileEdit], max_edit_bytes: int
) -> tuple[list[tuple[PurePosixPath, FileEdit]], list[Refusal]]:
    """Checks every edit; returns the accepted ones with normalised paths and all refusals."""
    accepted: list[tuple[PurePosixPath, FileEdit]] = []
    refusals: list[Refusal] = []
    for edit in edits:
        try:
            rel = safe_edit_path(checkout, edit.path)
        except UnsafePath as e:
            refusals.append(Refusal(edit.path, str(e)))
            continue
        target = checkout / rel
        problem = None
        if target.is_dir():
            problem = "is a directory"
        elif edit.action == "write" and edit.content is None:
            problem = "a write needs content"
        elif edit.action == "write":
            problem = content_problem(_encode(edit.content), max_edit_bytes)
        if problem:
            refusals.append(Refusal(edit.path, problem))
        else:
            accepted.append((rel, edit))
    refusals += _conflicts(accepted)
    return accepted, refusals


def _conflicts(accepted: list[tuple[PurePosixPath, FileEdit]]) -> list[Refusal]:
    """Two edits of one path, or a file that another edit needs as a directory, are ambiguous."""
    refusals: list[Refusal] = []
    paths = {rel for rel, _ in accepted}
    seen: set[PurePosixPath] = set()
    for rel, edit in accepted:
        if rel in seen:
            refusals.append(Refusal(edit.path, "edited more than once"))
        seen.add(rel)
        if any(parent in paths for parent in rel.parents):
            refusals.append(Refusal(edit.path, "a parent directory is also edited as a file"))
    return refusals


def _encode(content: str | None) -> bytes:
    return (content or "").encode("utf-8", errors="surrogatepass")
