"""The pure review rules: the quorum decision, the panel settings and the deterministic gates."""

from __future__ import annotations

from itertools import permutations

import pytest
from pydantic import ValidationError

from domain import change
from domain.change import DiffSummary
from domain.review import (
    ChangeScan,
    Reviewer,
    ReviewerVerdict,
    ReviewPanel,
    ReviewSettings,
    ReviewVerdict,
    RubricScore,
    SecretFinding,
    decide,
)
from domain.run import RepoSettings
from workflows.review_gates import review_gates


def said(reviewer: str, verdict: str) -> ReviewerVerdict:
    approve = verdict == "approve"
    return ReviewerVerdict(
        reviewer=reviewer,
        focus=reviewer,
        verdict=ReviewVerdict(
            verdict="approve" if approve else "request_changes",
            summary=f"{reviewer} says {verdict}",
            rubric=[RubricScore(criterion="correctness", score=4 if approve else 2)],
            requested_changes=[] if approve else [f"fix what {reviewer} saw"],
        ),
    )


@pytest.mark.parametrize(
    ("verdicts", "quorum", "humans", "approved"),
    [
        (["approve", "approve", "reject"], 2, 0, True),
        (["approve", "reject", "reject"], 2, 0, False),
        (["approve", "reject", "reject"], 2, 1, True),  # a person's approval counts
        (["approve", "approve", "reject"], 3, 0, False),
        (["reject"], 1, 0, False),
        (["approve"], 1, 0, True),
    ],
)
def test_the_quorum_decides_whatever_order_the_answers_came_in(
    verdicts: list[str], quorum: int, humans: int, approved: bool
) -> None:
    names = ("correctness", "tests", "security")[: len(verdicts)]
    reviewers = [said(name, v) for name, v in zip(names, verdicts, strict=True)]
    decisions = {
        decide(ReviewPanel(quorum=quorum, reviewers=list(order), human_approvals=humans)).verdict
        for order in permutations(reviewers)
    }
    assert decisions == {"approve" if approved else "request_changes"}


def test_a_rejection_carries_each_dissenters_changes_and_an_approval_names_the_dissent() -> None:
    rejected = decide(
        ReviewPanel(
            quorum=2,
            reviewers=[
                said("correctness", "approve"),
                said("tests", "reject"),
                said("security", "reject"),
            ],
        )
    )
    assert rejected.requested_changes == [
        "[tests] fix what tests saw",
        "[security] fix what security saw",
    ]
    assert "1 of 2 required approvals" in rejected.summary
    approved = decide(
        ReviewPanel(
            quorum=2,
            reviewers=[
                said("correctness", "approve"),
                said("tests", "approve"),
                said("security", "reject"),
            ],
        )
    )
    assert approved.requested_changes == [] and "security dissent" in approved.summary
    assert {s.criterion for s in approved.rubric} == {
        "correctness (correctness)",
        "correctness (tests)",
        "correctness (security)",
    }


def test_the_verdict_table_has_a_row_per_reviewer_and_the_count() -> None:
    panel = ReviewPanel(
        quorum=2, reviewers=[said("correctness", "approve"), said("security", "reject")]
    )
    table = panel.markdown()
    assert "| correctness | correctness | - | ✅ approve | correctness says approve |" in table
    assert "| security | security | - | ❌ request changes | security says reject |" in table
    assert "Quorum: 1 of 2 required approvals (2 model reviewer(s))." in table


def test_panel_settings_default_to_one_reviewer_and_a_majority() -> None:
    assert ReviewSettings().panel == [Reviewer()] and ReviewSettings().required == 1
    three = ReviewSettings(reviewers=[Reviewer(focus=f) for f in ("a", "b", "c")])
    assert three.required == 2
    assert ReviewSettings(reviewers=three.reviewers, quorum=3).required == 3


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"reviewers": [{"focus": "tests"}], "quorum": 2}, "can never be reached"),
        ({"quorum": 2}, "can never be reached"),
        ({"reviewers": [{"focus": "tests"}, {"focus": "tests"}]}, "give it a distinct name"),
        ({"reviewers": [{"name": "Bad Name"}]}, "String should match pattern"),
    ],
)
def test_impossible_panels_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ReviewSettings.model_validate(settings)


def diff(*files: str) -> DiffSummary:
    return DiffSummary(
        base_sha="a" * 40, head_sha="b" * 40, files=list(files), additions=3, deletions=1, diff=""
    )


GREEN = change.TestRun(passed=True, exit_code=0, duration_seconds=1.0, output_tail="ok")


def test_a_secret_fails_its_gate_naming_file_line_and_kind() -> None:
    scan = ChangeScan(
        secrets=[SecretFinding(path="app/settings.py", line=3, kind="AWS Access Key")],
        unscanned=["huge.json (2000000 bytes, over the 1000000 byte limit)"],
    )
    gates = {g.name: g for g in review_gates(diff("app/settings.py"), GREEN, RepoSettings(), scan)}
    assert not gates["secrets"].passed
    assert "app/settings.py:3 (AWS Access Key)" in gates["secrets"].detail
    assert "not scanned: huge.json" in gates["secrets"].detail
    assert gates["submodules"].passed


@pytest.mark.parametrize(
    ("files", "gitlinks", "named"),
    [([".gitmodules"], [], ".gitmodules"), (["vendor/lib"], ["vendor/lib"], "vendor/lib")],
)
def test_a_submodule_change_fails_its_gate(
    files: list[str], gitlinks: list[str], named: str
) -> None:
    scan = ChangeScan(submodules=gitlinks)
    gates = {g.name: g for g in review_gates(diff(*files), GREEN, RepoSettings(), scan)}
    assert not gates["submodules"].passed and named in gates["submodules"].detail
    assert gates["secrets"].passed


def test_without_a_scan_the_gates_are_the_ones_recorded_runs_had() -> None:
    names = [g.name for g in review_gates(diff("a.py"), GREEN, RepoSettings())]
    assert names == ["tests green", "diff size", "protected paths", "non-empty change"]
    scanned = [g.name for g in review_gates(diff("a.py"), GREEN, RepoSettings(), ChangeScan())]
    assert scanned == [
        "tests green",
        "diff size",
        "protected paths",
        "secrets",
        "submodules",
        "non-empty change",
    ]
