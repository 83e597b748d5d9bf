"""The forge's durable state in sqlite: users, tokens, repos, labels, issues, PRs, statuses,
reviews (store_reviews.py).

Git data lives in bare repositories (see git.py); this store only keeps what Gitea keeps in
its database. Every write commits at once, so a killed forge loses nothing it acknowledged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devstack.forge.store_labels import LabelTables, Row
from devstack.forge.store_reviews import REVIEW_SCHEMA, ReviewTables

__all__ = ["Row", "Store", "check_password", "now"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE COLLATE NOCASE, email TEXT NOT NULL,
    full_name TEXT NOT NULL DEFAULT '', is_admin INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, last_eight TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '', created TEXT NOT NULL, UNIQUE (user_id, name));
CREATE TABLE IF NOT EXISTS repos (
    id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL COLLATE NOCASE, description TEXT NOT NULL DEFAULT '',
    private INTEGER NOT NULL DEFAULT 0, default_branch TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0, archived_at TEXT,
    created TEXT NOT NULL, updated TEXT NOT NULL, UNIQUE (owner_id, name));
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    name TEXT NOT NULL, color TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    exclusive INTEGER NOT NULL DEFAULT 0, is_archived INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS issues (
    id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    number INTEGER NOT NULL, user_id INTEGER NOT NULL REFERENCES users(id),
    title TEXT NOT NULL, body TEXT NOT NULL DEFAULT '', ref TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'open', is_pull INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL, updated TEXT NOT NULL, closed_at TEXT, UNIQUE (repo_id, number));
CREATE TABLE IF NOT EXISTS issue_labels (
    issue_id INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    label_id INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    PRIMARY KEY (issue_id, label_id));
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id), body TEXT NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pulls (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL UNIQUE REFERENCES issues(id) ON DELETE CASCADE,
    head_branch TEXT NOT NULL, base_branch TEXT NOT NULL, merged INTEGER NOT NULL DEFAULT 0,
    merged_at TEXT, merged_by INTEGER REFERENCES users(id), merge_commit_sha TEXT,
    merge_base TEXT NOT NULL DEFAULT '', head_sha TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS statuses (
    id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    sha TEXT NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL, context TEXT NOT NULL,
    description TEXT NOT NULL, target_url TEXT NOT NULL, creator_id INTEGER NOT NULL,
    created TEXT NOT NULL);
"""


def now() -> str:
    """RFC 3339 in UTC, second precision, as Gitea's time.Time marshals."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20_000).hex()
    return f"{salt}${digest}"


def check_password(stored: str | None, password: str) -> bool:
    if not stored or "$" not in stored:
        return False
    salt, digest = stored.split("$", 1)
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20_000).hex()
    return hmac.compare_digest(candidate, digest)


class Store(LabelTables, ReviewTables):
    """All queries the API handlers need; one connection, used from the event loop thread."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(SCHEMA + REVIEW_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # --- users and tokens ---------------------------------------------------------------------

    def create_user(
        self,
        login: str,
        email: str,
        *,
        full_name: str = "",
        password: str | None = None,
        is_admin: bool = False,
    ) -> Row:
        pw = hash_password(password) if password else None
        uid = self._insert(
            "INSERT INTO users (login, email, full_name, is_admin, password_hash, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (login, email, full_name, int(is_admin), pw, now()),
        )
        return self.user(uid)

    def user(self, user_id: int) -> Row:
        row = self._one("SELECT * FROM users WHERE id = ?", (user_id,))
        assert row is not None
        return row

    def user_by_login(self, login: str) -> Row | None:
        return self._one("SELECT * FROM users WHERE login = ?", (login,))

    def email_taken(self, email: str) -> bool:
        return self._one("SELECT 1 FROM users WHERE lower(email) = lower(?)", (email,)) is not None

    def add_token(self, user_id: int, name: str, token: str, scopes: Iterable[str] = ()) -> Row:
        tid = self._insert(
            "INSERT INTO tokens (user_id, name, token_hash, last_eight, scopes, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, name, hash_secret(token), token[-8:], ",".join(scopes), now()),
        )
        row = self._one("SELECT * FROM tokens WHERE id = ?", (tid,))
        assert row is not None
        return row

    def token_name_taken(self, user_id: int, name: str) -> bool:
        sql = "SELECT 1 FROM tokens WHERE user_id = ? AND name = ?"
        return self._one(sql, (user_id, name)) is not None

    def has_token(self, token: str) -> bool:
        sql = "SELECT 1 FROM tokens WHERE token_hash = ?"
        return self._one(sql, (hash_secret(token),)) is not None

    def user_by_token(self, token: str) -> Row | None:
        return self._one(
            "SELECT users.* FROM tokens JOIN users ON users.id = tokens.user_id "
            "WHERE tokens.token_hash = ?",
            (hash_secret(token),),
        )

    # --- repositories -------------------------------------------------------------------------

    def create_repo(
        self, owner_id: int, name: str, *, description: str, private: bool, default_branch: str
    ) -> Row:
        stamp = now()
        rid = self._insert(
            "INSERT INTO repos (owner_id, name, description, private, default_branch, created, "
            "updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (owner_id, name, description, int(private), default_branch, stamp, stamp),
        )
        return self.repo(rid)

    def repo(self, repo_id: int) -> Row:
        row = self._one("SELECT * FROM repos WHERE id = ?", (repo_id,))
        assert row is not None
        return row

    def repo_by_name(self, owner_login: str, name: str) -> Row | None:
        return self._one(
            "SELECT repos.* FROM repos JOIN users ON users.id = repos.owner_id "
            "WHERE users.login = ? AND repos.name = ?",
            (owner_login, name),
        )

    def update_repo(self, repo_id: int, **fields: Any) -> Row:
        self._update("repos", repo_id, {**fields, "updated": now()})
        return self.repo(repo_id)

    def delete_repo(self, repo_id: int) -> None:
        self.db.execute("DELETE FROM repos WHERE id = ?", (repo_id,))

    def _update(self, table: str, row_id: int, fields: dict[str, Any]) -> None:
        if not fields:
            return
        cols = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE {table} SET {cols} WHERE id = ?", (*fields.values(), row_id))

    def open_counts(self, repo_id: int) -> tuple[int, int]:
        """(open issues, open pull requests) of a repository."""
        row = self._one(
            "SELECT SUM(is_pull = 0), SUM(is_pull = 1) FROM issues "
            "WHERE repo_id = ? AND state = 'open'",
            (repo_id,),
        )
        assert row is not None
        return int(row[0] or 0), int(row[1] or 0)

    # --- issues (pull requests are issues too, sharing one number sequence) -------------------

    def create_issue(
        self,
        repo_id: int,
        user_id: int,
        title: str,
        body: str,
        *,
        is_pull: bool,
        ref: str = "",
        closed: bool = False,
    ) -> Row:
        stamp = now()
        # Read-then-insert is safe: one connection, used only from the event loop thread.
        row = self._one("SELECT MAX(number) FROM issues WHERE repo_id = ?", (repo_id,))
        number = int(row[0] or 0) + 1 if row else 1
        iid = self._insert(
            "INSERT INTO issues (repo_id, number, user_id, title, body, ref, state, is_pull,"
            " created, updated, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                repo_id,
                number,
                user_id,
                title,
                body,
                ref,
                "closed" if closed else "open",
                int(is_pull),
                stamp,
                stamp,
                stamp if closed else None,
            ),
        )
        return self.issue(iid)

    def issue(self, issue_id: int) -> Row:
        row = self._one("SELECT * FROM issues WHERE id = ?", (issue_id,))
        assert row is not None
        return row

    def issue_by_number(self, repo_id: int, number: int) -> Row | None:
        sql = "SELECT * FROM issues WHERE repo_id = ? AND number = ?"
        return self._one(sql, (repo_id, number))

    def issues(
        self, repo_id: int, *, state: str, is_pull: bool | None, label_names: Sequence[str] = ()
    ) -> list[Row]:
        sql = "SELECT * FROM issues WHERE repo_id = ?"
        args: list[Any] = [repo_id]
        if state != "all":
            sql += " AND state = ?"
            args.append(state)
        if is_pull is not None:
            sql += " AND is_pull = ?"
            args.append(int(is_pull))
        # Gitea resolves the names to label ids (duplicates too; unknown names are dropped)
        # and keeps the issues that carry every one of them.
        for label in self.labels_by_names(repo_id, label_names):
            sql += " AND id IN (SELECT issue_id FROM issue_labels WHERE label_id = ?)"
            args.append(label["id"])
        return self._all(sql + " ORDER BY number DESC", args)

    def update_issue(self, issue_id: int, **fields: Any) -> Row:
        if "state" in fields:
            current = self.issue(issue_id)
            if fields["state"] != current["state"]:
                fields["closed_at"] = now() if fields["state"] == "closed" else None
        self._update("issues", issue_id, {**fields, "updated": now()})
        return self.issue(issue_id)

    def touch_issue(self, issue_id: int) -> None:
        self._update("issues", issue_id, {"updated": now()})

    # --- comments -----------------------------------------------------------------------------

    def create_comment(self, issue_id: int, user_id: int, body: str) -> Row:
        stamp = now()
        cid = self._insert(
            "INSERT INTO comments (issue_id, user_id, body, created, updated) "
            "VALUES (?, ?, ?, ?, ?)",
            (issue_id, user_id, body, stamp, stamp),
        )
        self.touch_issue(issue_id)
        return self.comment(cid)

    def comment(self, comment_id: int) -> Row:
        row = self._one("SELECT * FROM comments WHERE id = ?", (comment_id,))
        assert row is not None
        return row

    def comment_in_repo(self, repo_id: int, comment_id: int) -> Row | None:
        return self._one(
            "SELECT comments.* FROM comments JOIN issues ON issues.id = comments.issue_id "
            "WHERE issues.repo_id = ? AND comments.id = ?",
            (repo_id, comment_id),
        )

    def comments(self, issue_id: int) -> list[Row]:
        return self._all("SELECT * FROM comments WHERE issue_id = ? ORDER BY id", (issue_id,))

    def comment_count(self, issue_id: int) -> int:
        row = self._one("SELECT COUNT(*) FROM comments WHERE issue_id = ?", (issue_id,))
        return int(row[0]) if row else 0

    def update_comment(self, comment_id: int, body: str) -> Row:
        self._update("comments", comment_id, {"body": body, "updated": now()})
        return self.comment(comment_id)

    def delete_comment(self, comment_id: int) -> None:
        self.db.execute("DELETE FROM comments WHERE id = ?", (comment_id,))

    # --- pull requests ------------------------------------------------------------------------

    def create_pull(
        self, issue_id: int, head: str, base: str, merge_base: str, head_sha: str
    ) -> Row:
        self._insert(
            "INSERT INTO pulls (issue_id, head_branch, base_branch, merge_base, head_sha) "
            "VALUES (?, ?, ?, ?, ?)",
            (issue_id, head, base, merge_base, head_sha),
        )
        return self.pull(issue_id)

    def pull(self, issue_id: int) -> Row:
        row = self._one("SELECT * FROM pulls WHERE issue_id = ?", (issue_id,))
        assert row is not None
        return row

    def open_pull_for(self, repo_id: int, head: str, base: str) -> Row | None:
        return self._one(
            "SELECT pulls.* FROM pulls JOIN issues ON issues.id = pulls.issue_id "
            "WHERE issues.repo_id = ? AND pulls.head_branch = ? AND pulls.base_branch = ? "
            "AND issues.state = 'open' AND pulls.merged = 0",
            (repo_id, head, base),
        )

    def update_pull(self, pull_id: int, **fields: Any) -> None:
        self._update("pulls", pull_id, fields)

    # --- commit statuses ----------------------------------------------------------------------

    def create_status(
        self,
        repo_id: int,
        sha: str,
        state: str,
        context: str,
        description: str,
        target_url: str,
        creator_id: int,
    ) -> Row:
        row = self._one(
            "SELECT MAX(idx) FROM statuses WHERE repo_id = ? AND sha = ?", (repo_id, sha)
        )
        idx = int(row[0] or 0) + 1 if row else 1
        sid = self._insert(
            "INSERT INTO statuses (repo_id, sha, idx, state, context, description, "
            "target_url, creator_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (repo_id, sha, idx, state, context, description, target_url, creator_id, now()),
        )
        status = self._one("SELECT * FROM statuses WHERE id = ?", (sid,))
        assert status is not None
        return status

    def statuses(self, repo_id: int, sha: str) -> list[Row]:
        sql = "SELECT * FROM statuses WHERE repo_id = ? AND sha = ? ORDER BY id DESC"
        return self._all(sql, (repo_id, sha))
