"""The review half of the forge's store: pull request reviews, their line comments, and
repository collaborators (who may write, so whose reviews are official)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from devstack.forge.store_labels import Row, Tables

REVIEW_SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id), state TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '', commit_id TEXT NOT NULL DEFAULT '',
    comments_count INTEGER NOT NULL DEFAULT 0, submitted TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS review_comments (
    id INTEGER PRIMARY KEY, review_id INTEGER NOT NULL REFERENCES reviews(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id), path TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '', old_line INTEGER NOT NULL DEFAULT 0,
    new_line INTEGER NOT NULL DEFAULT 0, commit_id TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collaborators (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    permission TEXT NOT NULL, PRIMARY KEY (repo_id, user_id));
"""


class ReviewTables(Tables):
    def create_review(
        self,
        issue_id: int,
        user_id: int,
        state: str,
        body: str,
        commit_id: str,
        comments: Sequence[Mapping[str, Any]],
        stamp: str,
    ) -> Row:
        rid = self._insert(
            "INSERT INTO reviews (issue_id, user_id, state, body, commit_id, comments_count, "
            "submitted) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (issue_id, user_id, state, body, commit_id, len(comments), stamp),
        )
        for comment in comments:
            self._insert(
                "INSERT INTO review_comments (review_id, user_id, path, body, old_line, "
                "new_line, commit_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rid,
                    user_id,
                    str(comment.get("path") or ""),
                    str(comment.get("body") or ""),
                    int(comment.get("old_position") or 0),
                    int(comment.get("new_position") or 0),
                    commit_id,
                    stamp,
                ),
            )
        self.db.execute("UPDATE issues SET updated = ? WHERE id = ?", (stamp, issue_id))
        row = self.review(rid)
        assert row is not None
        return row

    def review(self, review_id: int) -> Row | None:
        return self._one("SELECT * FROM reviews WHERE id = ?", (review_id,))

    def reviews(self, issue_id: int) -> list[Row]:
        return self._all("SELECT * FROM reviews WHERE issue_id = ? ORDER BY id", (issue_id,))

    def review_comments(self, review_id: int) -> list[Row]:
        sql = "SELECT * FROM review_comments WHERE review_id = ? ORDER BY id"
        return self._all(sql, (review_id,))

    def review_comment_count(self, issue_id: int) -> int:
        row = self._one(
            "SELECT COUNT(*) FROM review_comments JOIN reviews "
            "ON reviews.id = review_comments.review_id WHERE reviews.issue_id = ?",
            (issue_id,),
        )
        return int(row[0]) if row else 0

    # --- collaborators ------------------------------------------------------------------------

    def set_collaborator(self, repo_id: int, user_id: int, permission: str) -> None:
        self.db.execute(
            "INSERT INTO collaborators (repo_id, user_id, permission) VALUES (?, ?, ?) "
            "ON CONFLICT (repo_id, user_id) DO UPDATE SET permission = excluded.permission",
            (repo_id, user_id, permission),
        )

    def collaborator_permission(self, repo_id: int, user_id: int) -> str | None:
        sql = "SELECT permission FROM collaborators WHERE repo_id = ? AND user_id = ?"
        row = self._one(sql, (repo_id, user_id))
        return str(row[0]) if row else None
