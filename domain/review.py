"""The review: deterministic gates first, then a panel of model reviewers decided by quorum."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from domain.tiers import Tier
from domain.workspace import WorkspaceRef


class RubricScore(BaseModel):
    criterion: str = Field(description="e.g. correctness, tests, scope, readability")
    score: int = Field(ge=1, le=5)
    note: str = ""


class ReviewVerdict(BaseModel):
    verdict: Literal["approve", "request_changes"]
    summary: str = Field(min_length=1)
    rubric: list[RubricScore] = Field(default_factory=list)
    requested_changes: list[str] = Field(
        default_factory=list, description="Concrete changes; required when requesting changes"
    )


class GateResult(BaseModel):
    name: str
    passed: bool
    detail: str = ""


# ----- the reviewer panel and its quorum -------------------------------------------------------

REVIEWER_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"
GENERAL_FOCUS = "general"  # the lone reviewer's: everything alike, no focus in its prompt


class Reviewer(BaseModel):
    """One model reviewer of the panel: what it looks at above all, and on which tier."""

    name: str | None = Field(
        default=None, pattern=REVIEWER_NAME, description="Shown in the PR; default: its focus"
    )
    focus: str = Field(
        default=GENERAL_FOCUS,
        min_length=1,
        max_length=80,
        description="e.g. correctness, tests, security; 'general' reviews everything alike",
    )
    tier: Tier | None = Field(default=None, description="None: the review stage's tier")

    @property
    def label(self) -> str:
        return self.name or self.focus


class ReviewSettings(BaseModel):
    """``review.*``: the model reviewers and how many approvals a change needs."""

    reviewers: list[Reviewer] = Field(
        default_factory=list, description="Empty: one general reviewer at the review tier"
    )
    quorum: int | None = Field(
        default=None, ge=1, description="Approvals needed; None: a majority of the reviewers"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ReviewSettings:
        labels = [r.label for r in self.reviewers]
        for index, label in enumerate(labels):
            if label in labels[:index]:
                raise ValueError(
                    f"reviewers[{index}]: {label!r} is already a reviewer; give it a distinct name"
                )
        if self.quorum is not None and self.quorum > len(self.panel):
            raise ValueError(
                f"quorum: {self.quorum} approvals can never be reached by "
                f"{len(self.panel)} reviewer(s)"
            )
        return self

    @property
    def panel(self) -> list[Reviewer]:
        """The reviewers a round asks: the configured ones, or the one general reviewer."""
        return self.reviewers or [Reviewer()]

    @property
    def required(self) -> int:
        return self.quorum if self.quorum is not None else len(self.panel) // 2 + 1


class ReviewerVerdict(BaseModel):
    """One reviewer's answer in a round, as the PR's verdict table shows it."""

    reviewer: str
    focus: str
    tier: Tier | None = None
    model: str = ""
    verdict: ReviewVerdict


class ReviewPanel(BaseModel):
    """A round's decision: every reviewer's verdict and the quorum that decided."""

    quorum: int = Field(ge=1)
    reviewers: list[ReviewerVerdict]
    human_approvals: int = Field(default=0, ge=0)

    @property
    def approvals(self) -> int:
        return sum(r.verdict.verdict == "approve" for r in self.reviewers) + self.human_approvals

    @property
    def approved(self) -> bool:
        return self.approvals >= self.quorum

    def markdown(self) -> str:
        """The verdict table: one row per reviewer, then the count against the quorum."""
        rows = [
            f"| {r.reviewer} | {r.focus} | {r.tier or '-'} | "
            f"{'✅ approve' if r.verdict.verdict == 'approve' else '❌ request changes'} | "
            f"{_cell(r.verdict.summary)} |"
            for r in self.reviewers
        ]
        humans = f" and {self.human_approvals} human approval(s)" if self.human_approvals else ""
        return "\n".join(
            [
                "| reviewer | focus | tier | verdict | summary |",
                "|---|---|---|---|---|",
                *rows,
                "",
                f"Quorum: {self.approvals} of {self.quorum} required approvals"
                f" ({len(self.reviewers)} model reviewer(s){humans}).",
            ]
        )


def decide(panel: ReviewPanel) -> ReviewVerdict:
    """The round's verdict by the quorum rule: order-independent, never the last answer.

    Approved: the approvals (model and human) reach the quorum. Otherwise the changes every
    dissenting reviewer asked for, each named by its reviewer, go back to the implementer.
    """
    dissent = [r for r in panel.reviewers if r.verdict.verdict != "approve"]
    count = f"{panel.approvals} of {panel.quorum} required approvals"
    if panel.approved:
        against = ", ".join(r.reviewer for r in dissent)
        return ReviewVerdict(
            verdict="approve",
            summary=f"Approved by quorum ({count})" + (f"; {against} dissent." if dissent else "."),
            rubric=[s for r in panel.reviewers for s in _named(r)],
        )
    changes = [f"[{r.reviewer}] {c}" for r in dissent for c in r.verdict.requested_changes]
    return ReviewVerdict(
        verdict="request_changes",
        summary=f"Quorum not reached ({count}): "
        + "; ".join(f"{r.reviewer}: {r.verdict.summary}" for r in dissent),
        rubric=[s for r in panel.reviewers for s in _named(r)],
        requested_changes=changes or [f"[{r.reviewer}] {r.verdict.summary}" for r in dissent],
    )


def _named(reviewer: ReviewerVerdict) -> list[RubricScore]:
    return [
        s.model_copy(update={"criterion": f"{s.criterion} ({reviewer.reviewer})"})
        for s in reviewer.verdict.rubric
    ]


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")[:200]


# ----- what the deterministic gates learn from the checkout ------------------------------------


class SecretFinding(BaseModel):
    """A likely secret on an added line: where and what kind, never the secret itself."""

    path: str
    line: int = Field(ge=1)
    kind: str = Field(description="The scanner's secret type, e.g. 'AWS Access Key'")


class ChangeScan(BaseModel):
    """The scan of a change's added lines and file modes (``workspace.scan_change``)."""

    secrets: list[SecretFinding] = Field(default_factory=list)
    submodules: list[str] = Field(
        default_factory=list, description="Paths whose gitlink (mode 160000) the change touches"
    )
    unscanned: list[str] = Field(
        default_factory=list, description="Changed files the scanner could not read, and why"
    )


class ScanChangeInput(BaseModel):
    workspace: WorkspaceRef
    max_file_bytes: int = Field(default=1_000_000, gt=0, description="Larger files are unscanned")
