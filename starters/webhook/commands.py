"""``/autopilot`` commands in issue comments: approve, reject, resume and retry.

Only the first non-blank line can hold a command; quoted lines (``> /autopilot approve``) and
words run together (``/autopilotapprove``) are not commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PREFIX = "/autopilot"
Verb = Literal["approve", "reject", "resume", "retry"]
# retry resumes a run waiting for a person, like resume; once the run has finished it is the
# explicit request that starts a new one.
VERBS: dict[str, Verb] = {
    "approve": "approve",
    "reject": "reject",
    "resume": "resume",
    "retry": "retry",
}
# The verb must share the first line with the prefix; the rest of the comment is its text.
_COMMAND = re.compile(r"/autopilot(?:[ \t]+(?P<verb>\S+))?(?P<rest>[\s\S]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    verb: Verb
    text: str = ""  # rejection feedback or resume guidance


class UnknownCommand(ValueError):
    """The comment starts with /autopilot but names no command we know."""


def parse_command(body: str) -> Command | None:
    """The command in a comment; None when the comment holds none.

    Raises UnknownCommand for ``/autopilot`` followed by a verb we do not know.
    """
    text = body.lstrip()
    head = text[: len(PREFIX) + 1]
    if head.lower() != PREFIX and not (head[:-1].lower() == PREFIX and head[-1].isspace()):
        return None
    match = _COMMAND.match(text)
    assert match is not None  # the prefix matched, and everything after it is optional
    verb = (match.group("verb") or "").lower()
    if verb not in VERBS:
        known = ", ".join(sorted(VERBS))
        raise UnknownCommand(f"unknown command {verb or '(none)'!r}; use one of: {known}")
    return Command(VERBS[verb], match.group("rest").strip())
