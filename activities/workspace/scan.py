"""The scan behind the review's secrets and submodule gates.

Secrets: detect-secrets reads each changed file as it stands at the head of the change, and only
findings on lines the change added count (a secret already on the base branch is not this
change's doing). Submodules: a gitlink entry (mode 160000) anywhere in the change. A finding
names the file, the line and the kind of secret; the secret itself never leaves this module.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from detect_secrets.core import scan as detect_secrets_scan
from detect_secrets.settings import default_settings

from activities.workspace.git import Git
from domain.review import ChangeScan, SecretFinding

GITLINK_MODE = "160000"
# "@@ -12,3 +14,5 @@": the added side starts at line 14 and spans 5 lines (1 when omitted).
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)
_DIFF_FLAGS = ("--no-renames", "--no-ext-diff", "--no-textconv", "--no-color")
# detect-secrets keeps its plugins and filters in process-wide settings: one scan at a time.
_SCANNER = threading.Lock()
# Its info and debug lines (every file and line it reads, each finding a filter drops) would
# flood the worker's logs and are one library change away from quoting a secret: errors only.
logging.getLogger("detect-secrets").setLevel(logging.ERROR)


async def scan_change(
    git: Git, checkout: Path, base: str, head: str, max_file_bytes: int
) -> ChangeScan:
    raw = await git.run("diff", *_DIFF_FLAGS, "--raw", "-z", "--no-abbrev", base, head)
    entries = parse_raw_diff(raw.text)
    submodules = sorted({e.path for e in entries if GITLINK_MODE in (e.old_mode, e.new_mode)})
    added: dict[str, set[int]] = {}
    unscanned: list[str] = []
    for entry in entries:
        if entry.status == "D" or entry.new_mode == GITLINK_MODE:
            continue
        reason = _unreadable(checkout, entry.path, max_file_bytes)
        if reason is not None:
            unscanned.append(f"{entry.path} ({reason})")
            continue
        lines = await _added_lines(git, base, head, entry.path)
        if lines:
            added[entry.path] = lines
    secrets = await asyncio.to_thread(find_secrets, checkout, added)
    return ChangeScan(secrets=secrets, submodules=submodules, unscanned=unscanned)


@dataclass(frozen=True)
class RawEntry:
    old_mode: str
    new_mode: str
    status: str
    path: str


def parse_raw_diff(text: str) -> list[RawEntry]:
    """``git diff --raw -z --no-renames``: ``:old new oldsha newsha status\\0path\\0`` records."""
    fields = text.split("\0")
    entries = []
    for index in range(0, len(fields) - 1, 2):
        meta, path = fields[index], fields[index + 1]
        if not meta.startswith(":"):
            continue
        old_mode, new_mode, _, _, status = meta[1:].split(" ", 4)
        entries.append(RawEntry(old_mode, new_mode, status[:1], path))
    return entries


def added_line_numbers(unified_zero: str) -> set[int]:
    """The head-side line numbers of a ``-U0`` diff's added lines."""
    lines: set[int] = set()
    for match in _HUNK.finditer(unified_zero):
        start, count = int(match.group(1)), int(match.group(2) or 1)
        lines.update(range(start, start + count))
    return lines


def find_secrets(checkout: Path, added: dict[str, set[int]]) -> list[SecretFinding]:
    """detect-secrets' default plugins and filters over each file, kept to its added lines."""
    found: set[tuple[str, int, str]] = set()
    with _SCANNER, default_settings():
        for path, lines in added.items():
            for secret in detect_secrets_scan.scan_file(str(checkout / path)):
                if secret.line_number in lines:
                    found.add((path, secret.line_number, secret.type))
    return [SecretFinding(path=p, line=n, kind=k) for p, n, k in sorted(found)]


async def _added_lines(git: Git, base: str, head: str, path: str) -> set[int]:
    diff = await git.run("--literal-pathspecs", "diff", *_DIFF_FLAGS, "-U0", base, head, "--", path)
    return added_line_numbers(diff.text)


def _unreadable(checkout: Path, path: str, max_file_bytes: int) -> str | None:
    """Why a changed file is not scanned: never follow a link out of the checkout."""
    target = checkout / path
    if target.is_symlink():
        return "a symbolic link"
    if not target.resolve().is_relative_to(checkout.resolve()):
        return "outside the checkout"
    if not target.is_file():
        return "not a regular file"
    size = target.stat().st_size
    if size > max_file_bytes:
        return f"{size} bytes, over the {max_file_bytes} byte limit"
    return None
