"""The label half of the forge's store, and the query helpers every table shares.

Like Gitea (``models/issues/label.go``), label names are not unique within a repository:
creating a label whose name exists makes a second one. Deleting a label takes it off every
issue, and deleting an unknown label is not an error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

Row = sqlite3.Row


class Tables:
    """The connection and the small query helpers; ``Store`` opens the connection."""

    db: sqlite3.Connection

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self.db.execute(sql, args).fetchone()
        return row

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return list(self.db.execute(sql, args).fetchall())

    def _insert(self, sql: str, args: Sequence[Any]) -> int:
        cur = self.db.execute(sql, args)
        assert cur.lastrowid is not None
        return cur.lastrowid


class LabelTables(Tables):
    def create_label(
        self,
        repo_id: int,
        name: str,
        color: str,
        description: str,
        exclusive: bool,
        is_archived: bool,
    ) -> Row:
        lid = self._insert(
            "INSERT INTO labels (repo_id, name, color, description, exclusive, is_archived) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (repo_id, name, color, description, int(exclusive), int(is_archived)),
        )
        row = self._one("SELECT * FROM labels WHERE id = ?", (lid,))
        assert row is not None
        return row

    def delete_label(self, repo_id: int, label_id: int) -> None:
        """Delete a repository's label (issue links cascade); unknown ids are ignored."""
        self.db.execute("DELETE FROM labels WHERE repo_id = ? AND id = ?", (repo_id, label_id))

    def labels(self, repo_id: int) -> list[Row]:
        return self._all("SELECT * FROM labels WHERE repo_id = ? ORDER BY name, id", (repo_id,))

    def labels_by_ids(self, repo_id: int, ids: Iterable[int]) -> list[Row]:
        wanted = set(ids)
        return [row for row in self.labels(repo_id) if row["id"] in wanted]

    def labels_by_names(self, repo_id: int, names: Iterable[str]) -> list[Row]:
        """Every label with one of these names: duplicates included, as Gitea resolves names."""
        wanted = set(names)
        return [row for row in self.labels(repo_id) if row["name"] in wanted]

    def issue_labels(self, issue_id: int) -> list[Row]:
        return self._all(
            "SELECT labels.* FROM issue_labels JOIN labels ON labels.id = issue_labels.label_id "
            "WHERE issue_labels.issue_id = ? ORDER BY labels.name, labels.id",
            (issue_id,),
        )

    def add_issue_labels(self, issue_id: int, label_ids: Iterable[int]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO issue_labels (issue_id, label_id) VALUES (?, ?)",
            [(issue_id, lid) for lid in label_ids],
        )

    def clear_issue_labels(self, issue_id: int) -> None:
        self.db.execute("DELETE FROM issue_labels WHERE issue_id = ?", (issue_id,))

    def remove_issue_label(self, issue_id: int, label_id: int) -> None:
        self.db.execute(
            "DELETE FROM issue_labels WHERE issue_id = ? AND label_id = ?", (issue_id, label_id)
        )
