"""The label half of the Gitea client: repository labels and the labels of one issue.

Gitea does not keep label names unique: two runs that both list, see no ``autopilot-pr-open``
and create it leave the repository with two labels of that name, and adding labels *by name*
then puts both on the issue. So every label write here is create-then-deduplicate:

1. list the repository's labels and create the wanted ones that are missing;
2. list again; for every wanted name held by more than one label, the lowest id survives. The
   issues carrying a higher one get the survivor, then the higher ones are deleted (Gitea takes
   a deleted label off every issue);
3. labels are put on issues by the survivor's id, never by name.

Ids only grow, so once a label of a name is visible no later one can have a lower id: every run
picks the same survivor, nobody ever puts a doomed duplicate on an issue, and concurrent runs
converge on one label per name whatever order their requests interleave in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from activities.forge import operations as ops
from activities.forge.errors import GiteaError
from activities.forge.gitea_models import Issue, Label
from activities.forge.pagination import Params
from activities.forge.session import ApiSession
from domain import names
from domain.forge import LabelSpec


class LabelApi(ApiSession):
    """Mixed into ``GiteaClient``."""

    async def list_labels(self, owner: str, repo: str) -> list[Label]:
        return await self._collect(ops.LIST_LABELS, Label, owner=owner, repo=repo)

    async def create_label(
        self, owner: str, repo: str, name: str, color: str, description: str = ""
    ) -> Label:
        """Create a label; Gitea creates a second one if the name is taken (see module doc)."""
        payload = {"name": name, "color": color.lstrip("#"), "description": description}
        return await self._one(ops.CREATE_LABEL, Label, json=payload, owner=owner, repo=repo)

    async def delete_label(self, owner: str, repo: str, label_id: int) -> None:
        """Delete a repository label; it leaves every issue too. Already gone is fine."""
        try:
            await self._send(ops.DELETE_LABEL, owner=owner, repo=repo, id=label_id)
        except GiteaError as exc:
            if exc.status != 404:
                raise

    async def ensure_labels(self, owner: str, repo: str, specs: Sequence[LabelSpec]) -> list[Label]:
        """Create the missing labels, then merge duplicates of their names (see module doc).

        Existing labels are left as they are. Returns the surviving label of each spec, in
        ``specs`` order.
        """
        wanted: dict[str, LabelSpec] = {}
        for spec in specs:
            wanted.setdefault(spec.name, spec)
        listed = await self.list_labels(owner, repo)
        present = {label.name for label in listed}
        created = [
            await self.create_label(owner, repo, spec.name, spec.color, spec.description)
            for spec in wanted.values()
            if spec.name not in present
        ]
        if created:
            # Our own labels count even if the listing lags; another run's lower id still wins.
            listed = [*await self.list_labels(owner, repo), *created]
        survivors = await self.merge_duplicates(owner, repo, listed, wanted)
        missing = sorted(set(wanted) - set(survivors))
        if missing:
            raise GiteaError(
                f"labels {missing} of {owner}/{repo} were deleted while being created",
                type=names.ERR_FORGE_UNAVAILABLE,
                non_retryable=False,
            )
        return [survivors[spec.name] for spec in specs]

    async def merge_duplicates(
        self, owner: str, repo: str, listed: Iterable[Label], label_names: Iterable[str]
    ) -> dict[str, Label]:
        """The surviving (lowest-id) label of each name; higher-id duplicates are merged into
        it: issues carrying one get the survivor, then the duplicate is deleted."""
        wanted = set(label_names)
        groups: dict[str, dict[int, Label]] = {}
        for label in listed:
            if label.name in wanted:
                groups.setdefault(label.name, {})[label.id] = label
        survivors = {name: group[min(group)] for name, group in groups.items()}
        doomed = {
            label_id: survivors[name].id
            for name, group in groups.items()
            for label_id in sorted(group)[1:]
        }
        if doomed:
            await self._move_issues(owner, repo, doomed)
            for label_id in sorted(doomed):
                await self.delete_label(owner, repo, label_id)
        return survivors

    async def _move_issues(self, owner: str, repo: str, doomed: dict[int, int]) -> None:
        """Give every issue and PR carrying a doomed label that label's survivor.

        All issues are read: with duplicates, Gitea's ``labels=`` filter matches only issues
        carrying every label of the name, so it cannot find them.
        """
        params: Params = {"state": "all"}  # no type filter: pull requests carry labels too
        issues = await self._collect(ops.LIST_ISSUES, Issue, params=params, owner=owner, repo=repo)
        for issue in issues:
            carried = {label.id for label in issue.labels}
            add = {doomed[i] for i in carried & doomed.keys()} - carried
            if add:
                await self.add_issue_labels(owner, repo, issue.number, sorted(add))

    async def list_issue_labels(self, owner: str, repo: str, index: int) -> list[Label]:
        return await self._many(ops.LIST_ISSUE_LABELS, Label, owner=owner, repo=repo, index=index)

    async def add_issue_labels(
        self, owner: str, repo: str, index: int, label_ids: Sequence[int]
    ) -> list[Label]:
        """Add labels by id; returns all of the issue's labels after the change."""
        op = ops.ADD_ISSUE_LABELS
        body = {"labels": list(label_ids)}
        response = await self._send(op, json=body, owner=owner, repo=repo, index=index)
        return self._parse_list(op, Label, self._get_json(op, response))

    async def add_labels_by_name(
        self, owner: str, repo: str, index: int, label_names: Sequence[str]
    ) -> list[Label]:
        """Add labels to an issue by name: ensured first (created, deduplicated), then added by
        the survivor's id so the issue never carries one name twice.

        Gitea silently drops ids it cannot resolve, so the result is checked. Returns all of
        the issue's labels after the change.
        """
        wanted = list(dict.fromkeys(label_names))
        if not wanted:
            return await self.list_issue_labels(owner, repo, index)
        labels = await self.ensure_labels(owner, repo, [LabelSpec(name=name) for name in wanted])
        current = await self.add_issue_labels(owner, repo, index, [label.id for label in labels])
        missing = {label.id for label in labels} - {label.id for label in current}
        if missing:
            # Deleted between ensuring and adding (by a person): a retry creates it again.
            lost = sorted(label.name for label in labels if label.id in missing)
            raise GiteaError(
                f"Gitea ignored labels {lost} on {owner}/{repo}#{index}: "
                "they were deleted from the repository meanwhile",
                type=names.ERR_FORGE_UNAVAILABLE,
                non_retryable=False,
            )
        return current

    async def remove_label(self, owner: str, repo: str, index: int, name: str) -> None:
        """Remove every label of this name from an issue; a no-op when it carries none."""
        for label in await self.list_issue_labels(owner, repo, index):
            if label.name != name:
                continue
            try:
                await self._send(
                    ops.REMOVE_ISSUE_LABEL, owner=owner, repo=repo, index=index, id=label.id
                )
            except GiteaError as exc:
                # Removed (or the label deleted) since we listed: the goal is already met.
                if exc.status not in (404, 422):
                    raise
