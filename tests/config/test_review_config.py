"""The ``review`` section: the reviewer panel and its quorum, from the file and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.test_settings import config_error, load

PANEL = """\
review:
  reviewers:
    - focus: correctness
    - {focus: tests, tier: balanced}
    - {focus: security, tier: advanced, name: sec}
  quorum: 2
"""


def test_the_panel_reaches_the_runs_input(tmp_path: Path) -> None:
    review = load(tmp_path, service=PANEL).run_settings().review
    assert [(r.label, r.focus, r.tier) for r in review.reviewers] == [
        ("correctness", "correctness", None),
        ("tests", "tests", "balanced"),
        ("sec", "security", "advanced"),
    ]
    assert review.required == 2


def test_without_a_panel_one_reviewer_decides(tmp_path: Path) -> None:
    review = load(tmp_path).run_settings().review
    assert review.reviewers == [] and len(review.panel) == 1 and review.required == 1


def test_the_environment_sets_the_panel(tmp_path: Path) -> None:
    env = {
        "AUTOPILOT__REVIEW__REVIEWERS": "[{focus: correctness}, {focus: security}]",
        "AUTOPILOT__REVIEW__QUORUM": "2",
    }
    review = load(tmp_path, env=env).run_settings().review
    assert [r.focus for r in review.reviewers] == ["correctness", "security"]
    assert review.required == 2


@pytest.mark.parametrize(
    ("service", "key", "reason"),
    [
        (PANEL.replace("quorum: 2", "quorum: 4"), "review", "can never be reached by 3"),
        ("review:\n  reviewers: [{focus: tests, tiers: fast}]\n", "review.reviewers.0", "unknown"),
        ("review:\n  reviewers: [{focus: tests, tier: huge}]\n", "review.reviewers.0.tier", ""),
        ("review:\n  reviewers: [{focus: tests}, {focus: tests}]\n", "review", "distinct name"),
        ("run:\n  review: {quorum: 1}\n", "run", "top-level 'review' section"),
    ],
)
def test_impossible_panels_name_the_file_key_and_reason(
    tmp_path: Path, service: str, key: str, reason: str
) -> None:
    error = config_error(tmp_path, service=service)
    assert error.source.endswith("autopilot.yaml")
    assert error.key.startswith(key.replace(".0", "[0]")) and reason in error.reason, error
