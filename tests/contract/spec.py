"""Gitea 1.25.4 Swagger spec tooling: find operations and validate bodies against them.

The spec is Swagger 2.0; its schemas are turned into JSON Schema draft 4 for ``jsonschema``.
What the spec gets wrong about the wire (see ``gitea-notes.md`` in the reference folder) is
encoded here in explicit, commented tables rather than scattered through tests.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

REFERENCE_ENV = "AUTOPILOT_GITEA_REFERENCE"
SPEC_FILE = "gitea-swagger.v1.json"
BASE_PATH = "/api/v1"

# Keys Gitea sends that the spec does not declare (gitea-notes §0: User JSON carries `username`,
# a copy of `login` kept for Gogs compatibility).
DOCUMENTED_EXTRAS: dict[str, frozenset[str]] = {"User": frozenset({"username"})}

# Error bodies. The spec describes `error`, `validationError`, `forbidden`, `repoArchivedError`
# as "headers" message/url; on the wire they are a JSON body {message, url} (gitea-notes §0,
# APIError). Not-found bodies add `errors` (array or null). Error responses the spec leaves
# without schema (`empty`, `notFound`, inline descriptions) are sent the same way.
ERROR_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message", "url"],
    "properties": {
        "message": {"type": "string"},
        "url": {"type": "string"},
        "errors": {"type": ["array", "null"]},
    },
    "additionalProperties": False,
}

_REPO = "/repos/{owner}/{repo}"

# Statuses Gitea really answers that an operation does not declare. Each entry is
# (predicate over (method, template, operation), statuses, why) — one table, on purpose.
UNDECLARED_STATUS_QUIRKS: list[tuple[Any, frozenset[int], str]] = [
    (
        lambda m, t, op: True,
        frozenset({401}),
        "gitea-notes §0: missing creds -> 401 'token is required', bad creds -> 401 "
        "'invalid username, password or token'; the spec declares security only globally",
    ),
    (
        lambda m, t, op: (
            t.startswith(_REPO)
            or t.startswith("/users/{username}")
            or t.startswith("/admin/users/{username}")
        ),
        frozenset({404}),
        "gitea-notes §0: unknown, private or foreign repos and users answer 404 on every route",
    ),
    (
        lambda m, t, op: any(p.get("in") == "body" for p in op.get("parameters", [])),
        frozenset({422}),
        'gitea-notes §0: invalid JSON and missing binding:"Required" fields give 422',
    ),
    (
        lambda m, t, op: m != "GET" and t.startswith(_REPO),
        frozenset({423}),
        "gitea-notes §2: writes to an archived repository answer 423 (repoArchivedError)",
    ),
    (
        lambda m, t, op: m != "GET" and (t.startswith(_REPO) or t.startswith("/admin/")),
        frozenset({403}),
        "gitea-notes §2 ('403 and 404 as usual'): the reqRepoWriter / reqSiteAdmin middlewares "
        "answer 403 on every write route the caller may not use",
    ),
    (
        lambda m, t, op: t == _REPO + "/issues/{index}/labels" and m in ("POST", "PUT"),
        frozenset({400}),
        "gitea-notes §2 issue labels: mixed id/name lists or other JSON types give 400",
    ),
]

# Bodies the spec does not describe for a declared status: GET contents/{filepath} answers
# a directory with a list (gitea-notes §2, "ContentsResponse (or a list for a directory)").
ALTERNATIVE_BODIES: dict[tuple[str, str, int], dict[str, Any]] = {
    ("GET", _REPO + "/contents/{filepath}", 200): {
        "type": "array",
        "items": {"$ref": "#/definitions/ContentsResponse"},
    },
}

# Path parameters that Gitea routes with a wildcard, so their value may contain '/'.
_WILDCARD_PARAMS = frozenset({"filepath", "branch"})

# Swagger-only keywords that draft 4 does not know; dropped to keep schemas readable.
_SWAGGER_ONLY = (
    "x-go-name",
    "x-go-package",
    "x-go-enum-desc",
    "x-nullable",
    "example",
    "discriminator",
    "readOnly",
    "xml",
    "externalDocs",
)


def reference_dir() -> Path:
    env = os.environ.get(REFERENCE_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"


@functools.cache
def load_spec() -> dict[str, Any]:
    path = reference_dir() / SPEC_FILE
    with path.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = json.load(fh)
    return spec


def operation(method: str, path_template: str) -> dict[str, Any]:
    """The raw Swagger operation; KeyError when the spec lacks it."""
    path_item = load_spec()["paths"].get(path_template)
    op = None if path_item is None else path_item.get(method.lower())
    if op is None:
        raise KeyError(f"spec has no operation {method.upper()} {path_template}")
    result: dict[str, Any] = op
    return result


@functools.cache
def _templates() -> list[tuple[str, re.Pattern[str], int]]:
    out = []
    for template in load_spec()["paths"]:
        parts = []
        literals = 0
        for seg in template.strip("/").split("/"):
            m = re.fullmatch(r"\{(\w+)\}", seg)
            if m:
                parts.append("(.+)" if m.group(1) in _WILDCARD_PARAMS else "([^/]+)")
            else:
                parts.append(re.escape(seg))
                literals += 1
        out.append((template, re.compile("^/" + "/".join(parts) + "$"), literals))
    return out


def match_path(method: str, concrete_path: str) -> str:
    """The spec template a concrete request path (with or without /api/v1, query) maps to."""
    path = concrete_path.split("?", 1)[0].split("#", 1)[0]
    if path.startswith(BASE_PATH + "/"):
        path = path[len(BASE_PATH) :]
    path = "/" + path.strip("/")
    paths = load_spec()["paths"]
    candidates = [
        (literals, -template.count("{"), template)
        for template, rx, literals in _templates()
        if method.lower() in paths[template] and rx.match(path)
    ]
    if not candidates:
        raise KeyError(f"no spec operation matches {method.upper()} {concrete_path}")
    # Most literal segments wins, like a router: /pulls/{index}/merge beats /pulls/{base}/{head}.
    return max(candidates)[2]


# --- Swagger 2.0 -> JSON Schema draft 4 -------------------------------------------------------


def _resolve(ref: str) -> dict[str, Any]:
    node: Any = load_spec()
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    result: dict[str, Any] = node
    return result


def _base_type(schema: dict[str, Any]) -> Any:
    seen = 0
    while "$ref" in schema and seen < 20:
        schema = _resolve(schema["$ref"])
        seen += 1
    if "type" in schema:
        return schema["type"]
    return "object" if "properties" in schema else None


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Let a property be null when Go can send null for it.

    Gitea's structs marshal nil pointers and nil slices as JSON null and have no omitempty
    (gitea-notes §0): `milestone`, `assignee`, `pull_request`, `merged_by` (nil *struct),
    `closed_at`, `due_date`, `merged_at` (nil *time.Time) and e.g. `assignees` (nil slice) all
    arrive as null. The spec (Swagger 2.0) has no nullable, so object-, string- and
    array-typed properties accept null; integers and booleans never do.
    """
    if _base_type(schema) in ("object", "string", "array", None):
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


def _convert(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_convert(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SWAGGER_ONLY:
            continue
        if key == "properties":
            required = set(schema.get("required", []))
            out[key] = {
                name: _convert(sub) if name in required else _nullable(_convert(sub))
                for name, sub in value.items()
            }
        elif key == "type" and value == "file":
            continue  # raw downloads: any body
        else:
            out[key] = _convert(value)
    return out


# Integer fields Gitea declares as Go pointers (*int64), so they arrive as null when unset:
# ContentsResponse.lfs_size is nil unless the file is stored in LFS (gitea-notes §2, contents).
NULLABLE_SCALARS: dict[str, tuple[str, ...]] = {"ContentsResponse": ("lfs_size",)}


# Enum values Gitea sends beyond the spec's enum: a ref without any status has a combined
# `state` of "" (the Go zero value; ToCombinedStatus only sets it when there are statuses).
ENUM_EXTRAS: dict[tuple[str, str], tuple[str, ...]] = {("CombinedStatus", "state"): ("",)}


@functools.cache
def _definitions() -> dict[str, Any]:
    defs: dict[str, Any] = _convert(load_spec()["definitions"])
    for name, fields in NULLABLE_SCALARS.items():
        props = defs[name]["properties"]
        for field in fields:
            props[field] = {"anyOf": [props[field], {"type": "null"}]}
    for (name, field), extra in ENUM_EXTRAS.items():
        prop = defs[name]["properties"][field]
        target = prop["anyOf"][0] if "anyOf" in prop else prop
        target["enum"] = [*target["enum"], *extra]
    return defs


def _validator(schema: dict[str, Any]) -> Draft4Validator:
    root = dict(_convert(schema))
    root["definitions"] = _definitions()
    return Draft4Validator(root)


def _check_schema(schema: dict[str, Any], body: object, what: str) -> None:
    errors = sorted(_validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"  at {'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:300]}"
            for e in errors[:10]
        ]
        raise AssertionError(f"{what} does not match the spec:\n" + "\n".join(lines))


def _check_declared(schema: dict[str, Any], body: object, where: str, problems: list[str]) -> None:
    """Every key sent must be a declared property (plus DOCUMENTED_EXTRAS)."""
    name = None
    seen = 0
    while "$ref" in schema and seen < 20:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = _resolve(schema["$ref"])
        seen += 1
    if isinstance(body, dict):
        props: dict[str, Any] = schema.get("properties", {})
        if props:
            allowed = set(props) | DOCUMENTED_EXTRAS.get(name or "", frozenset())
            for key in sorted(set(body) - allowed):
                problems.append(f"{where or '<root>'}: undeclared property {key!r} on {name}")
            for key, sub in props.items():
                if key in body:
                    _check_declared(sub, body[key], f"{where}/{key}".lstrip("/"), problems)
        elif isinstance(schema.get("additionalProperties"), dict):
            for key, value in body.items():
                _check_declared(schema["additionalProperties"], value, f"{where}/{key}", problems)
    elif isinstance(body, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(body):
            _check_declared(schema["items"], item, f"{where}/{i}".lstrip("/"), problems)


def _assert_declared(schema: dict[str, Any], body: object, what: str) -> None:
    problems: list[str] = []
    _check_declared(schema, body, "", problems)
    if problems:
        raise AssertionError(
            f"{what} sends fields the spec does not declare:\n  " + "\n  ".join(problems[:20])
        )


def _is_empty(body: object) -> bool:
    return body is None or body == "" or body == b""


def _response_spec(method: str, path_template: str, status: int) -> dict[str, Any] | None:
    """The declared response for status, or None for a documented undeclared quirk."""
    op = operation(method, path_template)
    responses: dict[str, Any] = op["responses"]
    declared = responses.get(str(status))
    if declared is not None:
        return _resolve(declared["$ref"]) if "$ref" in declared else declared
    for predicate, statuses, _why in UNDECLARED_STATUS_QUIRKS:
        if status in statuses and predicate(method.upper(), path_template, op):
            return None
    raise AssertionError(
        f"{method.upper()} {path_template} answered {status}, which the spec does not declare "
        f"(declared: {', '.join(sorted(responses))}) and no documented quirk allows"
    )


def validate_response(
    method: str,
    path_template: str,
    status: int,
    body: object,
    *,
    declared_only: bool = True,
) -> None:
    """Assert that (status, parsed JSON body) is what Gitea 1.25.4 may answer.

    ``body`` is the parsed JSON, or None / "" for an empty body. With ``declared_only`` every
    key the body carries must be declared by the spec (a forge must not invent fields).
    """
    what = f"{method.upper()} {path_template} -> {status}"
    response = _response_spec(method, path_template, status)
    if status >= 400:
        # Error bodies: JSON {message, url[, errors]} on the wire, or nothing (gitea-notes §0).
        if not _is_empty(body):
            _check_schema(ERROR_BODY_SCHEMA, body, f"{what} error body")
        return
    schema = None if response is None else response.get("schema")
    if schema is None:
        if not _is_empty(body):
            raise AssertionError(f"{what} must have an empty body, got {str(body)[:200]!r}")
        return
    alternative = ALTERNATIVE_BODIES.get((method.upper(), path_template, status))
    if alternative is not None and isinstance(body, list):
        schema = alternative
    if _is_empty(body) and _base_type(schema) != "string":
        raise AssertionError(f"{what} must have a JSON body, got an empty one")
    _check_schema(schema, body, f"{what} body")
    if declared_only:
        _assert_declared(schema, body, what)


def _body_schema(method: str, path_template: str) -> dict[str, Any] | None:
    for param in operation(method, path_template).get("parameters", []):
        if param.get("in") == "body":
            schema: dict[str, Any] = param["schema"]
            return schema
    return None


# Fields Gitea's binding requires although the spec does not mark them required
# (gitea-notes §2, CreatePullRequestOption: binding:"Required" on head, base, title).
BINDING_REQUIRED: dict[str, tuple[str, ...]] = {
    "CreatePullRequestOption": ("head", "base", "title"),
}


def _go_json_keys(schema: dict[str, Any], body: object) -> object:
    """Rename keys the way Go's encoding/json matches them: case-insensitively.

    That is why Gitea 1.25.4 accepts `do` for MergePullRequestOption.Do (gitea-notes §2).
    """
    if "$ref" in schema:
        schema = _resolve(schema["$ref"])
    props: dict[str, Any] = schema.get("properties", {})
    if not isinstance(body, dict) or not props:
        return body
    by_lower = {name.lower(): name for name in props}
    out: dict[str, Any] = {}
    for key, value in body.items():
        name: str = key if key in props else by_lower.get(str(key).lower(), str(key))
        out[name] = _go_json_keys(props[name], value) if name in props else value
    return out


def validate_request_body(
    method: str, path_template: str, body: object, *, declared_only: bool = True
) -> None:
    """Assert that body is a request body Gitea 1.25.4 accepts for the operation."""
    what = f"{method.upper()} {path_template} request"
    schema = _body_schema(method, path_template)
    if schema is None:
        if not _is_empty(body):
            raise AssertionError(f"{what} takes no body")
        return
    body = _go_json_keys(schema, copy.deepcopy(body))
    _check_schema(schema, body, f"{what} body")
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    missing = [
        f
        for f in BINDING_REQUIRED.get(name, ())
        if not isinstance(body, dict) or body.get(f) in (None, "")
    ]
    if missing:
        raise AssertionError(f"{what} body lacks required fields: {', '.join(missing)}")
    if declared_only:
        _assert_declared(schema, body, what)
