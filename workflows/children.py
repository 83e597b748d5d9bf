"""Search attributes for child runs, so ``Repo="owner/name"`` in the Web UI finds them too."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from domain import names
from domain.issue import IssueRef

# Before it, task and candidate runs started without any search attributes.
CHILD_SEARCH_ATTRIBUTES = "child-search-attributes"


def task_search_attributes(issue: IssueRef) -> TypedSearchAttributes | None:
    """``Repo``, ``Issue`` and ``Stage`` for a task run of ``issue`` (None in older runs)."""
    if not workflow.patched(CHILD_SEARCH_ATTRIBUTES):
        return None
    return TypedSearchAttributes(
        [
            SearchAttributePair(names.SA_REPO, issue.repo.full_name),
            SearchAttributePair(names.SA_ISSUE, issue.number),
            SearchAttributePair(names.SA_STAGE, "implement"),
        ]
    )


def inherited_search_attributes() -> TypedSearchAttributes | None:
    """This run's own attributes, for a child doing part of its work (a task's candidates)."""
    if not workflow.patched(CHILD_SEARCH_ATTRIBUTES):
        return None
    own = workflow.info().typed_search_attributes
    return own if own.search_attributes else None
