"""Names shared by workers, starters and workflows: task queue, activities, search attributes.

Workflows call activities by these names, so workflow modules never import I/O code.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "autopilot"

# Forge (Gitea API)
GET_ISSUE = "forge.get_issue"
GET_REPO = "forge.get_repo"
ENSURE_LABELS = "forge.ensure_labels"
SET_ISSUE_LABELS = "forge.set_issue_labels"
UPSERT_COMMENT = "forge.upsert_comment"
OPEN_PULL_REQUEST = "forge.open_pull_request"

# Model
DRAFT_PLAN = "model.draft_plan"
DRAFT_EDITS = "model.draft_edits"
REVIEW_CHANGE = "model.review_change"

# Workspace (git and test runs)
PREPARE_WORKSPACE = "workspace.prepare"
READ_FILES = "workspace.read_files"
APPLY_EDITS = "workspace.apply_edits"
RUN_TESTS = "workspace.run_tests"
DIFF_SUMMARY = "workspace.diff_summary"

# Search attributes the Web UI filters runs by (registered by the dev stack).
SA_REPO = SearchAttributeKey.for_keyword("Repo")
SA_ISSUE = SearchAttributeKey.for_int("Issue")
SA_STAGE = SearchAttributeKey.for_keyword("Stage")
SA_OUTCOME = SearchAttributeKey.for_keyword("Outcome")
# "<cross-repo workflow name>:<trigger repo>#<n>" on a CrossRepoWorkflow and all its children.
SA_CROSS_REPO = SearchAttributeKey.for_keyword("CrossRepo")
SEARCH_ATTRIBUTES = (SA_REPO, SA_ISSUE, SA_STAGE, SA_OUTCOME, SA_CROSS_REPO)

# Error types raised by activities as non-retryable ApplicationErrors; workflows match on them.
ERR_INVALID_MODEL_OUTPUT = "InvalidModelOutput"
ERR_UNSAFE_EDIT = "UnsafeEdit"
ERR_NOT_FOUND = "NotFound"
ERR_UNAUTHORIZED = "Unauthorized"
ERR_FORBIDDEN = "Forbidden"
ERR_INVALID_REQUEST = "InvalidRequest"
ERR_REPO_ARCHIVED = "RepoArchived"

# Labels Autopilot puts on issues.
LABEL_IN_PROGRESS = "autopilot-in-progress"
LABEL_NEEDS_HUMAN = "needs-human"
LABEL_PR_OPEN = "autopilot-pr-open"
LABEL_FAILED = "autopilot-failed"
