"""The contract between workflows, activities, workers and starters, by name.

Every workflow type, activity, handler and error type that crosses the workflow/activity
boundary is named here once; timeouts and retry policies live in ``workflows/options.py``.
Workflows call activities by these names, so workflow modules never import I/O code.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "autopilot"

# Workflow types
ISSUE_WORKFLOW = "IssueWorkflow"
TASK_WORKFLOW = "TaskWorkflow"
CROSS_REPO_WORKFLOW = "CrossRepoWorkflow"
LEDGER_WORKFLOW = "BudgetLedgerWorkflow"
# The one global budget ledger, and its Updates and query.
LEDGER_WORKFLOW_ID = "autopilot:budget-ledger"
LEDGER_RESERVE = "reserve"
LEDGER_SETTLE = "settle"
LEDGER_RAISE_LIMIT = "raise_limit"
LEDGER_SNAPSHOT = "snapshot"
# One learning workflow per repository (``domain.learning.learning_workflow_id``): outcome
# records and lessons; its signals, Updates and query.
LEARNING_WORKFLOW = "RepoLearningWorkflow"
LEARNING_RECORD = "record_outcome"
LEARNING_MERGED = "record_merged"
LEARNING_SNAPSHOT = "learning_snapshot"
LEARNING_EDIT_LESSON = "edit_lesson"
LEARNING_DELETE_LESSON = "delete_lesson"

# The deployment's one control workflow (``domain.mode``): its Update and query, and the
# signal it sends every running IssueWorkflow and TaskWorkflow when the mode changes.
CONTROL_WORKFLOW = "ControlWorkflow"
CONTROL_WORKFLOW_ID = "autopilot:control"
CONTROL_SET_MODE = "set_mode"
CONTROL_MODE_QUERY = "mode"
MODE_SIGNAL = "mode"
CONTROL_MODE_MEMO = "mode"  # the control workflow's memo key holding the same state

# The IssueWorkflow's query of its status (``domain.run.IssueStatus``).
ISSUE_STATUS_QUERY = "status"
# The background schedules (``workers.schedules``) and the workflows they start.
STUCK_RUNS_WORKFLOW = "StuckRunsWorkflow"
MAINTENANCE_WORKFLOW = "MaintenanceWorkflow"
COST_REPORT_WORKFLOW = "CostReportWorkflow"
STUCK_RUNS_SCHEDULE_ID = "autopilot:stuck-runs"
MAINTENANCE_SCHEDULE_ID = "autopilot:maintenance"
COST_REPORT_SCHEDULE_ID = "autopilot:cost-report"

# The signal a forge event about an issue run's PR sends it (reviews, comments, close).
PR_EVENT_SIGNAL = "pr-event"

# Forge (Gitea API)
GET_ISSUE = "forge.get_issue"
GET_REPO = "forge.get_repo"
ENSURE_LABELS = "forge.ensure_labels"
SET_ISSUE_LABELS = "forge.set_issue_labels"
UPSERT_COMMENT = "forge.upsert_comment"
FIND_COMMENT = "forge.find_comment"
OPEN_PULL_REQUEST = "forge.open_pull_request"
ENSURE_LINKED_ISSUE = "forge.ensure_linked_issue"
PULL_VERDICT = "forge.pull_verdict"
PULL_FEEDBACK = "forge.pull_feedback"
UPDATE_PULL_SECTION = "forge.update_pull_section"
MERGE_PULL = "forge.merge_pull"
CLOSE_PULL = "forge.close_pull"
DELETE_BRANCH = "forge.delete_branch"

# Model
DRAFT_PLAN = "model.draft_plan"
DRAFT_EDITS = "model.draft_edits"
REVIEW_CHANGE = "model.review_change"
RESOLVE_CONFLICT = "model.resolve_conflict"
AGENT_TURN = "model.agent_turn"
BUDGET_RESERVE = "budget.reserve"
BUDGET_SETTLE = "budget.settle"

# Learning (the repository's learning workflow)
RECORD_OUTCOME = "learning.record_outcome"
RECALL_LESSONS = "learning.recall_lessons"

# The control workflow's: push a mode to every running run.
BROADCAST_MODE = "control.broadcast_mode"

# The schedules' (``activities.operations``).
FIND_STUCK_RUNS = "ops.find_stuck_runs"
DELETE_DONE_BRANCHES = "ops.delete_done_branches"
PRUNE_DISK = "ops.prune_disk"
COST_REPORT = "ops.cost_report"

# Workspace (git and test runs)
PREPARE_WORKSPACE = "workspace.prepare"
READ_FILES = "workspace.read_files"
APPLY_EDITS = "workspace.apply_edits"
RUN_TESTS = "workspace.run_tests"
DIFF_SUMMARY = "workspace.diff_summary"
ENSURE_BRANCH = "workspace.ensure_branch"
INTEGRATE = "workspace.integrate"
REVERT_MERGE = "workspace.revert_merge"
RUN_TOOLS = "workspace.run_tools"
REPO_MAP = "workspace.repo_map"
FILE_SIZES = "workspace.file_sizes"
PREPARE_ENVIRONMENT = "workspace.prepare_environment"
SCAN_CHANGE = "workspace.scan_change"

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
ERR_MERGE_REFUSED = "MergeRefused"
# The forge or a model provider is down, refused or answered garbage.
ERR_FORGE_UNAVAILABLE = "ForgeUnavailable"
ERR_FORGE_CONFLICT = "Conflict"
ERR_FORGE_BAD_RESPONSE = "ForgeBadResponse"
ERR_MODEL_UNAVAILABLE = "ModelUnavailable"
ERR_MODEL_REQUEST_REJECTED = "ModelRequestRejected"
ERR_PROVIDER_UNAVAILABLE = "ProviderUnavailable"
# A TaskWorkflow that could not carry out its task; the parent blocks its dependents.
ERR_TASK_FAILED = "TaskFailed"
# Repository code cannot be confined here (no bubblewrap, or the kernel refuses namespaces).
ERR_SANDBOX_UNAVAILABLE = "SandboxUnavailable"

# Labels Autopilot puts on issues.
LABEL_IN_PROGRESS = "autopilot-in-progress"
LABEL_NEEDS_HUMAN = "needs-human"
LABEL_PR_OPEN = "autopilot-pr-open"
LABEL_FAILED = "autopilot-failed"
