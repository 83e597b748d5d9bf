"""Structured logging for workers: one JSON object per line on stderr, secrets redacted.

structlog renders both its own events and stdlib records (temporalio's ``workflow.logger`` and
``activity.logger`` included), so every line has the same shape. Lines logged inside a workflow or
activity carry ``workflow_id``, ``run_id`` and ``stage``.

Workflows set their stage per call with ``workflow.logger.info(..., extra={"stage": ...})``: the
sandbox re-imports modules, so a workflow cannot share the ``current_stage`` contextvar below.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any, TextIO, get_args

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger
from temporalio import activity, workflow

from domain import names
from domain.run import Stage

STAGES = frozenset(get_args(Stage))

# Set by activity or worker code that knows its stage better than the activity-type table.
current_stage: ContextVar[str | None] = ContextVar("autopilot_current_stage", default=None)

# Activities that belong to one stage. Shared ones (labels, comments, reading files, preparing the
# workspace) are left out: their stage comes from ``current_stage`` or an explicit ``stage``.
ACTIVITY_STAGES: Mapping[str, Stage] = {
    names.GET_ISSUE: "intake",
    names.GET_REPO: "intake",
    names.ENSURE_LABELS: "intake",
    names.DRAFT_PLAN: "plan",
    names.DRAFT_EDITS: "implement",
    names.APPLY_EDITS: "implement",
    names.RUN_TESTS: "verify",
    names.REVIEW_CHANGE: "review",
    names.DIFF_SUMMARY: "review",
    names.OPEN_PULL_REQUEST: "pull_request",
}
NO_STAGE = "-"
REDACTED = "[redacted]"

# Key names whose values are secrets: token, forge_token, api_key, X-Api-Key, Authorization,
# password, client_secret... but not input_tokens, max_tokens or token_env (counts and env names).
_SECRET_KEY = re.compile(
    r"(?:^|[_\-.])(?:token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key"
    r"|authorization|password|passwd|secret|credentials?)$",
    re.IGNORECASE,
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Shorter values would redact ordinary words; real tokens and keys are far longer.
MIN_SECRET_LENGTH = 4

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_secret_pattern: re.Pattern[str] | None = None

# Record attributes temporalio adds; their useful parts become flat fields instead.
_TEMPORAL_EXTRAS = ("temporal_workflow", "temporal_activity", "workflow_info", "activity_info")


def register_secret(value: str | None) -> None:
    """Redact ``value`` wherever it appears in any later log line."""
    global _secret_pattern
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # Longest first, so a secret containing another is replaced whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(_CAMEL_BOUNDARY.sub("_", key)))


def redact_text(text: str) -> str:
    pattern = _secret_pattern
    return pattern.sub(REDACTED, text) if pattern else text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED
            if isinstance(k, str) and is_secret_key(k) and v is not None
            else _redact_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set):
        return [_redact_value(v) for v in value]
    return value


def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: hide secret-named keys and every registered secret value."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):
            continue  # structlog's own bookkeeping (the LogRecord)
        if is_secret_key(key) and value is not None:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(value)
    return event_dict


def add_core_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Lines forwarded from Temporal's Rust core: its target and fields as plain keys."""
    entry = event_dict.pop("temporal_log", None)
    if entry is None:
        return event_dict
    event_dict["core_target"] = getattr(entry, "target", NO_STAGE)
    fields = getattr(entry, "fields", None)
    if isinstance(fields, Mapping):
        for key, value in fields.items():
            event_dict.setdefault(str(key), value)
    return event_dict


def add_temporal_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Add workflow_id, run_id and stage to lines logged inside an activity or a workflow."""
    record = event_dict.get("_record")
    explicit_stage = event_dict.get("stage") or getattr(record, "stage", None)
    for extra in _TEMPORAL_EXTRAS:
        event_dict.pop(extra, None)

    table_stage: str | None = None
    if activity.in_activity():
        info = activity.info()
        event_dict.setdefault("workflow_id", info.workflow_id or NO_STAGE)
        event_dict.setdefault("run_id", info.workflow_run_id or NO_STAGE)
        event_dict.setdefault("activity_type", info.activity_type)
        # Workflows name activity ids "<stage>-<n>", so shared activities log their real stage.
        id_stage = info.activity_id.rsplit("-", 1)[0]
        table_stage = id_stage if id_stage in STAGES else ACTIVITY_STAGES.get(info.activity_type)
    else:
        details = getattr(record, "temporal_workflow", None)
        if not isinstance(details, Mapping):
            return event_dict  # not Temporal code: no workflow fields to add
        event_dict.setdefault("workflow_id", details.get("workflow_id", NO_STAGE))
        event_dict.setdefault("run_id", details.get("run_id", NO_STAGE))
    event_dict["stage"] = explicit_stage or current_stage.get() or table_stage or NO_STAGE
    return event_dict


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (so test capture and redirects work)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def _scrub_rendered(renderer: Processor) -> Processor:
    """Redact once more after rendering: reprs of arbitrary objects may hold a secret."""

    def render(logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        return redact_text(str(renderer(logger, name, event_dict)))

    return render


def configure_logging(
    level: str = "INFO", json_format: bool = True, secrets: Iterable[str] = ()
) -> None:
    """Route structlog and stdlib logging to stderr as JSON lines (or console text).

    Safe to call again: it replaces the handler it installed before.
    """
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR")
    for secret in secrets:
        register_secret(secret)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: module-level loggers created before this call must still pick it up.
        cache_logger_on_first_use=False,
    )
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if json_format
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            add_core_fields,
            add_temporal_context,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _scrub_rendered(renderer),
        ],
    )
    _install(formatter, numeric_level)
    # The fields above carry the Temporal details; don't also paste them into every message.
    _no_info_on_message(activity.logger)
    _no_info_on_message(workflow.logger)


def _install(formatter: logging.Formatter, level: int) -> None:
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("autopilot")
    root = logging.getLogger()
    for old in list(root.handlers):
        # Ours from an earlier call, and plain basicConfig-style handlers that would print non-JSON.
        if old.get_name() == "autopilot" or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def _no_info_on_message(adapter: object) -> None:
    for attribute in ("activity_info_on_message", "workflow_info_on_message"):
        if hasattr(adapter, attribute):
            setattr(adapter, attribute, False)
