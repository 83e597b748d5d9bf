"""The rules of ``merge.mode: when-approved``: each one that does not hold blocks the merge."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.cross_repo import PullVerdict
from domain.merge import MergePolicy, merge_blockers, status_blockers

HEAD = "a" * 40


def verdict(**changes: object) -> PullVerdict:
    base = PullVerdict(
        state="open",
        merged=False,
        approved_by=["alice"],
        mergeable=True,
        head_sha=HEAD,
        statuses={"ci": "success"},
    )
    return base.model_copy(update=changes)


def test_an_approved_green_mergeable_pr_may_merge() -> None:
    assert merge_blockers(verdict(), MergePolicy(mode="when-approved")) == []


@pytest.mark.parametrize(
    ("changes", "blocker"),
    [
        ({"statuses": {"ci": "pending"}}, "status ci is pending"),
        ({"statuses": {"ci": "failure", "lint": "success"}}, "status ci is failure"),
        ({"approved_by": []}, "0 of 1 required approvals"),
        ({"changes_requested_by": ["bob"]}, "changes requested by bob"),
        ({"mergeable": False}, "the forge reports it is not mergeable (conflicts with the base)"),
        ({"head_sha": ""}, "the head commit is unknown"),
        ({"state": "closed"}, "it is closed"),
        ({"merged": True}, "it is merged already"),
    ],
)
def test_each_rule_that_does_not_hold_is_named(changes: dict[str, object], blocker: str) -> None:
    assert blocker in merge_blockers(verdict(**changes), MergePolicy(mode="when-approved"))


def test_required_statuses_must_be_reported_and_green_others_do_not_count() -> None:
    required = ["ci", "docs"]
    assert status_blockers({"ci": "success"}, required) == ["status docs is missing"]
    assert status_blockers({"ci": "success", "docs": "pending", "x": "failure"}, required) == [
        "status docs is pending"
    ]
    assert status_blockers({"ci": "success", "docs": "success", "x": "failure"}, required) == []


def test_without_required_statuses_every_reported_status_must_be_green() -> None:
    assert status_blockers({}, []) == []
    assert status_blockers({"ci": "success", "e2e": "pending"}, []) == ["status e2e is pending"]


def test_approvals_count_distinct_people() -> None:
    policy = MergePolicy(mode="when-approved", required_approvals=2)
    assert merge_blockers(verdict(), policy) == ["1 of 2 required approvals"]
    assert merge_blockers(verdict(approved_by=["alice", "carol"]), policy) == []


def test_policy_rejects_unknown_keys_and_modes() -> None:
    with pytest.raises(ValidationError):
        MergePolicy.model_validate({"mode": "always"})
    with pytest.raises(ValidationError):
        MergePolicy.model_validate({"mode": "never", "stlye": "squash"})
    assert MergePolicy().mode == "never"
