"""What people said on an open pull request, as the monitor stage hands it to the implementer.

Only people with write access count, never Autopilot itself; each item is read once (the run
remembers the last review and comment ids it handled, across continue-as-new).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from domain.cross_repo import PullRef

FeedbackKind = Literal["review", "comment"]
MAX_FEEDBACK_CHARS = 4000  # of one item, in the implementer's brief


class FeedbackLine(BaseModel):
    path: str
    line: int = Field(default=0, description="In the new file; 0 when on the old side")
    body: str


class FeedbackItem(BaseModel):
    kind: FeedbackKind
    id: int
    author: str
    state: str = Field(default="", description="A review's state: REQUEST_CHANGES or COMMENT")
    body: str = ""
    lines: list[FeedbackLine] = Field(default_factory=list, description="A review's line notes")

    def render(self) -> str:
        what = "requested changes" if self.state == "REQUEST_CHANGES" else "commented"
        text = [f"{self.author} {what}:", self.body.strip()[:MAX_FEEDBACK_CHARS]]
        text += [f"- {n.path}:{n.line}: {n.body.strip()}" for n in self.lines]
        return "\n".join(t for t in text if t)


class PullFeedbackInput(BaseModel):
    pull: PullRef
    after_review: int = Field(default=0, description="Reviews up to this id were handled")
    after_comment: int = Field(default=0, description="Comments up to this id were handled")
    writers_only: bool = Field(default=True, description="Only people with write access count")


class PullFeedback(BaseModel):
    items: list[FeedbackItem] = Field(default_factory=list)
    last_review: int = 0
    last_comment: int = 0

    @property
    def reviewers(self) -> list[str]:
        return sorted({item.author for item in self.items})

    def render(self) -> str:
        return "\n\n".join(item.render() for item in self.items)
