"""Every Gitea endpoint the client calls, as (method, spec path template) under ``/api/v1``.

The client renders requests only from these constants, so ``CLIENT_OPERATIONS`` is complete by
construction and a coverage test can compare it with the spec and the test forge.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

# Path parameters that may legitimately contain '/' (a file path inside the repository).
_SLASHED_PARAMS = frozenset({"filepath"})


@dataclass(frozen=True)
class Operation:
    method: str
    template: str

    def render(self, **params: str | int) -> str:
        """Fill the template, percent-encoding each value (branch names may contain '/')."""
        encoded = {
            name: quote(str(value), safe="/" if name in _SLASHED_PARAMS else "")
            for name, value in params.items()
        }
        return self.template.format(**encoded)


_REPO = "/repos/{owner}/{repo}"

VERSION = Operation("GET", "/version")
CURRENT_USER = Operation("GET", "/user")
GET_REPO = Operation("GET", _REPO)
LIST_BRANCHES = Operation("GET", _REPO + "/branches")
GET_BRANCH = Operation("GET", _REPO + "/branches/{branch}")
GET_PERMISSION = Operation("GET", _REPO + "/collaborators/{collaborator}/permission")
CREATE_BRANCH = Operation("POST", _REPO + "/branches")
DELETE_BRANCH = Operation("DELETE", _REPO + "/branches/{branch}")
LIST_ISSUES = Operation("GET", _REPO + "/issues")
CREATE_ISSUE = Operation("POST", _REPO + "/issues")
GET_ISSUE = Operation("GET", _REPO + "/issues/{index}")
EDIT_ISSUE = Operation("PATCH", _REPO + "/issues/{index}")
LIST_LABELS = Operation("GET", _REPO + "/labels")
CREATE_LABEL = Operation("POST", _REPO + "/labels")
DELETE_LABEL = Operation("DELETE", _REPO + "/labels/{id}")
LIST_ISSUE_LABELS = Operation("GET", _REPO + "/issues/{index}/labels")
ADD_ISSUE_LABELS = Operation("POST", _REPO + "/issues/{index}/labels")
REMOVE_ISSUE_LABEL = Operation("DELETE", _REPO + "/issues/{index}/labels/{id}")
LIST_COMMENTS = Operation("GET", _REPO + "/issues/{index}/comments")
CREATE_COMMENT = Operation("POST", _REPO + "/issues/{index}/comments")
GET_COMMENT = Operation("GET", _REPO + "/issues/comments/{id}")
EDIT_COMMENT = Operation("PATCH", _REPO + "/issues/comments/{id}")
DELETE_COMMENT = Operation("DELETE", _REPO + "/issues/comments/{id}")
GET_CONTENTS = Operation("GET", _REPO + "/contents/{filepath}")
LIST_PULLS = Operation("GET", _REPO + "/pulls")
CREATE_PULL = Operation("POST", _REPO + "/pulls")
GET_PULL = Operation("GET", _REPO + "/pulls/{index}")
EDIT_PULL = Operation("PATCH", _REPO + "/pulls/{index}")
MERGE_PULL = Operation("POST", _REPO + "/pulls/{index}/merge")
IS_MERGED = Operation("GET", _REPO + "/pulls/{index}/merge")
LIST_REVIEWS = Operation("GET", _REPO + "/pulls/{index}/reviews")
CREATE_REVIEW = Operation("POST", _REPO + "/pulls/{index}/reviews")
LIST_REVIEW_COMMENTS = Operation("GET", _REPO + "/pulls/{index}/reviews/{id}/comments")
CREATE_STATUS = Operation("POST", _REPO + "/statuses/{sha}")
LIST_STATUSES = Operation("GET", _REPO + "/statuses/{sha}")
COMBINED_STATUS = Operation("GET", _REPO + "/commits/{ref}/status")

ALL: tuple[Operation, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Operation))

CLIENT_OPERATIONS: frozenset[tuple[str, str]] = frozenset((op.method, op.template) for op in ALL)
