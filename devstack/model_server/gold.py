"""Gold-patch play: a known fix carried out through the agent's tools, as a model would.

For a tool-calling request whose brief holds a gold issue's title, each answer is worked out
from the conversation alone (nothing is kept between requests):

1. ``view`` every changed file that is not new (all in one answer); when a hunk is not in what
   was shown (a capped view), ``view`` its region with ``view_range``;
2. the edits: ``create`` for a new file, one ``str_replace`` per hunk with an ``old_str`` that is
   unique in the viewed text (see ``edits``), split when a call would not fit the output limit;
   as many calls per answer as fit;
3. ``run`` the test command when the brief names one (a ``## Tests`` section with the command
   in a code block, as the worker writes it, or a ``Test command: ...`` line);
4. ``finish`` with a short summary.

A failed view or edit (``is_error``; a result starting with ``error``/``failed``; for an edit,
``error``, ``failed``, ``not found``... in its first line) ends the play with a ``finish`` that
says so; so does a hunk found nowhere. Without a ``run`` tool the tests are not run; without a
``finish`` tool the last answer is the summary in words. A brief with ``Purpose: plan`` (the
read-only planner) views the files, then calls ``finish`` with its findings (the files, the
cause, the approach; the one-task plan too when ``finish`` takes a ``plan`` argument). Hunks
already applied (their new lines are where the old ones would be) are skipped, so a fix or review
round after the patch went in only views, runs the tests and finishes. Structured requests for
a gold issue are answered too: ``plan`` with that one-task plan, ``review_verdict`` approving.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from devstack.model_server.answer import Answer, ToolUse, count_tokens
from devstack.model_server.conversation import Call, Conversation, Result, argument
from devstack.model_server.edits import create_calls, file_edits, merge_views, numbered_lines
from devstack.model_server.patches import FilePatch, GoldPatch

MAX_TURNS = 40
REGION_MARGIN = 10  # lines of a region view around a hunk
_FAILED = re.compile(r"^\s*(error|failed|failure|refused)\b", re.IGNORECASE)
# An edit's result is a short message: these words anywhere in its first line mean it failed.
_EDIT_FAILED = re.compile(r"\b(error|failed|refused|not found|no match)\b", re.IGNORECASE)
# "## Tests\n...run with this command...:\n```sh\nCMD\n```", "Test command: CMD", "run the tests
# with `CMD`": the first command found is run.
_TEST_COMMAND = (
    re.compile(r"(?m)^#+\s*Tests?\s*\n(?:[^`\n]*\n)*?(`{3,})[^\n]*\n(?P<cmd>[^\n]+)\n\1"),
    re.compile(r"(?im)^[#*>\s-]*test[ _-]?command[*\s]*[:=]\s*`*(?P<cmd>[^`\n]+?)`*\s*$"),
    re.compile(r"(?i)\brun (?:the )?tests? with:?\s*`(?P<cmd>[^`\n]+)`"),
)
_EDIT_TOOLS = ("create", "str_replace", "insert")


class GoldPlayer:
    def __init__(self, patches: Sequence[GoldPatch]) -> None:
        # Longest title first, so that a title that contains another one wins.
        self.patches = sorted(patches, key=lambda p: len(p.title), reverse=True)

    def find(self, text: str) -> GoldPatch | None:
        return next((p for p in self.patches if p.title in text), None)

    def structured(self, schema_name: str, text: str) -> dict[str, Any] | None:
        patch = self.find(text)
        if patch is None:
            return None
        if schema_name == "plan":
            return plan_for(patch)
        if schema_name == "review_verdict":
            return approval_for(patch)
        return None

    def turn(self, patch: GoldPatch, conversation: Conversation, limit: int | None) -> Answer:
        return _Play(patch, conversation, limit).answer()


def plan_for(patch: GoldPatch) -> dict[str, Any]:
    files = [f.path for f in patch.files]
    return {
        "summary": f"Fix the issue: {patch.title}",
        "tasks": [
            {
                "id": "fix-issue",
                "title": patch.title[:200],
                "description": f"Resolve the issue by changing {', '.join(files)}.",
                "files": files,
                "depends_on": [],
                "acceptance_criteria": [
                    f"The issue is resolved: {patch.title}",
                    "The whole test suite passes",
                ],
            }
        ],
    }


def approval_for(patch: GoldPatch) -> dict[str, Any]:
    return {
        "verdict": "approve",
        "summary": f"The change resolves the issue ({patch.title}) and stays in scope.",
        "rubric": [
            {"criterion": c, "score": 5, "note": "as expected"}
            for c in ("correctness", "tests", "scope", "readability")
        ],
        "requested_changes": [],
    }


class _Play:
    """One answer of the play, worked out from the conversation so far."""

    def __init__(self, patch: GoldPatch, conversation: Conversation, limit: int | None) -> None:
        self.patch = patch
        self.conversation = conversation
        self.limit = limit
        self.done = {_key(c.name, c.arguments) for c in conversation.calls}

    def answer(self) -> Answer:
        failure = self._failure()
        if failure:
            return self._finish(f"Stopped without finishing the fix: {failure}")
        if self.conversation.turn >= MAX_TURNS:
            return self._finish(f"Stopped after {MAX_TURNS} turns without finishing the fix.")
        views = [self._call("view", {"path": f.path}) for f in self._modified()]
        pending = [v for v in views if not self._was_done(v)]
        if pending:
            return self._pack(pending)
        if re.search(r"Purpose:\s*plan\b", self.conversation.brief_text):
            return self._finish_plan()
        edits, problem = self._edits()
        if problem:
            return self._finish(f"Stopped without finishing the fix: {problem}")
        pending = [e for e in edits if not self._was_done(e)]
        if pending:
            return self._pack(pending)
        command = self.patch.test_command or brief_test_command(self.conversation)
        if command and self._offered("run"):
            run = self._call("run", {"command": command})
            if not self._was_done(run):
                return self._pack([run])
        return self._finish(self._summary(edits, command))

    def _edits(self) -> tuple[list[ToolUse], str]:
        """Every edit call in order, or the region views still needed, or what went wrong."""
        calls: list[ToolUse] = []
        regions: list[ToolUse] = []
        for file in self.patch.files:
            if file.deleted:
                continue
            if file.new or not any(h.old_block for h in file.hunks):  # new, or was empty
                calls.extend(self._adapt(c) for c in create_calls(file, self._fits))
                continue
            found, missing = file_edits(file, self._seen(file.path), self._fits)
            calls.extend(self._adapt(c) for c in found)
            for hunk in missing:
                first = max(1, hunk.old_start - REGION_MARGIN)
                last = hunk.old_start + len(hunk.old_block) + REGION_MARGIN
                view = self._call("view", {"path": file.path, "view_range": [first, last]})
                if self._was_done(view):
                    return [], f"the change to {file.path} near line {hunk.old_start} has no place"
                regions.append(view)
        return (regions or calls), ""

    def _seen(self, path: str) -> list[str | None]:
        views = []
        for call, result in self.conversation.history():
            if call.name == "view" and argument(call.arguments, "path") == path and result:
                views.append(numbered_lines(result.text))
        return merge_views(views)

    def _modified(self) -> list[FilePatch]:
        return [f for f in self.patch.files if not f.new and not f.deleted]

    def _failure(self) -> str:
        for call, result in self.conversation.history():
            if call.name in ("view", *_EDIT_TOOLS) and result is not None and _failed(call, result):
                what = argument(call.arguments, "path") or ""
                first = result.text.strip().split("\n")[0][:200]
                return f"{call.name} {what} failed ({first})"
        return ""

    def _call(self, name: str, arguments: dict[str, Any]) -> ToolUse:
        return ToolUse(name, self.conversation.adapt(name, arguments))

    def _adapt(self, call: ToolUse) -> ToolUse:
        assert isinstance(call.arguments, dict)
        return self._call(call.name, call.arguments)

    def _was_done(self, call: ToolUse) -> bool:
        assert isinstance(call.arguments, dict)
        return _key(call.name, call.arguments) in self.done

    def _fits(self, call: ToolUse) -> bool:
        """Whether ``call``, with the argument names the request uses, fits one answer."""
        return self.limit is None or count_tokens(self._adapt(call).wire_text()) <= self.limit

    def _pack(self, calls: list[ToolUse]) -> Answer:
        """As many of ``calls``, in order, as fit one answer (always the first)."""
        taken = [calls[0]]
        for call in calls[1:]:
            if not self._fits_all([*taken, call]):
                break
            taken.append(call)
        return Answer(calls=taken, turn=self.conversation.turn)

    def _fits_all(self, calls: list[ToolUse]) -> bool:
        return self.limit is None or Answer(calls=calls).tokens() <= self.limit

    def _offered(self, tool: str) -> bool:
        return tool in self.conversation.tools

    def _finish(self, summary: str) -> Answer:
        if not self._offered("finish"):  # no finish tool: a final answer in words
            return Answer(text=summary, turn=self.conversation.turn)
        return self._finish_with({"summary": summary})

    def _finish_plan(self) -> Answer:
        """The planner's findings; the plan itself too when ``finish`` takes one."""
        plan = plan_for(self.patch)
        hunks = sum(len(f.hunks) for f in self._modified())
        created = [f.path for f in self.patch.files if f.new]
        findings = (
            f"Relevant files: {', '.join(plan['tasks'][0]['files'])}. The cause of the issue "
            f"({self.patch.title[:120]}) is there; the approach: change {hunks} place(s)"
            + (f", add {', '.join(created)}" if created else "")
            + ", then run the tests."
        )
        spec = self.conversation.tools.get("finish")
        if spec is not None and spec.properties is not None and "plan" in spec.properties:
            return self._finish_with({"summary": findings, "plan": plan})
        return self._finish(findings)

    def _finish_with(self, arguments: dict[str, Any]) -> Answer:
        return Answer(calls=[self._call("finish", arguments)], turn=self.conversation.turn)

    def _summary(self, edits: list[ToolUse], command: str) -> str:
        replaced = {str(argument(_args(e), "path")) for e in edits if e.name == "str_replace"}
        created = [f.path for f in self.patch.files if f.new]
        parts = [f"Fixed: {self.patch.title[:120]}."]
        changed = [f.path for f in self._modified() if f.path in replaced]
        if changed:
            parts.append(f"Edited {', '.join(changed)}.")
        already = [f.path for f in self._modified() if f.path not in replaced]
        if already:
            parts.append(f"Already in place: {', '.join(already)}.")
        if created:
            parts.append(f"Created {', '.join(created)}.")
        skipped = [f.path for f in self.patch.files if f.deleted]
        if skipped:
            parts.append(f"Not deleted (no tool deletes files): {', '.join(skipped)}.")
        if command and self._offered("run"):
            parts.append(f"Ran `{command}`.")
        return " ".join(parts)


def brief_test_command(conversation: Conversation) -> str:
    """The test command the brief (or else the run tool's description) names."""
    run = conversation.tools.get("run")
    for text in (conversation.brief_text, run.description if run else ""):
        for pattern in _TEST_COMMAND:
            found = pattern.search(text)
            if found:
                return found.group("cmd").strip()
    return ""


def _failed(call: Call, result: Result) -> bool:
    if result.is_error or _FAILED.match(result.text):
        return True
    first = result.text.strip().split("\n")[0]
    return call.name in _EDIT_TOOLS and bool(_EDIT_FAILED.search(first))


def _key(name: str, arguments: dict[str, Any]) -> str:
    return name + json.dumps(arguments, sort_keys=True, ensure_ascii=False)


def _args(call: ToolUse | Call) -> dict[str, Any]:
    return call.arguments if isinstance(call.arguments, dict) else {}
